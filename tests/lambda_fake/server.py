"""A loopback fake of the Lambda Runtime API and Extensions API (stdlib only).

Wire protocol as awslambdaric 4.0.4/4.2.2 speaks it (lambda-and-wheels.md §5, §8):

- ``GET /2018-06-01/runtime/invocation/next``: the next event (200 with ``Content-Type``,
  ``Lambda-Runtime-Aws-Request-Id``, ``-Deadline-Ms``, ``-Invoked-Function-Arn``,
  ``-Trace-Id``); when none is left the connection is closed without a response, which makes
  the client exit 1 ("Failed to get next").
- ``POST .../invocation/{id}/response|error``, ``/runtime/init/error``,
  ``/runtime/restore/error``: recorded, answered 202.  ``GET /runtime/restore/next``: 200.
- Extensions: ``POST /2020-01-01/extension/register`` answers an identifier;
  ``GET /2020-01-01/extension/event/next`` blocks until the next invocation starts and
  returns its INVOKE event.  Like Lambda, the runtime's ``/next`` is answered only once
  every registered extension is waiting in ``event/next`` (bounded by ``ext_wait_s``), so an
  extension's post-response work finishes before the next invocation starts.

Every request is logged with ``time.monotonic_ns()`` at arrival (after the body was read):
CLOCK_MONOTONIC is system-wide on Linux, so the times compare with gcpause's
``Pause.start_ns`` taken in the client process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RUNTIME = "/2018-06-01/runtime"
EXTENSION = "/2020-01-01/extension"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:gcpause-test"


class Request:
    """One request the fake received."""

    def __init__(self, t_ns: int, method: str, path: str, headers: dict[str, str],
                 body: bytes) -> None:
        self.t_ns = t_ns
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} {self.body[:80]!r}>"


class FakeRuntime:
    """Serve ``events`` (JSON-able objects) to one runtime client, then close ``/next``."""

    def __init__(self, events: list[Any], ext_wait_s: float = 10.0,
                 deadline_s: float = 30.0) -> None:
        self.events = list(events)
        self.request_ids = [f"req-{i}-{uuid.uuid4().hex[:8]}" for i in range(len(events))]
        self.ext_wait_s = ext_wait_s
        self.deadline_s = deadline_s
        self.log: list[Request] = []
        self.errors: list[str] = []  # protocol violations seen by the fake
        self._cond = threading.Condition()
        self._next_index = 0
        self._extensions: dict[str, str] = {}  # identifier -> name
        self._waiting: dict[str, dict[str, Any] | None] = {}  # ident -> event or None
        self._stopping = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _read(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _record(self, body: bytes) -> Request:
                req = Request(time.monotonic_ns(), self.command, self.path,
                              {k.lower(): v for k, v in self.headers.items()}, body)
                with fake._cond:
                    fake.log.append(req)
                return req

            def _reply(self, code: int, body: bytes = b"", headers: dict[str, str] | None
                       = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._record(b"")
                if self.path == f"{RUNTIME}/invocation/next":
                    fake._runtime_next(self)
                elif self.path == f"{RUNTIME}/restore/next":
                    self._reply(200)
                elif self.path == f"{EXTENSION}/event/next":
                    fake._extension_next(self)
                else:
                    fake.errors.append(f"unexpected GET {self.path}")
                    self._reply(404, b"{}")

            def do_POST(self) -> None:
                req = self._record(self._read())
                if self.path == f"{EXTENSION}/register":
                    ident = uuid.uuid4().hex
                    with fake._cond:
                        fake._extensions[ident] = req.headers.get("lambda-extension-name", "")
                    self._reply(200, json.dumps({"functionName": "gcpause-test",
                                                 "functionVersion": "$LATEST",
                                                 "handler": "app.handler"}).encode(),
                                {"Lambda-Extension-Identifier": ident})
                elif self.path.startswith(RUNTIME):
                    self._reply(202, b"{}")
                else:
                    fake.errors.append(f"unexpected POST {self.path}")
                    self._reply(404, b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    # -- runtime and extension endpoints ----------------------------------------------------

    def _all_extensions_waiting(self) -> bool:
        return all(self._waiting.get(i, "x") is None for i in self._extensions)

    def _runtime_next(self, h: Any) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._all_extensions_waiting() or self._stopping,
                                       timeout=self.ext_wait_s):
                self.errors.append("extension did not call event/next in time")
            if self._next_index >= len(self.events):
                h.close_connection = True  # no response: the client exits 1
                return
            i = self._next_index
            self._next_index += 1
            rid = self.request_ids[i]
            deadline_ms = int((time.time() + self.deadline_s) * 1000)
            for ident in self._extensions:
                if ident in self._waiting:
                    self._waiting[ident] = {"eventType": "INVOKE", "deadlineMs": deadline_ms,
                                            "requestId": rid, "invokedFunctionArn": ARN,
                                            "tracing": {"type": "X-Amzn-Trace-Id",
                                                        "value": f"Root=1-{i:08x}"}}
            self._cond.notify_all()
        h._reply(200, json.dumps(self.events[i]).encode(), {
            "Lambda-Runtime-Aws-Request-Id": rid,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": ARN,
            "Lambda-Runtime-Trace-Id": f"Root=1-{i:08x};Sampled=0",
        })

    def _extension_next(self, h: Any) -> None:
        ident = h.headers.get("Lambda-Extension-Identifier", "")
        with self._cond:
            if ident not in self._extensions:
                self.errors.append(f"event/next with unknown identifier {ident!r}")
                h._reply(403, b'{"errorType": "Extension.InvalidExtensionId"}')
                return
            self._waiting[ident] = None
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._waiting.get(ident) is not None or self._stopping)
            event = self._waiting.pop(ident)
        if event is None:  # stopping: leave the client hanging up
            h.close_connection = True
            return
        h._reply(200, json.dumps(event).encode())

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeRuntime:  # noqa: PYI034
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    # -- views -----------------------------------------------------------------------------

    def requests(self, prefix: str, method: str | None = None) -> list[Request]:
        with self._cond:
            return [r for r in self.log if r.path.startswith(prefix)
                    and (method is None or r.method == method)]

    def responses(self) -> dict[str, Any]:
        """request id -> decoded JSON response body."""
        out = {}
        for r in self.requests(f"{RUNTIME}/invocation/", "POST"):
            if r.path.endswith("/response"):
                out[r.path.split("/")[-2]] = r.json()
        return out

    def invocation_errors(self) -> dict[str, Request]:
        return {r.path.split("/")[-2]: r
                for r in self.requests(f"{RUNTIME}/invocation/", "POST")
                if r.path.endswith("/error")}


def run_client(fake: FakeRuntime, handler: str, app_dir: str, src_dir: str,
               env: dict[str, str] | None = None,
               timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``python -m awslambdaric <handler>`` against ``fake``; bounded by ``timeout``.

    The child gets a clean GCPAUSE_*/AWS_* environment plus ``env``; ``app_dir`` is its
    working directory (on sys.path under -m) and ``src_dir`` is put on PYTHONPATH so the
    gcpause under test is imported.
    """
    child_env = {k: v for k, v in os.environ.items()
                 if not k.startswith(("GCPAUSE_", "AWS_", "_LAMBDA", "POWERTOOLS_"))}
    child_env["PYTHONPATH"] = os.pathsep.join(
        [src_dir] + ([child_env["PYTHONPATH"]] if child_env.get("PYTHONPATH") else []))
    child_env.update({
        "AWS_LAMBDA_RUNTIME_API": fake.address,
        "AWS_LAMBDA_FUNCTION_NAME": "gcpause-test",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/gcpause-test",
        "AWS_LAMBDA_LOG_STREAM_NAME": "test",
        "PYTHONUNBUFFERED": "1",
    })
    child_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "awslambdaric", handler], cwd=app_dir,
                          env=child_env, capture_output=True, text=True, timeout=timeout,
                          check=False)  # the client always exits 1 when /next closes


def emf_lines(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects of the client's stdout lines that carry an ``_aws`` member."""
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{") and '"_aws"' in line:
            out.append(json.loads(line))
    return out
