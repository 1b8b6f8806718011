"""A fake JSON receiver: dedupes on Idempotency-Key and verifies Standard Webhooks signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from typing import Any

from aiohttp import web

from tests.sync.fakes import BODY, FakeVendor, json_response


class FakeReceiver(FakeVendor):
    """POST/PUT /{anything}: stores the JSON body once per Idempotency-Key, answers {"id": ...}."""

    def __init__(self, token: str = "test-token", signing_secret: str = "") -> None:
        super().__init__(token)
        self.signing_secret = signing_secret
        self._ids = itertools.count(1)
        self.records: dict[str, dict[str, Any]] = {}  # idempotency key -> record

    def routes(self, app: web.Application) -> None:
        """Any path."""
        app.router.add_route("*", "/{tail:.*}", self.receive)

    def authorized(self, request: web.Request) -> bool:
        """`Authorization: Bearer <token>`, and a valid signature when a secret is set."""
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return False
        return not self.signing_secret or self.signature_ok(request)

    def signature_ok(self, request: web.Request) -> bool:
        """Verify webhook-signature over "{id}.{timestamp}.{body}" (any listed v1 signature)."""
        key = base64.b64decode(self.signing_secret.removeprefix("whsec_"))
        msg_id = request.headers.get("webhook-id", "")
        ts = request.headers.get("webhook-timestamp", "")
        raw = self.requests[-1].raw
        expected = base64.b64encode(
            hmac.new(key, f"{msg_id}.{ts}.".encode() + raw, hashlib.sha256).digest()
        ).decode()
        offered = request.headers.get("webhook-signature", "").split()
        return any(s.partition(",")[2] == expected for s in offered if s.startswith("v1,"))

    def error(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        """An RFC 9457 problem body."""
        body = {"type": "about:blank", "title": message, "status": status, "detail": message}
        return json_response(body, status, headers)

    async def receive(self, request: web.Request) -> web.Response:
        """Store the body under its Idempotency-Key; a repeat returns the first record."""
        key = request.headers.get("Idempotency-Key")
        if not key:
            return self.error(400, "Idempotency-Key header is required")
        body = request[BODY]
        if not isinstance(body, dict):
            return self.error(400, "the body must be a JSON object")
        if key in self.records:
            return json_response(self.records[key], 200)
        record = {"id": f"rec_{next(self._ids)}", "path": request.path, "body": body}
        self.records[key] = record
        return json_response(record, 201)
