"""End to end: the real AWS runtime interface client (awslambdaric) runs a handler decorated
with gcpause.aws_lambda.handler against the loopback fake Runtime API in tests/lambda_fake.

Each test starts ``python -m awslambdaric app.handler`` in a subprocess (bounded timeout),
serves a few events, then closes ``/next`` so the client exits 1.  The handler module
(tests/lambda_fake/app.py) returns its own gcpause figures for comparison with the EMF
lines the client printed on stdout.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import pytest

from tests.lambda_fake import emf
from tests.lambda_fake.server import EXTENSION, RUNTIME, FakeRuntime, emf_lines, run_client

pytestmark = pytest.mark.skipif(importlib.util.find_spec("awslambdaric") is None,
                                reason="awslambdaric not installed")

HERE = os.path.dirname(os.path.abspath(__file__))
APP_DIR = os.path.join(HERE, "lambda_fake")
SRC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(
    importlib.util.find_spec("gcpause").origin)))  # type: ignore[arg-type, union-attr]
TIMEOUT_S = 90.0


def expected_total(n: int) -> float:
    return sum(i * 1.5 for i in range(n))


def run(events: list[dict[str, Any]], **env: str) -> tuple[FakeRuntime, Any, list]:
    with FakeRuntime(events) as fake:
        proc = run_client(fake, "app.handler", APP_DIR, SRC_DIR, env=env, timeout=TIMEOUT_S)
    lines = emf_lines(proc.stdout)
    return fake, proc, lines


def check_exit(fake: FakeRuntime, proc: Any) -> None:
    # The fake closes /next after the last event: "Failed to get next", exit 1.
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-3000:])
    assert "Failed to get next" in proc.stderr, proc.stderr[-3000:]
    assert fake.errors == []


def test_invocations_print_one_valid_emf_line_matching_the_recorder() -> None:
    # GIVEN JSON-heavy events asking for explicit collections inside the handler
    events = [{"n": 3000, "collect": [0, 1]}, {"n": 2000, "collect": [0]},
              {"n": 1000, "collect": [2, 0, 0]}, {"n": 500}]
    # WHEN the decorated handler runs under awslambdaric
    fake, proc, lines = run(events, GCPAUSE_MODE="paused", GCPAUSE_COLLECT="always",
                            GCPAUSE_NAMESPACE="GcPauseE2E")
    check_exit(fake, proc)
    # THEN every response is correct
    responses = fake.responses()
    assert list(responses) == fake.request_ids
    for ev, rid in zip(events, fake.request_ids):
        assert responses[rid]["total"] == expected_total(ev["n"])
        assert responses[rid]["request_id"] == rid
        assert responses[rid]["inside"][0] is False  # paused during the handler
    # AND each invocation printed exactly one valid EMF line, in order
    assert len(lines) == len(events), proc.stdout[-3000:]
    for i, (line, rid) in enumerate(zip(lines, fake.request_ids)):
        (directive,) = emf.validate(line)
        assert directive["Namespace"] == "GcPauseE2E"
        assert directive["Dimensions"] == [["function_name"]]
        assert line["function_name"] == "gcpause-test"
        assert line["requestId"] == rid  # a property, not a dimension
        assert "requestId" not in directive["Dimensions"][0]
        v = emf.values(line)
        # the figures match what the handler's own Recorder saw, generation by generation
        fig = responses[rid]["figures"]
        for g in range(3):
            assert v[f"GcCollectionsGen{g}"] == fig["collections"][g]
            assert v[f"GcPauseTotalGen{g}"] == fig["total_ns"][g] / 1e3
            assert v[f"GcPauseMaxGen{g}"] == fig["max_ns"][g] / 1e3
        assert v["GcCollections"] == sum(fig["collections"])
        asked = events[i].get("collect", [])
        assert fig["collections"] == [asked.count(g) for g in range(3)]
        # the end-of-invocation collection is reported separately
        assert v["GcEndCollections"] == 1 and v["GcEndPause"] > 0
        assert line["gcEnd"] == "inline"
        # cold start and INIT figures only on the first invocation
        assert v["GcColdStart"] == (1 if i == 0 else 0)
        if i == 0:
            assert line["initType"] == "on-demand"
            assert v["GcInitCollections"] >= 1  # app.py runs gc.collect(1) during INIT
            assert v["GcInitPauseMax"] > 0
        else:
            assert "GcInitCollections" not in v and "initType" not in line
    # AND the end collection's pause is the one the global recorder saw
    last = responses[fake.request_ids[-1]]["gen2"]
    ends = [round(d / 1e3, 3) for _, d in last]
    for line in lines[:-1]:
        assert round(emf.values(line)["GcEndPause"], 3) in ends


def test_error_is_posted_and_gc_state_restored() -> None:
    events = [{"n": 500}, {"n": 800, "fail": "now", "collect": [0]}, {"n": 300}]
    fake, proc, lines = run(events, GCPAUSE_MODE="paused", GCPAUSE_COLLECT="never")
    check_exit(fake, proc)
    rid_ok1, rid_err, rid_ok2 = fake.request_ids
    errors = fake.invocation_errors()
    assert list(errors) == [rid_err]
    body = errors[rid_err].json()
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "boom now"
    responses = fake.responses()
    assert set(responses) == {rid_ok1, rid_ok2}
    after_error = responses[rid_ok2]["prev"]
    assert after_error["request_id"] == rid_err
    # the GC state right after the raising invocation is the one the process started with
    assert after_error["after"] == responses[rid_ok2]["init_state"]
    assert responses[rid_ok2]["init_state"][0] is True
    assert len(lines) == 3
    for line in lines:
        emf.validate(line)
    assert [line["error"] for line in lines] == [False, True, False]
    assert emf.values(lines[1])["GcCollectionsGen0"] == 1
    assert all(emf.values(line)["GcEndCollections"] == 0 for line in lines)  # "never"


def test_snapstart_runs_the_before_snapshot_hook_then_resets_after_restore() -> None:
    events = [{"n": 500}, {"n": 500}]
    fake, proc, lines = run(events, AWS_LAMBDA_INITIALIZATION_TYPE="snap-start",
                            GCPAUSE_COLLECT="never")
    check_exit(fake, proc)
    restore = fake.requests(f"{RUNTIME}/restore/next")
    nexts = fake.requests(f"{RUNTIME}/invocation/next")
    assert len(restore) == 1 and restore[0].t_ns < nexts[0].t_ns
    first = fake.responses()[fake.request_ids[0]]
    # app.py's before-snapshot hook runs before gcpause's (reverse registration order) and its
    # after-restore hook after gcpause's: the freeze happened in between.
    (before, before_count), (after, after_count) = first["hooks"]
    assert (before, after) == ("before", "after")
    assert after_count > before_count
    assert first["freeze_count"] == after_count
    # the freeze's full collection ran before the runtime asked for the restore
    assert any(start < restore[0].t_ns for start, _ in first["gen2"])
    for line in lines:
        emf.validate(line)
    v0 = emf.values(lines[0])
    assert v0["GcColdStart"] == 1 and lines[0]["initType"] == "snap-start"
    assert emf.values(lines[1])["GcColdStart"] == 0


def test_extension_thread_collects_after_the_response() -> None:
    events = [{"n": 2000}, {"n": 1500}, {"n": 1000, "fail": "late"}, {"n": 500}]
    fake, proc, lines = run(events, GCPAUSE_POST_RESPONSE="1", GCPAUSE_COLLECT="always")
    check_exit(fake, proc)
    # registered once, during INIT (before the runtime's first /next), for INVOKE only
    (reg,) = fake.requests(f"{EXTENSION}/register")
    assert reg.headers["lambda-extension-name"] == "gcpause"
    assert reg.json() == {"events": ["INVOKE"]}
    runtime_next = fake.requests(f"{RUNTIME}/invocation/next")
    assert reg.t_ns < runtime_next[0].t_ns
    # one event/next per INVOKE event plus the initial one
    ext_next = fake.requests(f"{EXTENSION}/event/next")
    assert len(ext_next) == len(events) + 1
    # each invocation's end collection started after its response (or error) was posted,
    # and ended before the extension asked for the next event
    posted = {r.path.split("/")[-2]: r.t_ns
              for r in fake.requests(f"{RUNTIME}/invocation/", "POST")}
    gen2 = fake.responses()[fake.request_ids[-1]]["gen2"]
    assert len(lines) == len(events)
    for i, rid in enumerate(fake.request_ids[:-1]):
        after = [(s, d) for s, d in gen2 if s > posted[rid] and s + d < ext_next[i + 1].t_ns]
        assert len(after) == 1, (i, gen2, posted[rid])
        # reported in the next invocation's EMF line
        line = lines[i + 1]
        emf.validate(line)
        assert line["gcEndRequestId"] == rid
        assert emf.values(line)["GcEndPause"] == after[0][1] / 1e3
        assert emf.values(line)["GcEndCollections"] == 1
    assert all(line["gcEnd"] == "deferred" for line in lines)
    assert emf.values(lines[0])["GcEndCollections"] == 0  # nothing deferred before it


def test_invalid_configuration_fails_init_not_the_first_invocation() -> None:
    fake, proc, lines = run([{"n": 10}], GCPAUSE_MODE="fastest")
    assert proc.returncode == 1, proc.stderr[-2000:]
    (init_error,) = fake.requests(f"{RUNTIME}/init/error")
    assert init_error.headers["lambda-runtime-function-error-type"] == "ValueError"
    assert "GCPAUSE_MODE='fastest'" in init_error.json()["errorMessage"]
    assert fake.requests(f"{RUNTIME}/invocation/next") == []
    assert lines == []


def test_example_function_runs_under_the_runtime_client() -> None:
    example = os.path.join(os.path.dirname(HERE), "examples", "lambda")
    with FakeRuntime([{"count": 3000}, {"count": 100}]) as fake:
        proc = run_client(fake, "handler.lambda_handler", example, SRC_DIR, timeout=TIMEOUT_S)
    check_exit(fake, proc)
    assert [r["offers"] for r in fake.responses().values()] == [3000, 100]
    lines = emf_lines(proc.stdout)
    assert len(lines) == 2
    for line in lines:
        emf.validate(line)
    v = emf.values(lines[0])
    assert v["GcColdStart"] == 1 and v["GcInitFrozenObjects"] > 0
    assert lines[0]["gcMode"] == "paused" and lines[0]["gcCollect"] == "auto"
