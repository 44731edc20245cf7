"""The JSON report against its shipped JSON Schema, with a small validator for the
subset of JSON Schema the file uses (no third-party dependency in the test run)."""

from __future__ import annotations

import gc
import json
import os
from typing import Any, Iterator, List

import pytest

import gcpause
from gcpause import Pause
from gcpause.report import Summary, environment
from gcpause.report import json as json_report

SUPPORTED = {"$schema", "$id", "$ref", "$defs", "title", "description", "type", "required",
             "properties", "additionalProperties", "items", "minItems", "maxItems", "minimum",
             "maximum", "enum", "const"}
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[name])


def validate(value: Any, schema: dict[str, Any], root: dict[str, Any],
             path: str = "$") -> List[str]:
    """Errors (empty when valid) of ``value`` against ``schema`` (SUPPORTED keywords only)."""
    errors: List[str] = []
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return validate(value, target, root, path)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            return [f"{path}: {value!r:.60} is not of type {types}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: {value!r} != const {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} < minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} > maximum {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing required {key!r}")
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                errors += validate(item, props[key], root, f"{path}.{key}")
            elif extra is False:
                errors.append(f"{path}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                errors += validate(item, extra, root, f"{path}.{key}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += validate(item, schema["items"], root, f"{path}[{i}]")
    return errors


def _keywords(schema: Any, in_properties: bool = False) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if not in_properties:
                yield key
            yield from _keywords(value, key in ("properties", "$defs"))
    elif isinstance(schema, list):
        for item in schema:
            yield from _keywords(item)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json_report.load_schema()


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def document(impl) -> dict[str, Any]:
    was = gc.isenabled()
    gc.disable()
    try:
        with impl.Recorder() as rec:
            for g in (0, 1, 2, 0):
                for _ in range(100):
                    Cycle()
                gc.collect(g)
    finally:
        if was:
            gc.enable()
    meta = {"command": "python x.py", "argv": ["x.py"], "module": None, "script": "x.py",
            "exit_code": 0, "ring_size": 4096, "top": 10, "environment": environment()}
    summary = Summary(rec.stats, rec.pauses, meta=meta)
    doc: dict[str, Any] = json.loads(json_report.dumps(summary))
    doc["_stats"] = rec.stats  # for the tests, removed before validation
    doc["_summary"] = summary
    return doc


def test_schema_file_is_shipped_in_the_package() -> None:
    path = os.path.join(os.path.dirname(gcpause.__file__), "report", "schema.json")
    assert os.path.isfile(path) and os.path.samefile(path, json_report.SCHEMA_FILE)


def test_schema_uses_only_keywords_the_validator_knows(schema) -> None:
    assert set(_keywords(schema)) <= SUPPORTED


def test_schema_version_matches_the_module(schema) -> None:
    assert schema["properties"]["schema_version"]["const"] == json_report.SCHEMA_VERSION


def test_report_validates_against_schema(document, schema) -> None:
    stats = document.pop("_stats")
    document.pop("_summary")
    assert validate(document, schema, schema) == []
    assert document["schema_version"] == json_report.SCHEMA_VERSION
    summ = document["summary"]
    assert summ["overall"]["count"] == stats.count == len(document["records"]) == 4
    assert [g["count"] for g in summ["generations"]] == [2, 1, 1]
    assert summ["overall"]["total_ns"] == stats.total_ns
    assert summ["overall"]["p99_ns"] == stats.percentile(99)
    assert summ["wall_ns"] == stats.wall_ns and summ["start_ns"] == stats.start_ns
    assert summ["gc_share"] == pytest.approx(stats.gc_share)
    assert sum(sum(b["counts"]) for b in summ["histogram"]) == 4
    assert [r["generation"] for r in document["records"]] == [0, 1, 2, 0]
    for r in document["records"]:
        assert r["offset_ns"] == r["start_ns"] - stats.start_ns >= 0
    assert document["run"]["script"] == "x.py"
    assert document["threads"][0]["name"] == "MainThread"


def test_validator_rejects_bad_documents(document, schema) -> None:
    document.pop("_stats")
    document.pop("_summary")
    bad = json.loads(json.dumps(document))
    del bad["summary"]["overall"]["p90_ns"]
    bad["records"][0]["duration_ns"] = "12"
    bad["records"][1]["generation"] = 7
    bad["schema_version"] = 99
    bad["extra"] = True
    errors = validate(bad, schema, schema)
    assert any("p90_ns" in e for e in errors)
    assert any("records[0].duration_ns" in e for e in errors)
    assert any("records[1].generation" in e and "maximum" in e for e in errors)
    assert any("schema_version" in e for e in errors)
    assert any("'extra'" in e for e in errors)


def test_sites_and_top_sites_in_json(impl) -> None:
    with impl.Recorder() as rec:
        pass
    pauses = [Pause(0, rec.stats.start_ns + 10, 100, 1, 0, 1, None, "a.py:3 (f)"),
              Pause(2, rec.stats.start_ns + 20, 300, 1, 0, 1, None, None)]
    doc = json_report.build(Summary(rec.stats, pauses, sites=True))
    schema = json_report.load_schema()
    assert validate(json.loads(json.dumps(doc)), schema, schema) == []
    assert doc["sites_enabled"] is True
    assert [r["site"] for r in doc["records"]] == ["a.py:3 (f)", None]
    assert doc["top_sites"] == [{"site": "a.py:3 (f)", "count": 1, "total_ns": 100,
                                 "max_ns": 100, "generations": [1, 0, 0]}]


def test_json_text_is_sorted_compact_and_repeatable(document) -> None:
    summary = document["_summary"]
    text = json_report.dumps(summary)
    assert text == json_report.dumps(summary)
    assert text.endswith("}\n") and text.count("\n") == 1
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False) + "\n"
