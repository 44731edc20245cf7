"""gcpause.aws_lambda in process: configuration, modes, end-of-invocation policies, EMF,
Powertools, INIT/SnapStart state, the extension thread against the fake Extensions API."""

from __future__ import annotations

import gc
import http.client
import io
import json
import sys
import time
import types
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import pytest

import gcpause
from gcpause import aws_lambda as al
from gcpause.control import THRESHOLD_MAX, FreezeResult, flavor
from tests.lambda_fake import emf
from tests.lambda_fake.server import EXTENSION, RUNTIME, FakeRuntime

# Importing gcpause.aws_lambda opened the INIT window (a recorder callable in gc.callbacks);
# close it at once, at collection time, so that no test of any module sees it.
with al._state.lock:
    al._state.close_init()


class Ctx:
    def __init__(self, request_id: str = "req-1") -> None:
        self.aws_request_id = request_id
        self.function_name = "fn"
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
        self.memory_limit_in_mb = 512


class Node:
    __slots__ = ("ref",)


@pytest.fixture(autouse=True)
def state(monkeypatch: pytest.MonkeyPatch) -> Iterator[al._State]:
    """A fresh per-process state (warm: INIT already reported) and a clean environment."""
    for var in ("GCPAUSE_MODE", "GCPAUSE_COLLECT", "GCPAUSE_BUDGET", "GCPAUSE_AUTO_OBJECTS",
                "GCPAUSE_REPORT", "GCPAUSE_NAMESPACE", "GCPAUSE_DIMENSIONS",
                "GCPAUSE_RESOLUTION", "GCPAUSE_POST_RESPONSE", "GCPAUSE_SNAPSTART_HOOKS",
                "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_RUNTIME_API",
                "AWS_LAMBDA_INITIALIZATION_TYPE"):
        monkeypatch.delenv(var, raising=False)
    fresh = al._State()
    fresh.cold = False
    monkeypatch.setattr(al, "_state", fresh)
    yield fresh
    if fresh.init_rec is not None:
        fresh.close_init()


def run(h: Any, event: Any = None, ctx: Any = None) -> tuple[Any, list[dict[str, Any]]]:
    out = io.StringIO()
    with redirect_stdout(out):
        result = h({} if event is None else event, ctx or Ctx())
    lines = [json.loads(x) for x in out.getvalue().splitlines() if x.startswith("{")]
    return result, lines


# -- configuration ---------------------------------------------------------------------------

def test_defaults() -> None:
    c = al.Config(env={})
    assert (c.mode, c.collect, c.report, c.namespace, c.dimensions, c.resolution,
            c.post_response, c.auto_objects, c.budget) == (
        "paused", "auto", "emf", "GcPause", (), 60, False, al.DEFAULT_AUTO_OBJECTS,
        al.DEFAULT_BUDGET)


def test_environment_configures_and_arguments_win() -> None:
    env = {"GCPAUSE_MODE": "budget", "GCPAUSE_COLLECT": "always", "GCPAUSE_BUDGET": "5_000",
           "GCPAUSE_AUTO_OBJECTS": "123", "GCPAUSE_REPORT": "none",
           "GCPAUSE_NAMESPACE": "Shop", "GCPAUSE_DIMENSIONS": "service=orders, stage=prod",
           "GCPAUSE_RESOLUTION": "1", "GCPAUSE_POST_RESPONSE": "true",
           "AWS_LAMBDA_FUNCTION_NAME": "fn"}
    c = al.Config(env=env)
    assert (c.mode, c.collect, c.budget, c.auto_objects, c.report, c.namespace,
            c.dimensions, c.resolution, c.post_response) == (
        "budget", "always", 5000, 123, "none", "Shop",
        (("service", "orders"), ("stage", "prod")), 1, True)
    c = al.Config(mode="off", collect="never", namespace="X", dimensions={}, env=env)
    assert (c.mode, c.collect, c.namespace, c.dimensions) == ("off", "never", "X", ())


def test_function_name_is_the_default_dimension() -> None:
    assert al.Config(env={"AWS_LAMBDA_FUNCTION_NAME": "fn"}).dimensions == (
        ("function_name", "fn"),)


