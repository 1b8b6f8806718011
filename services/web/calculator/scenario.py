"""Connected handovers from the config, and the typed form merged with them into a scenario."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import msgspec
from aiohttp import web

from calculator import (
    Estimate,
    FieldError,
    Handover,
    HandoverKey,
    Scenario,
    Settings,
    ValidationError,
    make_handover,
    parse_scenario,
)

# Private, but it is the model's own settings parser: a scenario of only connected handovers
# has settings and no typed handover, which parse_scenario refuses.
from calculator.inputs import _parse_settings
from calculator.messages import Text, error
from services.common.appkeys import SETTINGS
from services.common.config import Settings as AppSettings
from services.web.auth import is_admin
from services.web.calculator.form import LINK, ROW, Inputs, form_path

D = Decimal
UNMEASURED_SOURCE = Text("unmeasured")
# What people call a system, mapped to the connector kind that talks to it.
CONNECTOR_ALIASES = {
    "email": "smtp",
    "e-mail": "smtp",
    "mail": "smtp",
    "smtp": "smtp",
    "maildir": "maildir",
    "file": "file",
    "csv": "file",
    "webhook": "http",
    "http": "http",
    "hubspot": "hubspot",
    "pipedrive": "pipedrive",
    "moneybird": "moneybird",
}


def visible_connections(request: web.Request) -> list[Connected]:
    """Return the connected handovers this request may see: all for the owner, none otherwise.

    Their flow names, measured volumes and savings come from the config and the ledger, which
    are the owner's business; an anonymous visitor gets the calculator for typed rows only.
    """
    if not is_admin(request):
        return []
    return connected_handovers(request.app[SETTINGS])


# --- connected handovers from the config --------------------------------------------------------


@dataclass(frozen=True)
class Connected:
    """A flow action with `minutes_saved`: a handover Handover already carries."""

    flow: str
    action: str
    target: str
    kind: str
    key: HandoverKey
    minutes: Decimal
    fields: int

    @property
    def link(self) -> str:
        """Return the id a typed row's "Connected by" field names this flow action with."""
        # Flow names are unique in a config and action keys unique within a flow.
        return f"{self.flow}/{self.action}"


def connected_handovers(settings: AppSettings) -> list[Connected]:
    """Return every flow action with `minutes_saved` as a connected handover."""
    from services.sync.connectors import connector_kinds

    kinds = connector_kinds()
    out = []
    for flow in settings.flows:
        for action in flow.actions:
            if action.minutes_saved is None:
                continue
            target = settings.targets.get(action.target)
            kind = target.kind if target else ""
            names = set(action.fields)
            if kind in kinds:
                try:
                    spec = kinds[kind].action_spec(action.action)
                    names |= set(spec.required) | set(spec.defaults)
                except KeyError:
                    pass
            out.append(
                Connected(
                    flow=flow.name,
                    action=action.key,
                    target=action.target,
                    kind=kind,
                    # The event type is the source side of a flow; the flow name keeps two
                    # flows on the same event and target apart.
                    key=HandoverKey(flow.on, action.target, flow.name, action.key),
                    minutes=_exact(action.minutes_saved),
                    fields=max(len(names), 1),
                )
            )
    return out


def _exact(value: float) -> Decimal:
    # TOML gives floats; 3.0 should read "3" and 0.1 "0.1", not a binary fraction.
    d = D(repr(value))
    return d.quantize(D(1)) if d == d.to_integral_value() else d.normalize()


# What Handover ships for a kind of system rather than a vendor's name ("CRM", "Accounting"):
# the README's own examples, "Contact form → CRM" and "Web shop → Accounting", in three languages.
SYSTEM_CONNECTORS = {
    **dict.fromkeys(("crm", "klantenbestand", "kunderegister"), ("hubspot", "pipedrive")),
    **dict.fromkeys(("accounting", "bookkeeping", "books", "invoicing", "boekhouding",
                     "administratie", "facturatie", "regnskab", "bogholderi", "fakturering"),
                    ("moneybird",)),
    **dict.fromkeys(("email", "mail", "inbox", "confirmation"), ("smtp",)),
    **dict.fromkeys(("webhook", "api", "chat", "slack"), ("http",)),
    **dict.fromkeys(("spreadsheet", "csv", "outbox"), ("file",)),
}  # fmt: skip


def ready_connectors(target: str) -> list[str]:
    """Return the connector kinds Handover ships for a system name ("CRM": hubspot, pipedrive)."""
    from services.sync.connectors import connector_kinds

    kinds = connector_kinds()
    name = re.sub(r"[^a-z0-9-]", "", target.casefold())
    kind = CONNECTOR_ALIASES.get(name, name)
    if kind in kinds:
        return [kind]
    for word in re.findall(r"[^\W\d_]+", target.casefold()):
        found = [k for k in SYSTEM_CONNECTORS.get(word, ()) if k in kinds]
        if found:
            return found
    return []


def ready_connector(target: str) -> str | None:
    """Return the connector kinds Handover ships for a system name, joined, or None."""
    return ", ".join(ready_connectors(target)) or None


@dataclass
class Built:
    """A scenario ready to compute: typed plus connected handovers, and where each came from."""

    scenario: Scenario
    typed: Scenario | None  # only the typed handovers (for the share link); None if none
    connected: dict[HandoverKey, Connected]
    form_row: dict[HandoverKey, int]
    links: dict[int, str]  # typed row (as numbered in `typed`) -> link id it chose
    unlinked: list[tuple[int, Handover]]  # typed rows not merged, with their form row
    # False when the currency followed the page's language: a shared link then leaves it out,
    # so the scenario opened in Danish shows kroner and in English euros.
    currency_chosen: bool = True


