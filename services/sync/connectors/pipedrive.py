"""Pipedrive (API v2): find-or-create persons by e-mail and create activities for them.

Pipedrive has no upsert and no Idempotency-Key, and its search index is eventually consistent
(https://developers.pipedrive.com/docs/api/v1/Persons#searchPersons), so Handover's own id map
is the first line of defence: `person:<e-mail>` -> person id (then the exact e-mail search,
then create), and `activity:<idempotency key>` -> activity id, skipped when present. A create
whose answer was lost (timeout, dropped connection, 5xx, crash before the map write) is looked
up before any retry: a person by the exact e-mail search, after the index has caught up; an
activity among its person's activities (GET /api/v2/activities?person_id=, SDK docs/v2.md) by
the marker line Handover writes into its note. One e-mail's person is found or made one call
at a time in this process, and while a create of it is in doubt (noted in the id map before the
POST, so across restarts too) no action makes another until the search can see it. Auth is the
`x-api-token` header, which the official SDK switched to from the `api_token` query parameter
(pipedrive/client-nodejs CHANGELOG, docs/v2.md).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

import msgspec

from services.common.config import ActionConfig, AtLeast0, TargetConfig, TargetSpec, about
from services.common.errors import ConfigError
from services.sync.connectors._vendor_http import (
    HttpConnectorMixin,
    RateGate,
    add_working_days,
    header_seconds,
    send_json,
    working_days_option,
)
from services.sync.connectors.base import (
    ActionRequest,
    ActionSpec,
    Connector,
    ConnectorContext,
    Delivered,
    KeyedLocks,
    Repeat,
    marker_line,
    with_marker,
)
from services.sync.errors import Ambiguous, DeliveryError, Permanent, Transient, parse_retry_after

PERSON_DEFAULTS = {
    "email": "{{ person.email }}",
    "name": "{{ person.display_name }}",
    "phone": "{{ person.phone }}",
}


class PipedriveConfig(TargetConfig, frozen=True, kw_only=True):
    """Pipedrive: `secret`/`secret_env` is the API token; `company_domain` picks the host."""

    base_url: Annotated[str, about("Pipedrive's API base URL.")] = "https://api.pipedrive.com"
    company_domain: Annotated[str, about(
        "Your company's subdomain: \"acme\" calls https://acme.pipedrive.com (with the default base_url).", "acme"
    )] = ""
    timeout_s: Annotated[float, AtLeast0, about("Seconds per call; 0: the sync delivery timeout.")] = 0.0
    activity_type: Annotated[str, about(
        "The key of created activities' type (call, task, meeting, ...).", "call"
    )] = "task"
    owner_id: Annotated[int | None, about("The user who owns created records; unset: the token's user.")] = None
    visible_to: Annotated[int | None, about("Pipedrive's visibility group of created records.", 3)] = None
    # The person search is eventually consistent (Pipedrive's API reference, searchPersons).
    search_lag_s: Annotated[float, AtLeast0, about(
        "Seconds Pipedrive's search may take to show a new person or activity. One whose create lost "
        "its answer is looked up only this long after the attempt, so that 'not found' means not made; "
        "raise it if your account's search lags more (a duplicate is the cost of too little).", 30
    )] = 10.0

    @property
    def root(self) -> str:
        """The API host to call."""
        if self.company_domain and self.base_url == "https://api.pipedrive.com":
            return f"https://{self.company_domain}.pipedrive.com"
        return self.base_url.rstrip("/")


def pipedrive_message(data: Any) -> str:
    """The `error` (and `error_info`) of a Pipedrive error envelope."""
    message = str(data.get("error") or data.get("message") or "")
    code = data.get("code")
    return f"{message} ({code})" if message and code else message


def daily_budget_spent(headers: Mapping[str, str]) -> bool:
    """Whether the answer says the day's budget is used up: the token budget
    (x-daily-ratelimit-token-remaining, sent by Pipedrive's token-based limits though not in
    its docs, and at times missing) or the POST/PUT allowance (x-daily-requests-left)."""
    return any(
        headers.get(name, "").strip() == "0"
        for name in ("x-daily-ratelimit-token-remaining", "x-daily-requests-left")
    )


def seconds_to_budget_reset(now: float | None = None) -> float:
    """Seconds until the next midnight UTC, when Pipedrive's daily budget starts again."""
    moment = dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC)
    midnight = dt.datetime.combine(moment.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    return (midnight - moment).total_seconds() + 1.0  # a second past: the new day has begun


def pipedrive_retry_after(status: int, headers: Mapping[str, str], data: Any) -> float | None:
    """Retry-After on 429; else the daily budget's reset when the day's budget is spent; else
    x-ratelimit-reset (seconds left in the 2-s window)."""
    # https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting: once the daily budget
    # is exhausted, requests are blocked "until the budget resets at the start of the next day";
    # the POST/PUT allowance resets "at midnight in UTC" (changelog daily-api-limit-for-postput-endpoints).
    seconds = parse_retry_after(headers.get("Retry-After"))
    if seconds is None and status == 429:
        if daily_budget_spent(headers):
            return seconds_to_budget_reset()
        seconds = header_seconds(headers, "x-ratelimit-reset")
    return seconds


class PipedriveConnector(HttpConnectorMixin, Connector):
    """Pipedrive: `upsert_person` and `create_activity` (person as primary participant)."""

    kind: ClassVar[str] = "pipedrive"
    needs_secret = True
    Config = PipedriveConfig
    actions = {
        "upsert_person": ActionSpec(
            description="find the person by e-mail (id map, then search) and update, else create",
            required=("email",),
            defaults=PERSON_DEFAULTS,
        ),
        "create_activity": ActionSpec(
            description="create an activity with the person (found or created) as participant",
            required=("email", "subject"),
            defaults={
                **PERSON_DEFAULTS,
                "subject": "Follow up {{ person.display_name }}",
                "note": "{{ event.type }} from {{ event.source }} ({{ event.subject }})",
            },
            optional=("due_time", "type"),
        ),
    }
    idempotency = "natural"
    repeats: ClassVar[dict[str, Repeat]] = {"upsert_person": "lookup", "create_activity": "lookup"}
    config: PipedriveConfig

    def __init__(self, spec: TargetSpec, ctx: ConnectorContext) -> None:
        super().__init__(spec, ctx)
        self.reconcile_after_s = self.config.search_lag_s

    @classmethod
    def check_action(cls, action: ActionConfig, path: str, event_type: str) -> None:
        """Also check the `due_in_working_days` option when it is given."""
        super().check_action(action, path, event_type)
        try:
            working_days_option(action.options)
        except Permanent as exc:
            raise ConfigError(f"{path}.options.due_in_working_days", exc.message) from None

    async def start(self) -> None:
        """Check the token is configured and borrow (or open) the HTTP session."""
        if not self.spec.secret:
            raise ConfigError(f"targets.{self.name}.secret", "Pipedrive needs an API token")
        self.gate = RateGate()
        self.person_locks = KeyedLocks()
        await self._open_http()

    async def close(self) -> None:
        """Close a privately opened session."""
        await self._close_http()

    def _note_rate(self, headers: Mapping[str, str]) -> None:
        # Every answer carries x-ratelimit-remaining/-reset: at 0, wait out the window
        # instead of spending a request on a certain 429.
        if headers.get("x-ratelimit-remaining", "").strip() == "0":
            reset = header_seconds(headers, "x-ratelimit-reset")
            self.gate.hold_for(reset if reset is not None else 2.0)
        if daily_budget_spent(headers):  # the day's budget: wait for it, not for the window
            self.gate.hold_for(seconds_to_budget_reset())

    async def _call(
        self, method: str, path: str, body: Any = None, params: Mapping[str, str] | None = None
    ) -> Any:
        assert self.spec.secret is not None
        self.gate.check(f"pipedrive {self.name}")
        answer = await send_json(
            self.session,
            method,
            self.config.root + path,
            target=f"pipedrive {self.name}",
            timeout_s=self.config.timeout_s or self.ctx.timeout_s,
            body=body,
            params=params,
            headers={"x-api-token": self.spec.secret.reveal()},
            message_of=pipedrive_message,
            retry_after_of=pipedrive_retry_after,
            on_headers=self._note_rate,
        )
        data = answer.data
        if not isinstance(data, dict) or data.get("success") is False:
            raise Permanent(f"pipedrive {self.name}: unexpected answer {answer.text[:300]!r}")
        return data.get("data")

    def _person_body(self, fields: Mapping[str, str], *, create: bool) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if fields.get("name"):
            body["name"] = fields["name"]
        if create:
            body["emails"] = [{"value": fields["email"].strip(), "primary": True, "label": "work"}]
            if self.config.owner_id is not None:
                body["owner_id"] = self.config.owner_id
            if self.config.visible_to is not None:
                body["visible_to"] = self.config.visible_to
        if fields.get("phone"):
            # Phones are sent as text, exactly as given: leading zeros and '+' matter.
            body["phones"] = [{"value": fields["phone"], "primary": True, "label": "work"}]
        return body

    async def _search(self, email: str) -> str | None:
        data = await self._call(
            "GET",
            "/api/v2/persons/search",
            params={"term": email, "fields": "email", "exact_match": "true", "limit": "1"},
        )
        items = (data or {}).get("items") or []
        return str(items[0]["item"]["id"]) if items else None

    async def _person(self, fields: Mapping[str, str]) -> tuple[str, str]:
        """The person id for the e-mail in `fields`, updated or created; and what was done."""
        email = fields.get("email", "").strip()
        if not email:
            raise Permanent("pipedrive: the person has no e-mail address to match on")
        # Pipedrive keeps no e-mail unique: two calls for one e-mail at once would make two.
        async with self.person_locks.hold(email.lower()):
            return await self._person_of(email, fields)

    async def _person_of(self, email: str, fields: Mapping[str, str]) -> tuple[str, str]:
        key = f"person:{email.lower()}"
        person_id = await self.idmap.idmap_get(self.name, key)
        if person_id is None:
            person_id = await self._search(email)
        if person_id is not None:
            body = self._person_body(fields, create=False)
            try:
                if body:
                    await self._call("PATCH", f"/api/v2/persons/{person_id}", body)
            except Permanent as exc:
                if exc.status != 404:
                    raise
                person_id = None  # deleted in Pipedrive since we mapped it: create anew
            else:
                await self.idmap.idmap_put(self.name, key, person_id)
                return person_id, "updated"
        if not fields.get("name"):
            raise Permanent("pipedrive: a new person needs a name")
        # A create of this person whose answer was lost (by any action, in this process or one
        # that died) may have made it, and the search cannot see it before its index catches up:
        # until then no second create (the chaos run's buyers got two and three persons).
        pending = await self.idmap.idmap_get(self.name, f"person-create:{email.lower()}")
        wait = float(pending) + self.reconcile_after_s - time.time() if pending else 0.0
        if wait > 0:
            raise Transient(
                f"pipedrive {self.name}: a create of the person {email!r} is in doubt; "
                "waiting for the person search to catch up before creating it",
                retry_after=wait, sent=False,
            )
        await self.idmap.idmap_put(self.name, f"person-create:{email.lower()}", repr(time.time()))
        try:
            data = await self._call("POST", "/api/v2/persons", self._person_body(fields, create=True))
        except DeliveryError as exc:
            if not (isinstance(exc, Transient) and exc.sent):
                # Refused before any work (a 4xx, a 429, no connection): nothing to wait for.
                await self.idmap.idmap_put(self.name, f"person-create:{email.lower()}", "")
            raise
        person_id = str(data["id"])
        await self.idmap.idmap_put(self.name, key, person_id)
        return person_id, "created"

    async def _activity(self, request: ActionRequest) -> Delivered:
        key = f"activity:{request.idempotency_key}"
        existing = await self.idmap.idmap_get(self.name, key)
        if existing:
            return Delivered(external_id=existing, detail="activity already created")
        days = working_days_option(request.options)
        person_id, _ = await self._person(request.fields)
        due = add_working_days(request.event.time, days)
        body: dict[str, Any] = {
            "subject": request.fields["subject"],
            "type": request.fields.get("type") or self.config.activity_type,
            "due_date": due.date().isoformat(),
            # v2 makes person_id read-only on create: the primary participant sets it
            # (https://devcommunity.pipedrive.com/t/api-v1-to-v2-upgrade-post-activities-http-400-responses/19734).
            "participants": [{"person_id": int(person_id), "primary": True}],
        }
        if request.fields.get("due_time"):
            body["due_time"] = request.fields["due_time"]
        body["note"] = with_marker(request.fields.get("note", ""), request.idempotency_key)
        if self.config.owner_id is not None:
            body["owner_id"] = self.config.owner_id
        data = await self._call("POST", "/api/v2/activities", body)
        activity_id = str(data["id"])
        await self.idmap.idmap_put(self.name, key, activity_id)
        return Delivered(external_id=activity_id, detail=f"activity for person {person_id}")

    def check_hint(self, request: ActionRequest) -> str:
        """Where the owner finds the record in doubt."""
        email = request.fields.get("email", "").strip()
        if request.action == "upsert_person":
            return f"Pipedrive's persons with the e-mail {email!r} (merge duplicates)"
        line = marker_line(request.idempotency_key)
        return f"the activities of Pipedrive's person {email!r} whose note ends with {line!r}"

    async def reconcile(self, request: ActionRequest) -> Delivered | None:
        """An activity by its person and its note's marker; for a person, None either way (an
        upsert is safe to repeat once the person, if there, is in the id map)."""
        email = request.fields.get("email", "").strip()
        if not email:
            return None  # never sent: the action needs an e-mail before any request
        person_id = await self.idmap.idmap_get(self.name, f"person:{email.lower()}") or await self._search(email)
        if request.action == "upsert_person":
            if person_id is not None:
                # Found: the update is safe to repeat; the id map sends it to this person.
                await self.idmap.idmap_put(self.name, f"person:{email.lower()}", person_id)
            return None
        if person_id is None:
            return None  # an activity is created only after its person's id is in the id map
        line = marker_line(request.idempotency_key)
        ours: list[str] = []
        cursor = ""
        while True:
            params = {"person_id": person_id, "limit": "500", **({"cursor": cursor} if cursor else {})}
            envelope = await self._list("/api/v2/activities", params)
            ours += [str(a["id"]) for a in envelope.get("data") or [] if line in str(a.get("note") or "")]
            cursor = str(((envelope.get("additional_data") or {}).get("next_cursor")) or "")
            if not cursor:
                break
        if len(ours) > 1:
            raise Ambiguous(self.ambiguity(request, f"{len(ours)} activities carry its marker: {', '.join(ours)}"))
        if not ours:
            return None
        await self.idmap.idmap_put(self.name, f"activity:{request.idempotency_key}", ours[0])
        return Delivered(external_id=ours[0], detail=f"activity found for person {person_id}")

    async def _list(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        """A v2 list answer's whole envelope (data plus additional_data.next_cursor)."""
        assert self.spec.secret is not None
        self.gate.check(f"pipedrive {self.name}")
        answer = await send_json(
            self.session, "GET", self.config.root + path, target=f"pipedrive {self.name}",
            timeout_s=self.config.timeout_s or self.ctx.timeout_s, params=params,
            headers={"x-api-token": self.spec.secret.reveal()}, message_of=pipedrive_message,
            retry_after_of=pipedrive_retry_after, on_headers=self._note_rate,
        )
        if not isinstance(answer.data, dict) or answer.data.get("success") is False:
            raise Permanent(f"pipedrive {self.name}: unexpected answer {answer.text[:300]!r}")
        return answer.data

    async def deliver(self, request: ActionRequest) -> Delivered:
        """Perform `upsert_person` or `create_activity`."""
        try:
            if request.action == "upsert_person":
                person_id, verb = await self._person(request.fields)
                return Delivered(external_id=person_id, detail=f"person {verb}")
            if request.action == "create_activity":
                return await self._activity(request)
        except (KeyError, TypeError, ValueError, AttributeError, msgspec.ValidationError) as exc:
            raise Permanent(f"pipedrive {self.name}: unexpected answer: {exc!r}") from exc
        raise Permanent(f"pipedrive: unknown action {request.action!r}")