@pytest.mark.parametrize("var, value, message", [
    ("GCPAUSE_MODE", "fast", "GCPAUSE_MODE='fast' is not one of"),
    ("GCPAUSE_COLLECT", "sometimes", "GCPAUSE_COLLECT='sometimes' is not one of"),
    ("GCPAUSE_BUDGET", "lots", "GCPAUSE_BUDGET='lots' is not an integer"),
    ("GCPAUSE_BUDGET", "0", "GCPAUSE_BUDGET='0' must be between"),
    ("GCPAUSE_AUTO_OBJECTS", "-5", "GCPAUSE_AUTO_OBJECTS='-5' must be between"),
    ("GCPAUSE_REPORT", "xml", "GCPAUSE_REPORT='xml' is not one of"),
    ("GCPAUSE_REPORT", "powertools", "report='powertools' needs metrics="),
    ("GCPAUSE_NAMESPACE", "AWS/Lambda", "must not start with 'AWS/'"),
    ("GCPAUSE_NAMESPACE", "x" * 256, "GCPAUSE_NAMESPACE must be 1 to 255"),
    ("GCPAUSE_DIMENSIONS", "service", "GCPAUSE_DIMENSIONS: 'service' is not name=value"),
    ("GCPAUSE_DIMENSIONS", "a=1,a=2", "dimension 'a' given twice"),
    ("GCPAUSE_DIMENSIONS", ",".join(f"d{i}=v" for i in range(31)), "at most 30"),
    ("GCPAUSE_DIMENSIONS", "service=", "value must be 1 to 255"),
    ("GCPAUSE_RESOLUTION", "30", "must be 1 (high resolution) or 60"),
    ("GCPAUSE_POST_RESPONSE", "maybe", "GCPAUSE_POST_RESPONSE='maybe' is not a boolean"),
])
def test_invalid_environment_fails_when_decorating(monkeypatch: pytest.MonkeyPatch, var: str,
                                                   value: str, message: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        @al.handler
        def h(event: Any, context: Any) -> None:
            pass


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"mode": "fast"}, ValueError, "mode must be one of"),
    ({"mode": 1}, TypeError, "mode must be a str"),
    ({"collect": "maybe"}, ValueError, "collect must be one of"),
    ({"budget": 0}, ValueError, "budget must be between"),
    ({"budget": True}, TypeError, "budget must be an int"),
    ({"auto_objects": 1.5}, TypeError, "auto_objects must be an int"),
    ({"report": "powertools"}, ValueError, "needs metrics="),
    ({"metrics": object()}, TypeError, "metrics must be an aws_lambda_powertools"),
    ({"namespace": ""}, ValueError, "namespace must be 1 to 255"),
    ({"dimensions": ["a"]}, TypeError, "dimensions must be a mapping"),
    ({"dimensions": {"a": 1}}, TypeError, "value must be a str"),
    ({"dimensions": {"GcPauseMax": "x"}}, ValueError, "clashes with a gcpause metric"),
    ({"dimensions": {"requestId": "x"}}, ValueError, "clashes"),
    ({"resolution": 5}, ValueError, "resolution must be 1"),
    ({"post_response": 1}, TypeError, "post_response must be a bool"),
])
def test_invalid_arguments_fail_when_decorating(kwargs: dict[str, Any], exc: type,
                                                message: str) -> None:
    with pytest.raises(exc, match=message):
        al.handler(**kwargs)


def test_decorator_forms() -> None:
    def h(event: Any, context: Any) -> str:
        """doc"""
        return "ok"

    bare = al.handler(h)
    called = al.handler()(h)
    assert bare.__name__ == called.__name__ == "h" and bare.__doc__ == "doc"
    assert bare.gcpause_config.mode == "paused"  # type: ignore[attr-defined]
    assert run(bare)[0] == run(called)[0] == "ok"
    with pytest.raises(TypeError, match="keyword arguments only"):
        al.handler("paused")  # type: ignore[call-overload]

    async def coro(event: Any, context: Any) -> None:
        pass

    with pytest.raises(TypeError, match="plain function"):
        al.handler(coro)


# -- modes and GC state ------------------------------------------------------------------------

def _observe(mode: str, **kw: Any) -> tuple[bool, tuple[int, ...]]:
    seen: list[Any] = []

    @al.handler(mode=mode, collect="never", report="none", **kw)
    def h(event: Any, context: Any) -> None:
        seen.append((gc.isenabled(), gc.get_threshold()))

    run(h)
    return seen[0]