def _fold(key: HandoverKey) -> tuple[str, ...]:
    return tuple(s.casefold() for s in key)


def build_scenario(
    inputs: Inputs, connected: list[Connected], lang: str
) -> tuple[Built | None, list[FieldError]]:
    """Parse the typed fields and merge in the connected handovers; return errors by form row."""
    fields = dict(inputs.fields)
    links: dict[int, str] = {}
    for name in list(fields):
        m = ROW.fullmatch(name)
        if m and m.group(2) == LINK:
            links[int(m.group(1))] = fields.pop(name)
    for i in links:
        # A row with only a link chosen is still a row: the model reports what it lacks.
        if not any(ROW.fullmatch(n) and n.startswith(f"handovers[{i}].") for n in fields):
            fields[f"handovers[{i}].source"] = ""
    currency_chosen = "settings.currency" in fields
    if "settings.currency" not in fields and lang == "da":
        fields["settings.currency"] = "DKK"  # Danish readers see kroner unless they chose
    by_link = {c.link: c for c in connected}
    errors = [
        error(f"handovers[{i}].{LINK}", "not_connected", value=_quote(link))
        for i, link in sorted(links.items())
        if link not in by_link
    ]
    has_rows = any(name.startswith("handovers[") for name in fields)
    typed: Scenario | None = None
    parsed = has_rows or not connected
    if parsed:
        try:
            typed = parse_scenario(fields)
        except ValidationError as exc:
            errors = [*exc.errors, *errors]
    if typed is not None:
        settings = typed.settings
    else:
        raw = {k[9:]: v for k, v in fields.items() if k.startswith("settings.")}
        # If parse_scenario ran and failed, it has named any bad setting already: once is enough.
        settings = _parse_settings(raw, [] if parsed else errors)
    if errors:
        return None, _by_form_row(errors, inputs)
    typed_rows = list(typed.handovers) if typed else []
    by_key = {_fold(c.key): c for c in connected}
    claimed: dict[str, int] = {}  # link id -> the typed row that took it
    for i, h in enumerate(typed_rows):
        c = by_link[links[i]] if i in links else by_key.get(_fold(h.key))
        if c is None:
            continue
        if c.link in claimed:
            # Two rows on one connection would count its measured volume twice.
            errors.append(
                error(
                    f"handovers[{i}].{LINK}",
                    "already_linked",
                    value=_quote(c.link),
                    other=f"handovers[{claimed[c.link]}]",
                )
            )
        claimed.setdefault(c.link, i)
    merged: list[Handover] = []
    form_row: dict[HandoverKey, int] = {}
    chosen: dict[HandoverKey, Connected] = {}
    unlinked: list[tuple[int, Handover]] = []
    for i, h in enumerate(typed_rows):
        c = next((by_link[k] for k, row in claimed.items() if row == i), None)
        merged.append(_connected_handover(c, h, settings) if c else h)
        form_row[h.key] = inputs.origin[i]
        if c is not None:
            chosen[h.key] = c
        else:
            unlinked.append((inputs.origin[i], h))
    for c in connected:
        if c.link not in claimed:
            merged.append(_connected_handover(c, None, settings))
            chosen[c.key] = c
    # A row linked elsewhere may still carry another connection's exact key: one of the two
    # would hide the other in every per-key lookup below, so it is refused.
    seen: dict[tuple[str, ...], int] = {}
    for n, h in enumerate(merged):
        first = seen.setdefault(_fold(h.key), n)
        if first != n:
            errors.append(
                error(f"handovers[{first}].action", "duplicate", other=_quote(h.key.label()))
            )
    if errors:
        return None, _by_form_row(errors, inputs)
    scenario = Scenario(tuple(merged), settings)
    kept_links = {i: by_link[link].link for i, link in links.items()}
    return Built(scenario, typed, chosen, form_row, kept_links, unlinked, currency_chosen), []


def _by_form_row(errors: list[FieldError], inputs: Inputs) -> list[FieldError]:
    return [FieldError(form_path(e.path, inputs.origin), e.message) for e in errors]


def _quote(text: str) -> str:
    # Quoted and cut short: the text is the owner's (or an API caller's) and may be anything.
    return repr(text if len(text) <= 60 else text[:60] + "…")


def _connected_handover(c: Connected, typed: Handover | None, settings: Settings) -> Handover:
    # Until the ledger has a complete week, a matching typed volume stands in; otherwise zero,
    # so an unmeasured connection neither inflates nor hides anything. Deliveries may already
    # have happened (in the current, partial week): the source must not say otherwise.
    volume = (
        typed.volume
        if typed is not None
        else Estimate.point(D(0), "default", UNMEASURED_SOURCE)
    )
    minutes = Estimate.point(
        c.minutes, "typed", Text("flow_minutes", flow=c.flow)
    )
    if typed is not None:
        # The owner's labels stay (it is their row); the minutes saved per delivery are the
        # config's, the same figure "already saved" counts with.
        return msgspec.structs.replace(typed, minutes=minutes)
    return make_handover(
        *c.key, volume=volume, minutes=minutes, fields=c.fields, country=settings.country
    )
