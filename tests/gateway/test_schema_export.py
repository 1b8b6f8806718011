"""`handover schemas`: a JSON Schema per event type and an AsyncAPI document of the topics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from schemas import EVENT_TYPES
from schemas.topics import event_topic
from services.cli import main


def refs(node: Any) -> list[str]:
    """Every $ref in a JSON document."""
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def resolve(doc: dict[str, Any], ref: str) -> Any:
    """Follow a local JSON pointer."""
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_the_command_writes_one_schema_per_event_type_and_an_asyncapi_document(tmp_path: Path, capsys: Any) -> None:
    assert main(["schemas", "--out", str(tmp_path)]) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json"))
    expected = [f"events/{t}.schema.json" for t in EVENT_TYPES] + ["asyncapi.json", "handover.schema.json"]
    assert written == sorted(expected)
    assert str(tmp_path / "asyncapi.json") in capsys.readouterr().out

    for name, cls in EVENT_TYPES.items():
        schema = json.loads((tmp_path / f"events/{name}.schema.json").read_text("utf-8"))
        assert schema["$schema"].endswith("2020-12/schema")
        assert schema == {**msgspec.json.schema(cls), "$schema": schema["$schema"], "$id": schema["$id"]}
        for ref in refs(schema):
            assert resolve(schema, ref)

    api = json.loads((tmp_path / "asyncapi.json").read_text("utf-8"))
    assert api["asyncapi"].startswith("3.")
    assert sorted(c["address"] for c in api["channels"].values()) == sorted(event_topic(t) for t in EVENT_TYPES)
    for ref in refs(api):
        assert resolve(api, ref)  # every channel, message and payload reference resolves
    order = api["components"]["schemas"]["OrderData"]["properties"]
    assert order["total"] == {"type": "string", "format": "decimal"}  # money is exact text on the wire