def test_paused_mode_blocks_automatic_collection() -> None:
    assert _observe("paused") == (False, (THRESHOLD_MAX,) * 3)


def test_young_only_mode_keeps_young_collections_only() -> None:
    enabled, thresholds = _observe("young_only")
    assert enabled
    if flavor() == "generational":
        assert thresholds[1:] == (THRESHOLD_MAX, THRESHOLD_MAX)
        assert 0 < thresholds[0] < THRESHOLD_MAX


def test_budget_mode_reports_whether_the_budget_was_exceeded() -> None:
    keep: list[Node] = []

    @al.handler(mode="budget", budget=1000, collect="never")
    def h(event: Any, context: Any) -> None:
        assert gc.isenabled()
        with gcpause.paused():  # no collection: the budget check is on the count alone
            keep.extend(Node() for _ in range(event["n"]))

    gc.collect()
    _, (small,) = run(h, {"n": 10})
    keep.clear()
    gc.collect()
    _, (large,) = run(h, {"n": 5000})
    keep.clear()
    assert emf.values(small)["GcBudgetExceeded"] == 0
    if flavor() != "free-threaded":  # per-thread allocation counts there
        assert emf.values(large)["GcBudgetExceeded"] == 1


def test_off_mode_leaves_the_state_alone() -> None:
    assert _observe("off") == (gc.isenabled(), gc.get_threshold())


def test_exception_propagates_unchanged_and_state_is_restored() -> None:
    before = (gc.isenabled(), gc.get_threshold())
    boom = KeyError("boom")

    @al.handler(mode="paused", collect="always")
    def h(event: Any, context: Any) -> None:
        raise boom

    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(KeyError) as info:
        h({}, Ctx("req-err"))
    assert info.value is boom
    assert (gc.isenabled(), gc.get_threshold()) == before
    (line,) = [json.loads(x) for x in out.getvalue().splitlines()]
    emf.validate(line)
    assert line["error"] is True and line["requestId"] == "req-err"
    assert emf.values(line)["GcEndCollections"] == 1
    assert al.last_invocation() is not None and al.last_invocation().error  # type: ignore


# -- figures and EMF ---------------------------------------------------------------------------

def test_emf_line_is_valid_and_matches_the_recorder() -> None:
    @al.handler(mode="paused", collect="never", namespace="Test",
                dimensions={"service": "orders", "stage": "dev"})
    def h(event: Any, context: Any) -> dict[str, Any]:
        with gcpause.Recorder() as rec:
            docs = [json.loads(json.dumps({"i": i, "v": [i, {"x": i}]})) for i in range(500)]
            gc.collect(0)
            gc.collect(0)
            gc.collect(1)
            gc.collect(2)
        return {"n": len(docs), "stats": rec.stats}

    result, (line,) = run(h, ctx=Ctx("req-42"))
    (directive,) = emf.validate(line)
    assert directive["Namespace"] == "Test"
    assert directive["Dimensions"] == [["service", "stage"]]
    assert (line["service"], line["stage"]) == ("orders", "dev")
    assert line["requestId"] == "req-42"
    assert all("StorageResolution" not in m for m in directive["Metrics"])
    v = emf.values(line)
    st = result["stats"]
    for g in range(3):
        assert v[f"GcCollectionsGen{g}"] == st.generations[g].count == (2, 1, 1)[g]
        assert v[f"GcPauseTotalGen{g}"] == st.generations[g].total_ns / 1e3
        assert v[f"GcPauseMaxGen{g}"] == st.generations[g].max_ns / 1e3
    assert v["GcCollections"] == 4
    assert v["GcPauseTotal"] == st.total_ns / 1e3
    assert v["GcPauseMax"] == st.max_ns / 1e3
    assert v["GcEndCollections"] == 0 and v["GcEndPause"] == 0
    assert v["GcColdStart"] == 0 and "GcInitCollections" not in v
    for name, unit in ((m["Name"], m["Unit"]) for m in directive["Metrics"]):
        assert unit == ("Microseconds" if "Pause" in name else "Count")
    inv = al.last_invocation()
    assert inv is not None and inv.window.collections == (2, 1, 1)


