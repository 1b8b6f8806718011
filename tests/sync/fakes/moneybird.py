"""A fake Moneybird API v2: contacts (by customer_id) and sales invoices for one administration.

Error bodies are an assumption (the contract could not confirm Moneybird's format): `{"error":
...}` with a string, or field -> messages for validation failures (422).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from tests.sync.fakes import BODY, FakeVendor, json_response


class FakeMoneybird(FakeVendor):
    """Contacts and draft sales invoices; ids are 18-digit strings as in Moneybird's examples."""

    def __init__(
        self,
        token: str = "test-token",
        administration_id: str = "123456789012345678",
        tax_rate_ids: tuple[str, ...] = ("400000000000000021", "400000000000000009"),
    ) -> None:
        super().__init__(token)
        self.administration_id = administration_id
        self.tax_rate_ids = set(tax_rate_ids)
        self._ids = itertools.count(264_861_203_795_281_549)
        self.contacts: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.fail_lookups = False  # the invoice list answers 500 (a vendor that cannot answer)

    def routes(self, app: web.Application) -> None:
        """Contacts and sales invoices under /api/v2/{administration}."""
        root = "/api/v2/{adm}"
        app.router.add_get(root + "/contacts/customer_id/{cid}.json", self.by_customer_id)
        app.router.add_post(root + "/contacts.json", self.create_contact)
        app.router.add_patch(root + "/contacts/{id}.json", self.update_contact)
        app.router.add_post(root + "/sales_invoices.json", self.create_invoice)
        app.router.add_get(root + "/sales_invoices.json", self.list_invoices)

    def authorized(self, request: web.Request) -> bool:
        """Bearer token."""
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def error(
        self, status: int, message: Any, headers: dict[str, str] | None = None
    ) -> web.Response:
        """`{"error": ...}`."""
        return json_response({"error": message}, status, headers)

    def unauthorized(self) -> web.Response:
        """401 for a missing or wrong token."""
        return self.error(401, "Token is invalid or expired")

    def rate_limited(self, retry_after: str | None) -> web.Response:
        """429 with the RateLimit-* headers the picqer client reads."""
        headers = {"RateLimit-Limit": "150", "RateLimit-Remaining": "0", "RateLimit-Reset": "120"}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        return self.error(429, "Too many requests", headers)

    def _adm(self, request: web.Request) -> web.Response | None:
        if request.match_info["adm"] != self.administration_id:
            return self.error(404, "Administration not found")
        return None

    async def by_customer_id(self, request: web.Request) -> web.Response:
        """GET /contacts/customer_id/:customer_id.json."""
        if (wrong := self._adm(request)) is not None:
            return wrong
        for contact in self.contacts.values():
            if contact.get("customer_id") == request.match_info["cid"]:
                return json_response(contact)
        return self.error(404, "record not found")

    def _check_contact(self, contact: dict[str, Any], own_id: str = "") -> dict[str, list[str]]:
        problems: dict[str, list[str]] = {}
        if not (contact.get("company_name") or contact.get("firstname") or contact.get("lastname")):
            problems["company_name"] = ["Company name, first name or last name must be present"]
        cid = contact.get("customer_id")
        if cid and any(
            c.get("customer_id") == cid and c["id"] != own_id for c in self.contacts.values()
        ):
            problems["customer_id"] = ["has already been taken"]
        return problems

    async def create_contact(self, request: web.Request) -> web.Response:
        """POST /contacts.json with {"contact": {...}}."""
        if (wrong := self._adm(request)) is not None:
            return wrong
        contact = (request[BODY] or {}).get("contact")
        if not isinstance(contact, dict):
            return self.error(400, "contact is missing")
        if problems := self._check_contact(contact):
            return self.error(422, problems)
        cid = str(next(self._ids))
        self.contacts[cid] = {"id": cid, "administration_id": self.administration_id, **contact}
        return json_response(self.contacts[cid], 201)

    async def update_contact(self, request: web.Request) -> web.Response:
        """PATCH /contacts/:id.json."""
        if (wrong := self._adm(request)) is not None:
            return wrong
        contact = self.contacts.get(request.match_info["id"])
        if contact is None:
            return self.error(404, "record not found")
        changes = (request[BODY] or {}).get("contact") or {}
        if problems := self._check_contact({**contact, **changes}, contact["id"]):
            return self.error(422, problems)
        contact.update(changes)
        return json_response(contact)

    async def create_invoice(self, request: web.Request) -> web.Response:
        """POST /sales_invoices.json: contact and tax rates must exist; money is strings."""
        if (wrong := self._adm(request)) is not None:
            return wrong
        invoice = (request[BODY] or {}).get("sales_invoice")
        if not isinstance(invoice, dict):
            return self.error(400, "sales_invoice is missing")
        if invoice.get("contact_id") not in self.contacts:
            return self.error(422, {"contact": ["is required"]})
        for detail in invoice.get("details_attributes") or []:
            if detail.get("tax_rate_id") not in self.tax_rate_ids:
                return self.error(422, {"details.tax_rate": ["does not exist"]})
            for key in ("price", "amount"):
                try:
                    Decimal(str(detail.get(key)))
                except InvalidOperation:
                    return self.error(422, {f"details.{key}": ["is not a number"]})
        iid = str(next(self._ids))
        self.invoices[iid] = {
            "id": iid,
            "administration_id": self.administration_id,
            "state": "draft",
            "invoice_id": None,
            **invoice,
        }
        return json_response(self.invoices[iid], 201)

    def invoices_with(self, reference: str) -> list[dict[str, Any]]:
        """The stored invoices carrying a reference (the business key the tests count by)."""
        return [inv for inv in self.invoices.values() if inv.get("reference") == reference]

    async def list_invoices(self, request: web.Request) -> web.Response:
        """GET /sales_invoices.json?filter=key:value,...: the documented filter keys only
        (https://developer.moneybird.com/api/sales_invoices/); period defaults to this_year,
        state to all; "|" separates alternatives of state and reference."""
        if (wrong := self._adm(request)) is not None:
            return wrong
        if self.fail_lookups:
            return self.error(500, "Internal server error")
        filters: dict[str, str] = {}
        raw = request.query.get("filter", "")
        for part in raw.split(",") if raw else []:
            name, sep, value = part.partition(":")
            if not sep or name not in ("state", "period", "reference", "contact_id",
                                       "recurring_sales_invoice_id", "workflow_id", "created_after",
                                       "updated_after"):
                return self.error(400, f"invalid filter {part!r}")
            filters[name] = value
        per_page = int(request.query.get("per_page", "25"))
        if not 1 <= per_page <= 100:
            return self.error(400, "per_page must be between 1 and 100")
        today = dt.date.today()
        period = filters.get("period", "this_year")
        if period == "this_year":
            first, last = dt.date(today.year, 1, 1), dt.date(today.year, 12, 31)
        elif m := re.fullmatch(r"(\d{8})\.\.(\d{8})", period):
            first, last = (dt.datetime.strptime(d, "%Y%m%d").date() for d in m.groups())
        else:
            return self.error(400, f"unsupported period {period!r} in this fake")
        found = []
        for inv in self.invoices.values():
            day = dt.date.fromisoformat(inv.get("invoice_date") or today.isoformat())
            if not first <= day <= last:
                continue
            if "reference" in filters and inv.get("reference") not in filters["reference"].split("|"):
                continue
            if "contact_id" in filters and inv.get("contact_id") != filters["contact_id"]:
                continue
            state = filters.get("state", "all")
            if state != "all" and inv["state"] not in state.split("|"):
                continue
            found.append(inv)
        return json_response(found[:per_page])
