"""Handler module run by awslambdaric in the end-to-end tests (``app.handler``).

The decorator is configured from GCPAUSE_* variables set by the test.  The handler does
JSON-heavy work, runs the collections the event asks for (so the figures are deterministic)
and returns its own gcpause figures, measured with a nested Recorder, for the test to
compare with the EMF line.  ``APP_*`` variables select test-only behaviour.
"""

import gc
import json
import os

import gcpause
from gcpause import aws_lambda  # before any other work: opens the INIT window

gcpause.start()  # global recording: the test reads Pause.start_ns of end collections
INIT_STATE = [gc.isenabled(), list(gc.get_threshold())]

HOOKS = []
if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
    import snapshot_restore_py

    # Registered after gcpause's hooks: this before-snapshot hook runs before gcpause's
    # (reverse order), this after-restore hook after gcpause's (registration order).
    @snapshot_restore_py.register_before_snapshot
    def _before():
        HOOKS.append(["before", gc.get_freeze_count()])

    @snapshot_restore_py.register_after_restore
    def _after():
        HOOKS.append(["after", gc.get_freeze_count()])


def _init_garbage():
    junk = [[] for _ in range(200)]
    for item in junk:
        item.append(item)


_init_garbage()
gc.collect(1)  # one INIT collection the first EMF line must report
if os.environ.get("APP_INIT_DONE") == "1":
    INIT_FREEZE = aws_lambda.init_done()

LAST = {}


def _work(n):
    docs = [json.dumps({"id": i, "name": f"item-{i}", "tags": ["a", "b", str(i)],
                        "price": {"amount": i * 1.5, "currency": "EUR"}}) for i in range(n)]
    parsed = [json.loads(d) for d in docs]
    # Some cyclic garbage, as real handlers make (exceptions, parent links).
    for p in parsed[: n // 10]:
        p["self"] = p
    return sum(p["price"]["amount"] for p in parsed)


@aws_lambda.handler
def _inner(event, context):
    prev = dict(LAST)
    inside = [gc.isenabled(), list(gc.get_threshold())]
    with gcpause.Recorder() as rec:
        total = _work(int(event.get("n", 2000)))
        for g in event.get("collect", []):
            gc.collect(g)
        if event.get("fail"):
            raise ValueError(f"boom {event['fail']}")
    st = rec.stats
    return {
        "total": total,
        "request_id": context.aws_request_id,
        "figures": {
            "collections": [st.generations[g].count for g in range(3)],
            "total_ns": [st.generations[g].total_ns for g in range(3)],
            "max_ns": [st.generations[g].max_ns for g in range(3)],
        },
        "inside": inside,
        "prev": prev,
        "hooks": HOOKS,
        "freeze_count": gc.get_freeze_count(),
        "init_state": INIT_STATE,
        "gen2": [[p.start_ns, p.duration_ns] for p in gcpause.records() if p.generation == 2],
    }


def handler(event, context):
    try:
        return _inner(event, context)
    finally:
        # GC state right after the decorated call returned or raised.
        LAST["after"] = [gc.isenabled(), list(gc.get_threshold())]
        LAST["request_id"] = context.aws_request_id