def test_high_resolution_and_no_dimensions() -> None:
    @al.handler(resolution=1, collect="never")
    def h(event: Any, context: Any) -> None:
        pass

    _, (line,) = run(h)
    (directive,) = emf.validate(line)
    assert directive["Dimensions"] == [[]]
    assert all(m["StorageResolution"] == 1 for m in directive["Metrics"])


def test_report_none_prints_nothing() -> None:
    @al.handler(report="none", collect="always")
    def h(event: Any, context: Any) -> int:
        return 7

    assert run(h) == (7, [])
    inv = al.last_invocation()
    assert inv is not None and inv.end is not None and inv.end.generation == 2


def test_emf_line_stays_within_limits() -> None:
    inv = al.Invocation("r", True, False, "budget", "auto", al.Window(), 0,
                        gcpause.collect(0), "r", False, True,
                        al.Init(al.Window(), None, "on-demand"))
    config = al.Config(env={}, dimensions={f"d{i}": "v" for i in range(30)})
    line = json.loads(al.emf_line(inv, config))
    (directive,) = emf.validate(line)
    assert len(directive["Metrics"]) == len(al.METRICS) - 2  # no freeze figures
    assert len(directive["Dimensions"][0]) == 30
    assert len(al.METRICS) <= 100


# -- end-of-invocation collection --------------------------------------------------------------

def test_auto_measure_sums_net_allocations_across_invocations() -> None:
    if flavor() != "generational":
        pytest.skip(f"gc.get_count() semantics differ on the {flavor()} collector")
    keep: list[Node] = []

    @al.handler(mode="paused", collect="auto", auto_objects=10**9, report="none")
    def h(event: Any, context: Any) -> None:
        # __slots__ objects: no free list, exactly one count each
        keep.extend(Node() for _ in range(event["n"]))

    gc.collect()
    run(h, {"n": 3000})
    first = al.last_invocation()
    gc.collect(0)  # a young collection between invocations promotes them: still pending
    run(h, {"n": 2000})
    second = al.last_invocation()
    gc.collect()  # any full collection starts the sum again
    run(h, {"n": 100})
    third = al.last_invocation()
    keep.clear()
    assert first is not None and second is not None and third is not None
    # (slack: the pure-Python recorder's own bookkeeping allocates a few hundred)
    assert 3000 <= first.pending_objects <= 3000 + 1000
    assert 5000 <= second.pending_objects <= 5000 + 2000
    assert 100 <= third.pending_objects <= 100 + 1000
    assert first.end is second.end is third.end is None


def test_auto_measure_is_not_inflated_by_the_scope_thresholds() -> None:
    @al.handler(mode="paused", collect="never", report="none")
    def h(event: Any, context: Any) -> None:
        gc.collect(0)  # a young collection inside: counts threshold0 (700/2000), not 2**31-1

    gc.collect()
    run(h)
    inv = al.last_invocation()
    assert inv is not None and 0 <= inv.pending_objects <= gc.get_threshold()[0] + 1000


def test_collect_auto_collects_only_past_the_threshold() -> None:
    keep: list[Node] = []

    def make(auto_objects: int) -> Any:
        @al.handler(mode="paused", collect="auto", auto_objects=auto_objects, report="none")
        def h(event: Any, context: Any) -> None:
            keep.extend(Node() for _ in range(event["n"]))
        return h

    gc.collect()
    run(make(10**9), {"n": 5000})
    low = al.last_invocation()
    run(make(1000), {"n": 5000})
    high = al.last_invocation()
    keep.clear()
    assert low is not None and high is not None
    assert low.end is None and low.pending_objects >= 5000
    assert high.end is not None and high.end.generation == 2
    assert high.pending_objects >= 9000
    # the collection reset the counts: a small invocation next does not collect
    run(make(1000), {"n": 10})
    small = al.last_invocation()
    assert small is not None and small.end is None and small.pending_objects < 1000


def test_collect_always_and_never() -> None:
    for policy, expected in (("always", 1), ("never", 0)):
        @al.handler(collect=policy)
        def h(event: Any, context: Any) -> None:
            pass

        _, (line,) = run(h)
        assert emf.values(line)["GcEndCollections"] == expected
        assert line["gcEnd"] == ("inline" if expected else "none")


# -- Powertools --------------------------------------------------------------------------------

