"""HubSpot CRM v3: upsert contacts by e-mail and create follow-up tasks associated with them.

Contacts go through batch upsert with `idProperty=email`, so a redelivery updates the same
contact (https://developers.hubspot.com/docs/api/crm/contacts). Tasks have no idempotency key
and no upsert (https://developers.hubspot.com/docs/api/crm/tasks), so the created task id is
kept in the id map under the action's idempotency key and a repeat is skipped. Every task's body
ends with a line carrying a token made from the idempotency key; a task whose answer was lost
(timeout, dropped connection, 5xx, crash before the id map write) is looked up by that token
through CRM search (POST /crm/v3/objects/tasks/search, CONTAINS_TOKEN,
https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm) before any retry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from services.common.config import ActionConfig, AtLeast0, TargetConfig, TargetSpec, about
from services.common.errors import ConfigError
from services.sync.connectors._vendor_http import (
    HttpConnectorMixin,
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
    marker_token,
    with_marker,
)
from services.sync.errors import Ambiguous, Permanent, parse_retry_after

# Event fields -> HubSpot's default contact properties.
CONTACT_DEFAULTS = {
    "email": "{{ person.email }}",
    # Split from the full name where only that was given (Tally, Stripe, one-field forms).
    "firstname": "{{ person.given_name }}",
    "lastname": "{{ person.family_name }}",
    "phone": "{{ person.phone }}",
    "company": "{{ person.company }}",
}
CONTACT_OPTIONAL = ("jobtitle", "website", "address", "city", "zip", "country", "lifecyclestage")
TASK_CONTACT_ASSOCIATION = 204  # task -> contact, HUBSPOT_DEFINED (tasks guide)
task_token = marker_token  # the token a task's body ends with (searched with CONTAINS_TOKEN)


class HubspotConfig(TargetConfig, frozen=True, kw_only=True):
    """HubSpot: `secret`/`secret_env` is the private-app (or OAuth) access token."""

    base_url: Annotated[str, about("HubSpot's API base URL.")] = "https://api.hubapi.com"
    timeout_s: Annotated[float, AtLeast0, about("Seconds per call; 0: the sync delivery timeout.")] = 0.0
    task_type: Annotated[str, about("The type of created tasks: EMAIL, CALL or TODO.", "CALL")] = "TODO"
    task_priority: Annotated[str, about("LOW, MEDIUM or HIGH; empty: HubSpot's default.", "HIGH")] = ""
    owner_id: Annotated[str, about("The hubspot_owner_id of created tasks.", "12345678")] = ""
    # A DAILY 429 must not be retried before midnight in the portal's time zone.
    portal_timezone: Annotated[str, about("The HubSpot account's time zone.", "Europe/Amsterdam")] = "UTC"
    # HubSpot: "It may take a few moments for newly created or updated CRM objects to appear in
    # search results" (search-the-crm guide); Okta's HubSpot connector advises waiting 10 s.
    search_lag_s: Annotated[float, AtLeast0, about(
        "Seconds HubSpot's CRM search may take to show a new task. A task whose create lost its answer "
        "is looked up only this long after the attempt, so that 'not found' means not made; raise it if "
        "your account's search lags more (a duplicate task is the cost of too little).", 30
    )] = 10.0

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.portal_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown portal_timezone {self.portal_timezone!r}") from None


def hubspot_message(data: Any) -> str:
    """The human message of a HubSpot error body (plus the per-field messages)."""
    parts = [str(data.get("message") or "")]
    for item in data.get("errors") or []:
        if isinstance(item, dict) and item.get("message") and item["message"] not in parts:
            parts.append(str(item["message"]))
    return "; ".join(p for p in parts if p)


def _properties(fields: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    # Empty values are left out: sending "" would wipe what HubSpot already has.
    return {name: fields[name] for name in names if fields.get(name, "") != ""}


class HubspotConnector(HttpConnectorMixin, Connector):
    """HubSpot CRM: `upsert_contact` (natural key: e-mail) and `create_task` (id map)."""

    kind: ClassVar[str] = "hubspot"
    needs_secret = True
    Config = HubspotConfig
    actions = {
        "upsert_contact": ActionSpec(
            description="create or update the contact with this e-mail; returns the contact id",
            required=("email",),
            defaults=CONTACT_DEFAULTS,
            optional=CONTACT_OPTIONAL,
        ),
        "create_task": ActionSpec(
            description="create a task associated with the contact (upserted by e-mail first)",
            required=("email", "subject"),
            defaults={
                **CONTACT_DEFAULTS,
                "subject": "Follow up {{ person.display_name }}",
                "body": "{{ event.type }} from {{ event.source }} ({{ event.subject }})",
            },
            optional=("priority",),
        ),
    }
    idempotency = "natural"
    repeats: ClassVar[dict[str, Repeat]] = {"create_task": "lookup"}
    config: HubspotConfig

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
            raise ConfigError(f"targets.{self.name}.secret", "HubSpot needs an access token")
        self.contact_locks = KeyedLocks()
        await self._open_http()

    async def close(self) -> None:
        """Close a privately opened session."""
        await self._close_http()

    def _retry_after(self, status: int, headers: Mapping[str, str], data: Any) -> float | None:
        # https://developers.hubspot.com/docs/api/usage-details: Retry-After when sent, else
        # wait out the window the interval header names; DAILY waits for the portal's midnight.
        seconds = parse_retry_after(headers.get("Retry-After"))
        if seconds is not None or status != 429:
            return seconds
        if isinstance(data, dict) and data.get("policyName") == "DAILY":
            tz = ZoneInfo(self.config.portal_timezone)
            now = dt.datetime.now(tz)
            midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tz)
            return (midnight - now).total_seconds()
        interval = header_seconds(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
        return interval / 1000 if interval is not None else None

    async def _call(self, method: str, path: str, body: Any) -> Any:
        assert self.spec.secret is not None
        answer = await send_json(
            self.session,
            method,
            self.config.base_url.rstrip("/") + path,
            target=f"hubspot {self.name}",
            timeout_s=self.config.timeout_s or self.ctx.timeout_s,
            body=body,
            headers={"Authorization": f"Bearer {self.spec.secret.reveal()}"},
            message_of=hubspot_message,
            retry_after_of=self._retry_after,
        )
        return answer.data

    async def _upsert_contact(self, request: ActionRequest) -> tuple[str, bool]:
        email = request.fields.get("email", "").strip()
        if not email:
            raise Permanent("hubspot: the contact has no e-mail address to upsert by")
        properties = _properties(request.fields, (*CONTACT_DEFAULTS, *CONTACT_OPTIONAL))
        properties["email"] = email
        body = {
            "inputs": [
                {
                    "id": email,
                    "idProperty": "email",
                    "properties": properties,
                    "objectWriteTraceId": request.idempotency_key,
                }
            ]
        }
        # One e-mail's upserts one at a time in this process: two at once may race inside HubSpot.
        async with self.contact_locks.hold(email.lower()):
            data = await self._call("POST", "/crm/v3/objects/contacts/batch/upsert", body)
        results = data.get("results") if isinstance(data, dict) else None
        if not results:
            # A 207 (or 200) whose only entry is an error: the input was rejected.
            errors = data.get("errors") if isinstance(data, dict) else None
            message = hubspot_message(errors[0]) if errors else "no result in the upsert answer"
            raise Permanent(f"hubspot {self.name}: contact upsert rejected: {message}")
        result = results[0]
        return str(result["id"]), bool(result.get("new", False))

    async def _create_task(self, request: ActionRequest) -> Delivered:
        key = f"task:{request.idempotency_key}"
        existing = await self.idmap.idmap_get(self.name, key)
        if existing:
            return Delivered(external_id=existing, detail="task already created")
        days = working_days_option(request.options)
        contact_id, _ = await self._upsert_contact(request)
        due = add_working_days(request.event.time.astimezone(dt.UTC), days)
        properties = {
            "hs_timestamp": due.strftime("%Y-%m-%dT%H:%M:%S.") + f"{due.microsecond // 1000:03d}Z",
            "hs_task_subject": request.fields["subject"],
            "hs_task_body": with_marker(request.fields.get("body", ""), request.idempotency_key),
            "hs_task_status": "NOT_STARTED",
            "hs_task_type": str(request.options.get("task_type", self.config.task_type)),
        }
        priority = request.fields.get("priority") or self.config.task_priority
        if priority:
            properties["hs_task_priority"] = priority
        if self.config.owner_id:
            properties["hubspot_owner_id"] = self.config.owner_id
        body = {
            "properties": properties,
            "associations": [
                {
                    "to": {"id": contact_id},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": TASK_CONTACT_ASSOCIATION,
                        }
                    ],
                }
            ],
        }
        data = await self._call("POST", "/crm/v3/objects/tasks", body)
        task_id = str(data["id"])
        await self.idmap.idmap_put(self.name, key, task_id)
        return Delivered(external_id=task_id, detail=f"task for contact {contact_id}")

    def check_hint(self, request: ActionRequest) -> str:
        """Where the owner finds the task in doubt."""
        return (f"HubSpot's tasks of the contact {request.fields.get('email', '')!r} whose body ends with "
                f"{marker_line(request.idempotency_key)!r}")

    async def reconcile(self, request: ActionRequest) -> Delivered | None:
        """Find a task by the token in its body (CRM search), confirmed on the whole marker line."""
        token = task_token(request.idempotency_key)
        body = {
            "filterGroups": [
                {"filters": [{"propertyName": "hs_task_body", "operator": "CONTAINS_TOKEN", "value": token}]}
            ],
            "properties": ["hs_task_body", "hs_task_subject"],
            "limit": 10,
        }
        data = await self._call("POST", "/crm/v3/objects/tasks/search", body)
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise Ambiguous(self.ambiguity(request, "the task search answered without results"))
        line = marker_line(request.idempotency_key)
        ours = [
            str(task["id"]) for task in data["results"]
            if line in str((task.get("properties") or {}).get("hs_task_body") or "")
        ]
        if len(ours) > 1:
            raise Ambiguous(self.ambiguity(request, f"{len(ours)} tasks carry its marker: {', '.join(ours)}"))
        if not ours:
            return None
        await self.idmap.idmap_put(self.name, f"task:{request.idempotency_key}", ours[0])
        return Delivered(external_id=ours[0], detail="task found by its marker")

    async def deliver(self, request: ActionRequest) -> Delivered:
        """Perform `upsert_contact` or `create_task`."""
        try:
            if request.action == "upsert_contact":
                contact_id, new = await self._upsert_contact(request)
                verb = "created" if new else "updated"
                return Delivered(external_id=contact_id, detail=f"contact {verb}")
            if request.action == "create_task":
                return await self._create_task(request)
        except (KeyError, TypeError, AttributeError, msgspec.ValidationError) as exc:
            raise Permanent(f"hubspot {self.name}: unexpected answer: {exc!r}") from exc
        raise Permanent(f"hubspot: unknown action {request.action!r}")
