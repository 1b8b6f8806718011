"""HTTP pieces shared by the gateway and the web app: problem+json answers and app keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from aiohttp import web

PROBLEM_TYPE = "application/problem+json"
_json = msgspec.json.Encoder()


def problem(
    status: int,
    reason: str,
    detail: str,
    errors: Sequence[Mapping[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """An RFC 9457 problem answer with Handover's stable `reason` code."""
    body: dict[str, Any] = {
        "type": f"urn:handover:problem:{reason}",
        "title": reason.replace("_", " "),
        "status": status,
        "detail": detail,
        "reason": reason,
    }
    if errors:
        body["errors"] = list(errors)
    return web.Response(
        status=status, body=_json.encode(body), content_type=PROBLEM_TYPE, headers=headers
    )


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON answer encoded by msgspec (Decimals as strings, datetimes RFC 3339)."""
    return web.Response(
        status=status,
        body=msgspec.json.encode(data),
        content_type="application/json",
        headers=headers,
    )


def wants_html(request: web.Request) -> bool:
    """True for a browser navigation (Accept prefers text/html)."""
    accept = request.headers.get("Accept", "")
    return "text/html" in accept