def test_metrics_land_in_powertools_output(monkeypatch: pytest.MonkeyPatch) -> None:
    powertools = pytest.importorskip("aws_lambda_powertools")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    metrics = powertools.Metrics(namespace="PtNamespace", service="checkout")
    metrics.clear_metrics()

    @metrics.log_metrics
    @al.handler(metrics=metrics, collect="always")
    def h(event: Any, context: Any) -> str:
        metrics.add_metric(name="Orders", unit="Count", value=1)
        gc.collect(0)
        return "done"

    try:
        result, lines = run(h, ctx=Ctx("req-pt"))
    finally:
        metrics.clear_metrics()
    assert result == "done"
    (line,) = [x for x in lines if "GcPauseTotal" in x]
    (directive,) = emf.validate(line)
    assert directive["Namespace"] == "PtNamespace"
    assert ["service"] in directive["Dimensions"] and line["service"] == "checkout"
    v = {k: x[0] if isinstance(x, list) and len(x) == 1 else x
         for k, x in emf.values(line).items()}  # Powertools writes [value]
    assert v["Orders"] == 1  # the user's own metric, same line
    assert v["GcCollectionsGen0"] == 1 and v["GcEndCollections"] == 1
    assert set(al.METRICS) - {(m["Name"], m["Unit"]) for m in directive["Metrics"]} == {
        ("GcBudgetExceeded", "Count"), ("GcInitCollections", "Count"),
        ("GcInitPauseTotal", "Microseconds"), ("GcInitPauseMax", "Microseconds"),
        ("GcInitFreezePause", "Microseconds"), ("GcInitFrozenObjects", "Count")}
    assert line["requestId"] == "req-pt"


def test_reporting_failure_does_not_fail_the_invocation(
        capsys: pytest.CaptureFixture[str]) -> None:
    class Broken:
        def add_metric(self, **kw: Any) -> None:
            raise RuntimeError("metrics backend down")

    @al.handler(metrics=Broken())
    def h(event: Any, context: Any) -> int:
        return 1

    assert h({}, Ctx()) == 1
    assert "could not report metrics: RuntimeError: metrics backend down" in (
        capsys.readouterr().err)


# -- INIT, cold start, SnapStart ----------------------------------------------------------------

