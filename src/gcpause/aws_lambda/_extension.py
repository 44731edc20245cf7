"""Post-response collection: an internal Lambda extension (a thread of the function's own
process) registered for INVOKE events.

Protocol (Lambda Extensions API, served on ``AWS_LAMBDA_RUNTIME_API``):
``POST /2020-01-01/extension/register`` with ``Lambda-Extension-Name`` and
``{"events": ["INVOKE"]}`` answers a ``Lambda-Extension-Identifier``; each
``GET /2020-01-01/extension/event/next`` with that header blocks until the next invocation
starts and returns ``{"eventType": "INVOKE", "requestId", "deadlineMs", ...}``.  Lambda
freezes the environment only when the runtime *and* every extension wait in ``next``, so
work done between an INVOKE event and the following ``next`` call runs after the response
has gone out, without the caller waiting for it (it is still billed).

Invariants:
- Registration happens synchronously when the decorator is applied (INIT), before the
  runtime's first ``/next``, as the API requires; a failure is raised there.
- The thread collects only what the decorator handed it (``submit``), after the handler of
  that request has returned, and after the runtime called ``wait_next_invocation`` when
  that (private, feature-detected) awslambdaric method could be wrapped: the response POST
  is then complete.  Without the wrap it relies on awslambdaric holding the GIL while it
  posts (lambda-and-wheels.md §8).
- ``busy`` is held while collecting, so a following invocation (which Lambda does not
  start before this thread's ``next``) can wait for it outside Lambda too.
- Any failure of the event loop ends the thread with one line on stderr; the decorator then
  collects inline again.  The thread is a daemon: it never delays process exit.
"""

from __future__ import annotations

import http.client
import json
import queue
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from .._recording import Pause

EXTENSION_NAME = "gcpause"
REGISTER_PATH = "/2020-01-01/extension/register"
NEXT_PATH = "/2020-01-01/extension/event/next"
REGISTER_TIMEOUT_S = 5.0
#: Longest wait for the runtime's next ``wait_next_invocation`` call after the handler
#: returned (the response POST), when that call is hooked.
POSTED_TIMEOUT_S = 2.0
#: Wait for the decorator's job when the INVOKE event carries no usable deadline.
DEFAULT_JOB_TIMEOUT_S = 900.0


