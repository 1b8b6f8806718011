"""A fake Pipedrive API v2: persons (with an eventually consistent search) and activities."""

from __future__ import annotations

import asyncio
import itertools
import re
from typing import Any

from aiohttp import web

from tests.sync.fakes import BODY, FakeVendor, json_response

INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."


class FakePipedrive(FakeVendor):
    """Persons and activities with integer ids; rate-limit headers on every answer."""

    def __init__(self, token: str = "test-token") -> None:
        super().__init__(token)
        self._ids = itertools.count(8_201)
        self.persons: dict[int, dict[str, Any]] = {}
        self.activities: dict[int, dict[str, Any]] = {}
        self.indexed: set[int] = set()  # persons the search can see yet
        self.index_immediately = True
        # > 0: a new person becomes searchable this many seconds after its create, as
        # Pipedrive's eventually consistent search index does (SDK docs, searchPersons).
        self.index_lag_s = 0.0
        self.remaining = 39

    def routes(self, app: web.Application) -> None:
        """Person search/create/update and activity create."""
        app.router.add_get("/api/v2/persons/search", self.search)
        app.router.add_post("/api/v2/persons", self.create_person)
        app.router.add_patch("/api/v2/persons/{id}", self.update_person)
        app.router.add_post("/api/v2/activities", self.create_activity)
        app.router.add_get("/api/v2/activities", self.list_activities)

    def authorized(self, request: web.Request) -> bool:
        """x-api-token header (or the legacy api_token query parameter)."""
        token = request.headers.get("x-api-token") or request.query.get("api_token")
        return token == self.token

    def _rate_headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {
            "x-ratelimit-limit": "40",
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": "2",
            "x-daily-requests-left": "9999",
            **(extra or {}),
        }

    def ok(self, data: Any, status: int = 200) -> web.Response:
        """The success envelope."""
        return json_response({"success": True, "data": data}, status, self._rate_headers())

    def error(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        code: str = "ERR_BAD_REQUEST",
    ) -> web.Response:
        """Pipedrive's error envelope (changelog example)."""
        body = {
            "success": False,
            "error": message,
            "error_info": INFO,
            "data": None,
            "additional_data": None,
            "code": code,
        }
        return json_response(body, status, self._rate_headers(headers))

    def unauthorized(self) -> web.Response:
        """Pipedrive's 401."""
        body = {
            "success": False,
            "error": "unauthorized access",
            "errorCode": 401,
            "error_info": INFO,
        }
        return json_response(body, 401, self._rate_headers())

    def rate_limited(self, retry_after: str | None) -> web.Response:
        """429 with the window headers at zero."""
        headers = self._rate_headers({"x-ratelimit-remaining": "0"})
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        body = {
            "success": False,
            "error": "Request over limit",
            "errorCode": 429,
            "error_info": INFO,
        }
        return json_response(body, 429, headers)

    def reindex(self) -> None:
        """Let the search see every person created so far."""
        self.indexed = set(self.persons)

    async def search(self, request: web.Request) -> web.Response:
        """GET /api/v2/persons/search (term >= 2 chars; exact match is case-insensitive)."""
        term = request.query.get("term", "")
        if len(term) < 2:
            return self.error(400, "term must be at least 2 characters long")
        exact = request.query.get("exact_match") == "true"
        items = []
        for pid in sorted(self.indexed):
            person = self.persons.get(pid)
            if person is None:
                continue
            emails = [e["value"].lower() for e in person.get("emails", [])]
            hit = term.lower() in emails if exact else any(term.lower() in e for e in emails)
            if hit:
                items.append(
                    {
                        "result_score": 1.0,
                        "item": {
                            "id": pid,
                            "type": "person",
                            "name": person["name"],
                            "emails": emails,
                        },
                    }
                )
        return self.ok({"items": items})

    def _check_person(self, body: dict[str, Any], create: bool) -> str | None:
        if create and not body.get("name"):
            return "Validation failed: name: Required"
        for kind in ("emails", "phones"):
            for entry in body.get(kind) or []:
                if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
                    return f"Validation failed: {kind}: value must be a string"
        return None

    async def create_person(self, request: web.Request) -> web.Response:
        """POST /api/v2/persons."""
        body = request[BODY] or {}
        problem = self._check_person(body, create=True)
        if problem:
            return self.error(400, problem)
        pid = next(self._ids)
        person = {"id": pid, **body}
        self.persons[pid] = person
        if self.index_lag_s > 0:
            asyncio.get_running_loop().call_later(self.index_lag_s, self.indexed.add, pid)
        elif self.index_immediately:
            self.indexed.add(pid)
        return self.ok(person)

    async def update_person(self, request: web.Request) -> web.Response:
        """PATCH /api/v2/persons/{id}."""
        pid = int(request.match_info["id"])
        if pid not in self.persons:
            return self.error(404, "Person not found", code="ERR_NOT_FOUND")
        body = request[BODY] or {}
        problem = self._check_person(body, create=False)
        if problem:
            return self.error(400, problem)
        self.persons[pid].update(body)
        return self.ok(self.persons[pid])

    async def create_activity(self, request: web.Request) -> web.Response:
        """POST /api/v2/activities: person_id is read-only, participants set it."""
        body = request[BODY] or {}
        if "person_id" in body:
            return self.error(
                400,
                "'person_id' is a read-only field. Add a primary participant "
                "to set 'person_id' instead.",
            )
        if not body.get("subject"):
            return self.error(400, "Validation failed: subject: Required")
        if body.get("due_date") and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", body["due_date"]):
            return self.error(400, "Validation failed: due_date: must be YYYY-MM-DD")
        if body.get("due_time") and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", body["due_time"]):
            return self.error(400, "Validation failed: due_time: must be HH:MM")
        primary = [p for p in body.get("participants") or [] if p.get("primary")]
        for p in body.get("participants") or []:
            if p.get("person_id") not in self.persons:
                return self.error(400, f"Person {p.get('person_id')} not found")
        aid = next(self._ids)
        activity = {"id": aid, **body, "person_id": primary[0]["person_id"] if primary else None}
        self.activities[aid] = activity
        return self.ok(activity, 201)

    def activities_with(self, text: str) -> list[dict[str, Any]]:
        """The stored activities whose note contains `text` (the tests count effects by it)."""
        return [a for a in self.activities.values() if text in str(a.get("note") or "")]

    def persons_with(self, email: str) -> list[dict[str, Any]]:
        """The stored persons with this e-mail."""
        return [p for p in self.persons.values()
                if email.lower() in [e["value"].lower() for e in p.get("emails", [])]]

    async def list_activities(self, request: web.Request) -> web.Response:
        """GET /api/v2/activities?person_id=&limit=&cursor= (the primary participant's), cursor
        paging with additional_data.next_cursor (SDK activities-api getActivities)."""
        try:
            limit = int(request.query.get("limit", "100"))
            person = int(request.query["person_id"]) if "person_id" in request.query else None
            start = int(request.query.get("cursor", "0"))
        except ValueError:
            return self.error(400, "invalid query parameter")
        if not 1 <= limit <= 500:
            return self.error(400, "limit must be between 1 and 500")
        found = [a for a in self.activities.values() if person is None or a.get("person_id") == person]
        page = found[start:start + limit]
        more = start + limit < len(found)
        body = {"success": True, "data": page, "additional_data": {"next_cursor": str(start + limit) if more else None}}
        return json_response(body, 200, self._rate_headers())
