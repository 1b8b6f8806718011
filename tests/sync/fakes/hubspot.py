"""A fake HubSpot CRM v3: contacts batch upsert by e-mail and tasks, as the contract documents."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
import uuid
from typing import Any

from aiohttp import web

from tests.sync.fakes import BODY, FakeVendor, json_response

CATEGORIES = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    429: "RATE_LIMITS",
}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeHubspot(FakeVendor):
    """Contacts keyed by lower-cased e-mail; tasks with their associations."""

    def __init__(self, token: str = "test-token") -> None:
        super().__init__(token)
        self._ids = itertools.count(94_611_201)
        self.contacts: dict[str, dict[str, Any]] = {}  # email (lower) -> contact
        self.tasks: dict[str, dict[str, Any]] = {}
        # > 0: a new task shows in CRM search this many seconds after its create (HubSpot's
        # search index lags its writes; the connector waits reconcile_after_s for it).
        self.search_lag_s = 0.0
        self._searchable_at: dict[str, float] = {}  # task id -> monotonic time it shows in search

    def routes(self, app: web.Application) -> None:
        """Batch upsert and task creation."""
        app.router.add_post("/crm/v3/objects/contacts/batch/upsert", self.upsert)
        app.router.add_post("/crm/v3/objects/tasks", self.create_task)
        app.router.add_post("/crm/v3/objects/tasks/search", self.search_tasks)

    def authorized(self, request: web.Request) -> bool:
        """Bearer token."""
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def error(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> web.Response:
        """HubSpot's error body (api-error-responses page)."""
        body: dict[str, Any] = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": CATEGORIES.get(status, "UNKNOWN"),
        }
        if errors:
            body["errors"] = errors
        return json_response(body, status, headers)

    def unauthorized(self) -> web.Response:
        """HubSpot's 401 for a missing or wrong token."""
        return self.error(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 "
            "authentication and you can find more details at "
            "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )

    def rate_limited(self, retry_after: str | None) -> web.Response:
        """The 429 with the window headers (body per the widely reproduced format)."""
        headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Max": "100",
            "X-HubSpot-RateLimit-Remaining": "0",
        }
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        body = {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": "TEN_SECONDLY_ROLLING",
        }
        return json_response(body, 429, headers)

    async def upsert(self, request: web.Request) -> web.Response:
        """POST /crm/v3/objects/contacts/batch/upsert."""
        body = request[BODY]
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not inputs:
            return self.error(400, "Invalid input JSON on line 1: inputs is required")
        if len(inputs) > 100:
            return self.error(400, "Batch operations are limited to 100 records at a time.")
        results = []
        for item in inputs:
            if item.get("idProperty") != "email" or not item.get("id"):
                return self.error(400, "idProperty and id are required")
            email = str(item["id"])
            props = dict(item.get("properties") or {})
            if "@" not in email or props.get("email", email) != email:
                return self.error(
                    400,
                    f'Property values were not valid: [{{"isValid":false,"message":'
                    f'"Email address {email} is invalid","error":"INVALID_EMAIL",'
                    f'"name":"email"}}]',
                    errors=[{"message": f"Email address {email} is invalid", "in": "email"}],
                )
            for name, value in props.items():
                if not isinstance(value, str):
                    return self.error(400, f"Property {name} must be a string")
            now = _now()
            existing = self.contacts.get(email.lower())
            if existing is None:
                existing = {"id": str(next(self._ids)), "properties": {}, "createdAt": now}
                self.contacts[email.lower()] = existing
                new = True
            else:
                new = False
            existing["properties"].update(props)
            existing["updatedAt"] = now
            result = {**existing, "archived": False, "new": new}
            if item.get("objectWriteTraceId"):
                result["objectWriteTraceId"] = item["objectWriteTraceId"]
            results.append(result)
        now = _now()
        return json_response(
            {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
        )

    async def create_task(self, request: web.Request) -> web.Response:
        """POST /crm/v3/objects/tasks: hs_timestamp required, associations must resolve."""
        body = request[BODY] or {}
        props = body.get("properties") or {}
        if not props.get("hs_timestamp"):
            return self.error(
                400,
                "Property values were not valid: hs_timestamp is required",
                errors=[{"message": "hs_timestamp is required", "in": "hs_timestamp"}],
            )
        known = {c["id"] for c in self.contacts.values()}
        for assoc in body.get("associations") or []:
            if str(assoc["to"]["id"]) not in known:
                return self.error(400, f"No contact with id {assoc['to']['id']}")
        task_id = str(next(self._ids))
        now = _now()
        task = {
            "id": task_id,
            "properties": props,
            "associations": body.get("associations", []),
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
        }
        self.tasks[task_id] = task
        self._searchable_at[task_id] = time.monotonic() + self.search_lag_s
        return json_response({k: v for k, v in task.items() if k != "associations"}, 201)

    def tasks_with(self, text: str) -> list[dict[str, Any]]:
        """The stored tasks whose body contains `text` (the tests count effects by it)."""
        return [t for t in self.tasks.values() if text in str(t["properties"].get("hs_task_body") or "")]

    async def search_tasks(self, request: web.Request) -> web.Response:
        """POST /crm/v3/objects/tasks/search: filterGroups (OR) of filters (AND); EQ and
        CONTAINS_TOKEN (a whole word, case-insensitive); at most 5 groups of 6 filters, limit <= 200
        (search-the-crm reference)."""
        body = request[BODY]
        if not isinstance(body, dict):
            return self.error(400, "Invalid input JSON")
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or any(len(g.get("filters") or []) > 6 for g in groups):
            return self.error(400, "too many filterGroups or filters")
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or not 1 <= limit <= 200:
            return self.error(400, "limit must be between 1 and 200")

        def hit(task: dict[str, Any], f: dict[str, Any]) -> bool:
            value = str(task["properties"].get(f.get("propertyName"), "") or "")
            wanted = str(f.get("value", ""))
            if f.get("operator") == "EQ":
                return value == wanted
            if f.get("operator") == "CONTAINS_TOKEN":
                return wanted.lower() in re.findall(r"[a-z0-9]+", value.lower())
            raise ValueError(f.get("operator"))

        try:
            now = time.monotonic()
            found = [
                t for t in self.tasks.values()
                if self._searchable_at.get(t["id"], 0.0) <= now
                and (not groups or any(all(hit(t, f) for f in g.get("filters") or []) for g in groups))
            ]
        except ValueError as exc:
            return self.error(400, f"unsupported operator {exc}")
        wanted = body.get("properties") or ["hs_task_subject", "hs_timestamp"]
        results = [
            {"id": t["id"], "properties": {k: t["properties"].get(k) for k in wanted} | {"hs_object_id": t["id"]},
             "createdAt": t["createdAt"], "updatedAt": t["updatedAt"], "archived": False}
            for t in found[:limit]
        ]
        return json_response({"total": len(found), "results": results})