class Extension:
    """One registered internal extension and its event thread."""

    def __init__(self, api: str, collect: Callable[[], Pause],
                 done: Callable[[str | None, Pause], None], name: str = EXTENSION_NAME) -> None:
        self.api = api
        self.name = name
        self._collect = collect
        self._done = done
        self._jobs: queue.Queue[tuple[str | None, bool]] = queue.Queue()
        self.busy = threading.Lock()
        self.posted = threading.Event()
        self.hooked = False
        self.events = 0  # INVOKE events seen
        self.collections = 0
        self.identifier = self._register()
        self.alive = True
        self._thread = threading.Thread(target=self._loop, name="gcpause-lambda-extension",
                                        daemon=True)
        self._thread.start()

    # -- HTTP ------------------------------------------------------------------------------

    def _register(self) -> str:
        body = json.dumps({"events": ["INVOKE"]}).encode()
        conn = http.client.HTTPConnection(self.api, timeout=REGISTER_TIMEOUT_S)
        try:
            conn.request("POST", REGISTER_PATH, body,
                         {"Lambda-Extension-Name": self.name,
                          "Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            ident = resp.getheader("Lambda-Extension-Identifier")
        except OSError as exc:
            raise RuntimeError(f"gcpause.aws_lambda: post_response=True but the Lambda "
                               f"Extensions API at {self.api} is unreachable: {exc}") from None
        finally:
            conn.close()
        if resp.status != 200 or not ident:
            raise RuntimeError(
                f"gcpause.aws_lambda: extension registration failed: HTTP {resp.status}, "
                f"Lambda-Extension-Identifier={ident!r}, body={data[:200]!r}")
        return ident

    def _next_event(self, conn: http.client.HTTPConnection) -> dict[str, Any]:
        conn.request("GET", NEXT_PATH, headers={"Lambda-Extension-Identifier": self.identifier})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"event/next answered HTTP {resp.status}: {data[:200]!r}")
        event = json.loads(data)
        if not isinstance(event, dict):
            raise RuntimeError(f"event/next answered a non-object: {data[:200]!r}")  # noqa: TRY004
        return event

    # -- the thread ------------------------------------------------------------------------

    def _loop(self) -> None:
        # No timeout on event/next: it blocks until the next invocation (the environment
        # is frozen in between); the process exiting ends the daemon thread.
        conn = http.client.HTTPConnection(self.api)
        try:
            while True:
                event = self._next_event(conn)
                kind = event.get("eventType")
                if kind == "SHUTDOWN":
                    return
                if kind != "INVOKE":
                    continue
                self.events += 1
                self._on_invoke(event)
        except BaseException as exc:  # noqa: BLE001 - report once, then fall back inline
            sys.stderr.write(f"gcpause.aws_lambda: extension thread stopped "
                             f"({type(exc).__name__}: {exc}); collecting inline from now on\n")
            sys.stderr.flush()
        finally:
            self.alive = False
            conn.close()

    def _on_invoke(self, event: dict[str, Any]) -> None:
        rid = event.get("requestId")
        deadline_ms = event.get("deadlineMs")
        if isinstance(deadline_ms, (int, float)) and not isinstance(deadline_ms, bool):
            limit = time.monotonic() + max(0.0, deadline_ms / 1e3 - time.time()) + 1.0
        else:
            limit = time.monotonic() + DEFAULT_JOB_TIMEOUT_S
        wanted = False
        last: str | None = None
        while True:  # jobs of earlier requests whose event we missed are merged in
            try:
                job_rid, collect = self._jobs.get(timeout=max(0.0, limit - time.monotonic()))
            except queue.Empty:
                return  # the invocation never reached the decorator (timeout, other handler)
            wanted = wanted or collect
            last = job_rid
            if job_rid == rid or rid is None:
                break
        if not wanted:
            return
        if self.hooked:
            self.posted.wait(POSTED_TIMEOUT_S)
        with self.busy:
            pause = self._collect()
            self.collections += 1
        self._done(last, pause)

    # -- called by the decorator -----------------------------------------------------------

    def submit(self, request_id: str | None, collect: bool) -> None:
        """The handler of ``request_id`` returned; collect after the response if asked."""
        self.posted.clear()
        self._jobs.put((request_id, collect))

    def wait_idle(self, timeout: float) -> None:
        """Wait (bounded) for a collection in progress to finish."""
        if self.busy.acquire(timeout=timeout):
            self.busy.release()


def hook_runtime_client(on_wait: Callable[[], None]) -> bool:
    """Call ``on_wait()`` whenever awslambdaric's runtime client asks for the next event
    (right after it posted a response or an error).  Private awslambdaric API: wrapped only
    if it is already imported and has the expected shape; returns whether it was."""
    mod = sys.modules.get("awslambdaric.lambda_runtime_client")
    cls = getattr(mod, "BaseLambdaRuntimeClient", None)
    original = getattr(cls, "wait_next_invocation", None)
    if cls is None or not callable(original):
        return False
    if getattr(original, "__gcpause_hook__", False):
        hooks: list[Callable[[], None]] = original.__gcpause_hooks__
        hooks.append(on_wait)
        return True
    hooks = [on_wait]

    def wait_next_invocation(self: Any, *args: Any, **kwargs: Any) -> Any:
        for hook in hooks:
            hook()
        return original(self, *args, **kwargs)

    wait_next_invocation.__gcpause_hook__ = True  # type: ignore[attr-defined]
    wait_next_invocation.__gcpause_hooks__ = hooks  # type: ignore[attr-defined]
    wait_next_invocation.__wrapped__ = original  # type: ignore[attr-defined]
    cls.wait_next_invocation = wait_next_invocation
    return True
