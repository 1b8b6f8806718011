"""Machine-readable contracts generated from the msgspec types: JSON Schema per event type, an
AsyncAPI 3.0 document of the topics, and the JSON Schema of handover.toml (from the config types
`services.assembly` hands in). Pure functions: no I/O, no settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from schemas.events import EVENT_TYPES, AnyEvent
from schemas.topics import event_topic

COMPONENTS_REF = "#/components/schemas/{name}"


def event_components(ref_template: str = COMPONENTS_REF) -> tuple[dict[str, Any], dict[str, Any]]:
    """(schema of any event, component schemas) with refs built from `ref_template`."""
    (any_event,), components = msgspec.json.schema_components([AnyEvent], ref_template=ref_template)
    return any_event, components


def event_json_schemas() -> dict[str, dict[str, Any]]:
    """One self-contained JSON Schema (2020-12) per event type, by type name."""
    out = {}
    for name, cls in EVENT_TYPES.items():
        schema = msgspec.json.schema(cls)
        out[name] = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{name}.json", **schema}
    return out


def asyncapi(title: str = "Handover events", version: str = "1.0.0") -> dict[str, Any]:
    """An AsyncAPI 3.0 document: one channel per event topic; the gateway sends, sync receives."""
    _, components = event_components("#/components/schemas/{name}")
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, cls in EVENT_TYPES.items():
        key = name.replace(".", "_")
        title_name = cls.__name__
        messages[title_name] = {
            "name": name,
            "title": title_name,
            "summary": (cls.__doc__ or "").strip(),
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {"event-id": {"type": "string"}, "event-type": {"const": name}},
            },
            "bindings": {"kafka": {"key": {"type": "string", "description": "the business key (subject)"}}},
            "payload": {"$ref": f"#/components/schemas/{title_name}"},
        }
        channels[key] = {
            "address": event_topic(name),
            "title": name,
            "messages": {title_name: {"$ref": f"#/components/messages/{title_name}"}},
        }
        operations[f"publish_{key}"] = {
            "action": "send",
            "summary": f"The gateway publishes {name} after verifying a webhook (acks=all)",
            "channel": {"$ref": f"#/channels/{key}"},
        }
        operations[f"consume_{key}"] = {
            "action": "receive",
            "summary": f"Sync consumer groups deliver {name} to targets",
            "channel": {"$ref": f"#/channels/{key}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": title, "version": version, "description": "Handover's business events on Kafka."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": components},
    }


def config_json_schema(
    root: type, sources: Mapping[str, tuple[type, str]], targets: Mapping[str, tuple[type, str]]
) -> dict[str, Any]:
    """A JSON Schema (2020-12) of the config file: `root`'s fixed sections, and each table under
    `sources`/`targets` one of the given kinds ({kind: (config struct, summary)}), told apart by
    `kind`, so an editor completes and checks each kind's own keys."""
    classes = list(dict.fromkeys([root, *(c for c, _ in sources.values()), *(c for c, _ in targets.values())]))
    schemas, defs = msgspec.json.schema_components(classes, ref_template="#/$defs/{name}")
    by_class = dict(zip(classes, schemas, strict=True))
    top = dict(defs[root.__name__])

    def one_of(kinds: Mapping[str, tuple[type, str]]) -> dict[str, Any]:
        # `kind` picks the branch; each branch is the kind's struct with its `kind` pinned.
        return {"type": "object", "additionalProperties": {"oneOf": [
            {"title": kind, "description": summary, "allOf": [by_class[cls]],
             "properties": {"kind": {"const": kind}}, "required": ["kind"]}
            for kind, (cls, summary) in sorted(kinds.items())
        ]}}

    properties = dict(top["properties"])
    properties["sources"] = {**one_of(sources), "description": "Webhook intakes: POST /hooks/<name>."}
    properties["targets"] = {**one_of(targets), "description": "The systems flows deliver to, by name."}
    top["properties"] = properties
    defs = {name: d for name, d in defs.items() if name != root.__name__}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "handover.schema.json",
            **top, "$defs": defs}


def documents() -> dict[str, dict[str, Any]]:
    """Every exported document by file name: `events/<type>.schema.json` and `asyncapi.json`."""
    out = {f"events/{name}.schema.json": schema for name, schema in event_json_schemas().items()}
    out["asyncapi.json"] = asyncapi()
    return out