def test_first_invocation_reports_cold_start_and_init(state: al._State,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_freeze() -> FreezeResult:  # gc.freeze() would change the freeze count for good
        pause = gcpause.collect(2)
        return FreezeResult(1234, pause.duration_ns, pause, gc.get_freeze_count())

    monkeypatch.setattr(al, "_freeze", fake_freeze)
    with gcpause.paused():  # no automatic collection: the INIT count is exact
        state.cold = True
        state.open_init()
        gc.collect(1)
        gc.collect(0)
        result = al.init_done()
        gc.collect(0)  # after init_done: not INIT any more

        @al.handler(collect="never")
        def h(event: Any, context: Any) -> None:
            pass

        _, (first,) = run(h)
        _, (second,) = run(h)
    assert isinstance(result, FreezeResult)
    emf.validate(first)
    v = emf.values(first)
    assert v["GcColdStart"] == 1 and first["initType"] == "on-demand"
    assert v["GcInitCollections"] == 2
    assert v["GcInitFrozenObjects"] == 1234
    assert v["GcInitFreezePause"] == result.pause.duration_ns / 1e3
    assert emf.values(second)["GcColdStart"] == 0 and "GcInitCollections" not in second


def test_init_window_closes_at_first_invocation_without_init_done(state: al._State) -> None:
    with gcpause.paused():
        state.cold = True
        state.open_init()
        gc.collect(0)

        @al.handler(collect="never", report="none")
        def h(event: Any, context: Any) -> None:
            gc.collect(0)

        run(h)
    inv = al.last_invocation()
    assert inv is not None and inv.cold_start and inv.init is not None
    assert inv.init.window.collections == (1, 0, 0) and inv.init.freeze is None
    assert inv.window.collections == (1, 0, 0)
    assert al.init_done(freeze=False) is None
    with pytest.raises(TypeError, match="freeze must be a bool"):
        al.init_done(freeze=1)  # type: ignore[arg-type]


def test_snapstart_hooks_register_and_after_restore_resets(
        state: al._State, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("snapshot_restore_py")
    before: list[Any] = []
    after: list[Any] = []
    fake.register_before_snapshot = before.append  # type: ignore[attr-defined]
    fake.register_after_restore = after.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake)
    assert al._register_snapstart_hooks() is False  # not under SnapStart: nothing
    state.init_type = "snap-start"
    monkeypatch.setenv("GCPAUSE_SNAPSTART_HOOKS", "0")
    assert al._register_snapstart_hooks() is False
    monkeypatch.setenv("GCPAUSE_SNAPSTART_HOOKS", "perhaps")
    with pytest.raises(ValueError, match="GCPAUSE_SNAPSTART_HOOKS"):
        al._register_snapstart_hooks()
    monkeypatch.delenv("GCPAUSE_SNAPSTART_HOOKS")
    assert al._register_snapstart_hooks() is True
    assert before == [al._before_snapshot] and after == [al._after_restore]
    # after restore: a cold start again, INIT figures start over
    state.deferred = ("old", gcpause.collect(0))
    recal = gcpause._core.clock_info()["recalibrations"] if gcpause.IMPLEMENTATION == "c" else 0
    al._after_restore()
    try:
        assert state.cold and state.init_rec is not None and state.deferred is None
        assert state.init_type == "snap-start"
        if gcpause.IMPLEMENTATION == "c":  # the CPU counter is mapped afresh
            assert gcpause._core.clock_info()["recalibrations"] == recal + 1
    finally:
        state.close_init()


# -- post-response collection: the extension thread ----------------------------------------------

def test_without_runtime_api_post_response_collects_inline() -> None:
    @al.handler(post_response=True, collect="always")
    def h(event: Any, context: Any) -> None:
        pass

    _, (line,) = run(h)
    assert line["gcEnd"] == "inline" and al._state.extension is None


def test_extension_registers_and_collects_after_the_handler(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeRuntime([{"a": 1}, {"a": 2}], ext_wait_s=10) as fake:
        monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", fake.address)

        @al.handler(post_response=True, collect="always")
        def h(event: Any, context: Any) -> int:
            return int(event["a"])

        ext = al._state.extension
        assert ext is not None and ext.identifier
        (reg,) = fake.requests(f"{EXTENSION}/register")
        assert reg.headers["lambda-extension-name"] == "gcpause"
        assert reg.json() == {"events": ["INVOKE"]}

        def runtime_next() -> tuple[str, Any]:  # what awslambdaric would do
            conn = http.client.HTTPConnection(fake.address, timeout=15)
            conn.request("GET", f"{RUNTIME}/invocation/next")
            resp = conn.getresponse()
            body = json.loads(resp.read())
            conn.close()
            return resp.getheader("Lambda-Runtime-Aws-Request-Id") or "", body

        lines = []
        for _ in range(2):
            rid, event = runtime_next()
            n = ext.collections
            result, (line,) = run(h, event, Ctx(rid))
            assert result == event["a"]
            lines.append(line)
            deadline = time.monotonic() + 15
            while ext.collections == n and time.monotonic() < deadline:
                time.sleep(0.01)
            assert ext.collections == n + 1
    assert ext.events == 2
    assert [x["gcEnd"] for x in lines] == ["deferred", "deferred"]
    assert "gcEndRequestId" not in lines[0]
    assert lines[1]["gcEndRequestId"] == fake.request_ids[0]
    assert emf.values(lines[1])["GcEndCollections"] == 1
    deadline = time.monotonic() + 15  # the fake closed: the thread ends on its own
    while ext.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not ext.alive


def test_runtime_client_hook_wraps_wait_next_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    from gcpause.aws_lambda._extension import hook_runtime_client

    calls: list[str] = []

    class BaseLambdaRuntimeClient:
        def wait_next_invocation(self) -> str:
            calls.append("next")
            return "event"

    mod = types.ModuleType("awslambdaric.lambda_runtime_client")
    mod.BaseLambdaRuntimeClient = BaseLambdaRuntimeClient  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "awslambdaric.lambda_runtime_client", mod)
    assert hook_runtime_client(lambda: calls.append("hook1"))
    assert hook_runtime_client(lambda: calls.append("hook2"))  # one wrapper, two hooks
    assert BaseLambdaRuntimeClient().wait_next_invocation() == "event"
    assert calls == ["hook1", "hook2", "next"]
    monkeypatch.delitem(sys.modules, "awslambdaric.lambda_runtime_client")
    assert hook_runtime_client(lambda: None) is False
