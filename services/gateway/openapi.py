"""GET /openapi.json: an OpenAPI 3.1 document of the configured hook endpoints, built from the
source kinds (content types, signature headers, produced events) and the event schemas."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.export import event_components
from services.common.metrics import WEBHOOK_OUTCOMES, handover_version
from services.gateway.sources.base import Source

# Outcomes that are not answers with a problem body: successes, a client gone, a plain 500.
PROBLEM_REASONS = sorted(
    {*WEBHOOK_OUTCOMES, "unknown_source"} - {"accepted", "duplicate", "ignored", "aborted", "error"}
)
PROBLEM = "application/problem+json"
ERRORS = {
    400: "The body is not valid JSON / form data in UTF-8 (`invalid_body`)",
    401: "Signature missing, wrong, or its timestamp outside the tolerance",
    408: "The body did not arrive within `server.read_timeout_s` (`request_timeout`)",
    413: "The body is over this source's `max_body_bytes`, or the event over Kafka's record limit "
    "(`payload_too_large`; never retry it)",
    415: "The Content-Type is not one this source accepts (`unsupported_media_type`)",
    422: "Fields are invalid; `errors` lists each one's JSON path (`invalid_payload`)",
    429: "Over this source's `rate_limit_per_minute` or this client's `client_rate_limit_per_minute`; "
    "retry after `Retry-After` seconds",
    503: "Kafka did not acknowledge in time (or a form's captcha vendor did not answer); nothing was "
    "accepted, retry after `Retry-After` seconds",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "string"}}}
ANY_JSON_OBJECT = {"type": "object", "description": "The vendor's webhook payload as it sends it"}
FORM_FIELDS = {
    "type": "object",
    "properties": {
        name: {"type": "string"} for name in ("email", "name", "first_name", "last_name", "phone", "company", "message")
    },
    "required": ["email"],
    "additionalProperties": {"type": "string"},
}


def _shared_components() -> dict[str, Any]:
    _, events = event_components()
    problem_errors = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
            "required": ["path", "message"],
        },
    }
    return {
        **events,
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details with Handover's stable `reason` code",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "reason": {"enum": PROBLEM_REASONS},
                "errors": problem_errors,
            },
            "required": ["type", "title", "status", "detail", "reason"],
        },
        "Accepted": {
            "type": "object",
            "properties": {
                "status": {"const": "accepted"},
                "event_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}, "minItems": 1},
            },
            "required": ["status", "event_ids"],
        },
        "Duplicate": {
            "type": "object",
            "properties": {
                "status": {"const": "duplicate"},
                "event_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
            },
            "required": ["status", "event_ids"],
        },
        "Ignored": {
            "type": "object",
            "properties": {"status": {"const": "ignored"}, "reason": {"type": "string"}},
            "required": ["status", "reason"],
        },
    }


def _problem_response(description: str, retry: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if retry:
        out["headers"] = RETRY_AFTER
    return out


def _request_schema(source: Source, media: str) -> dict[str, Any]:
    if source.kind == "standard":
        return {"$ref": "#/components/schemas/AnyEvent"}
    if source.kind == "form":
        return FORM_FIELDS
    if source.kind == "woocommerce" and media == "application/x-www-form-urlencoded":
        return {"type": "object", "description": "The creation ping", "properties": {"webhook_id": {"type": "string"}}}
    return ANY_JSON_OBJECT


def _operation(source: Source) -> dict[str, Any]:
    signed = source.signed
    responses: dict[str, Any] = {
        "202": {
            "description": "Verified, published to Kafka and acknowledged (acks=all)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}},
        },
        "200": {
            "description": "A resend of an accepted delivery, or a delivery Handover does not act on",
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/Duplicate"},
                            {"$ref": "#/components/schemas/Ignored"},
                        ]
                    }
                }
            },
        },
    }
    for status, text in ERRORS.items():
        if status == 401 and not signed:
            continue
        responses[str(status)] = _problem_response(text, retry=status in (429, 503))
    if getattr(source.config, "captcha", None) is not None:
        responses["403"] = _problem_response("The captcha token was missing or refused (`captcha_failed`)", retry=False)
    if source.kind == "form":
        responses["303"] = {
            "description": "A browser (Accept: text/html) is sent on to the thank-you page",
            "headers": {"Location": {"schema": {"type": "string"}}},
        }
    parameters = [
        {
            "name": name,
            "in": "header",
            "required": True,
            "description": "Signature header as the vendor sends it",
            "schema": {"type": "string"},
        }
        for name in source.signature_headers
    ]
    if source.kind == "form":
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Resends with the same key publish once",
                "schema": {"type": "string"},
            }
        )
    produces = ", ".join(source.produces) or "nothing"
    op: dict[str, Any] = {
        "operationId": f"hook_{source.name}",
        "summary": f"{source.kind} webhook for source {source.name!r}",
        "description": (
            f"Publishes {produces} to handover.events.<type> and answers only after Kafka's ack. "
            + ("The signature is checked on the raw bytes." if signed else "Unsigned (website form).")
        ),
        "tags": [source.kind],
        "requestBody": {
            "required": True,
            "content": {media: {"schema": _request_schema(source, media)} for media in source.content_types},
        },
        "responses": responses,
    }
    if parameters:
        op["parameters"] = parameters
    return op


def openapi_document(sources: Mapping[str, Source], server_url: str = "") -> dict[str, Any]:
    """The OpenAPI 3.1 document for these configured sources."""
    paths = {f"/hooks/{name}": {"post": _operation(source)} for name, source in sorted(sources.items())}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Handover webhook gateway",
            "version": handover_version(),
            "description": "One endpoint per configured source. Every error is problem+json with a stable `reason`.",
        },
        "paths": paths,
        "components": {"schemas": {**_shared_components(), "AnyEvent": event_components()[0]}},
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc
