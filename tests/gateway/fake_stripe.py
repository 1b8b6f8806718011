"""A fake Stripe API: a Checkout Session's line items, as https://docs.stripe.com/api documents them.

Bearer auth with a secret or restricted key; list pagination with `limit`, `starting_after` and
`has_more`; an item's `taxes` only when `expand[]=data.taxes` asks for them; errors in Stripe's
`{"error": {"type", "message"}}` shape (https://docs.stripe.com/api/errors).
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from tests.sync.fakes import FakeVendor, json_response


class FakeStripe(FakeVendor):
    """Line items per session id (set `sessions[id] = [item, ...]`)."""

    def __init__(self, token: str = "rk_test_line_items") -> None:
        super().__init__(token)
        self.sessions: dict[str, list[dict[str, Any]]] = {}

    def routes(self, app: web.Application) -> None:
        """GET /v1/checkout/sessions/{id}/line_items."""
        app.router.add_get("/v1/checkout/sessions/{id}/line_items", self.line_items)

    def authorized(self, request: web.Request) -> bool:
        """Bearer <key>."""
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
        """Stripe's error body."""
        kind = "api_error" if status >= 500 else "invalid_request_error"
        return json_response({"error": {"type": kind, "message": message}}, status, headers)

    def unauthorized(self) -> web.Response:
        """Stripe's 401 for a wrong key."""
        return self.error(401, "Invalid API Key provided: rk_test_****")

    async def line_items(self, request: web.Request) -> web.Response:
        """One page of the session's items."""
        session = request.match_info["id"]
        items = self.sessions.get(session)
        if items is None:
            return self.error(404, f"No such checkout.session: '{session}'")
        limit = min(max(int(request.query.get("limit", "10")), 1), 100)
        after = request.query.get("starting_after")
        start = next((i + 1 for i, item in enumerate(items) if item["id"] == after), 0) if after else 0
        page = copy.deepcopy(items[start : start + limit])
        if "data.taxes" not in request.query.getall("expand[]", []):
            for item in page:
                item.pop("taxes", None)
        return json_response({
            "object": "list", "data": page, "has_more": start + limit < len(items),
            "url": f"/v1/checkout/sessions/{session}/line_items",
        })
