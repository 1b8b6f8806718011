"""The time-wasters calculator page (`/`), its JSON API (`/api/calculator`) and CSV export.

Two kinds of handover meet here. *Connected* ones are the flow actions in the config that have
`minutes_saved`: their weekly volume is measured from the ledger (through a `CalculatorStore`).
*Typed* ones are what the owner still does by hand, with volumes typed in; for the logged-in
owner (services.web.auth.is_admin) they are saved in the store so nobody retypes them, and the whole typed
scenario also travels in a `?share=` link (which is how anyone else keeps a scenario: `/` is
public, so an anonymous visitor's scenario is never saved, nor the saved one shown to them).
Everything taken from the ledger or the config's flows (connected rows, measured volumes,
"already saved", flow names) is the owner's too: an anonymous visitor computes typed handovers
only, and any "Connected by" link they send (or a share link carries) is dropped, the row
counted as typed (see visible_connections).
A typed row says which connected flow action carries it through its "Connected by" field
(`handovers[i].connected`, a link id `<flow name>/<action key>`): the two are then one
handover, shown under the owner's labels, with the typed volume standing in until the ledger
has measured a week, and the measured volume replacing it after that (never both). Nobody is
expected to type the internal key, so a fuzzy match (same system name, or the connector kind
the typed target would use) is only suggested on the page, never merged by itself; a typed row
whose source, target, record type and action equal the connected key exactly still merges.

The pure model lives in `calculator`; this module only gathers inputs, calls it and renders.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import msgspec
from aiohttp import web
from markupsafe import Markup

from calculator import (
    Estimate,
    FieldError,
    Handover,
    HandoverKey,
    Observation,
    Scenario,
    ScenarioResult,
    Settings,
    ValidationError,
    already_saved,
    compute,
    convert,
    decode_fields,
    encode_fields,
    make_handover,
    minutes_per_dead_letter,
    parse_scenario,
    scenario_to_form,
    show_math,
    to_csv,
)
from calculator import defaults as model_defaults

# Private, but it is the model's own settings parser: a scenario of only connected handovers
# has settings and no typed handover, which parse_scenario refuses.
from calculator.inputs import _parse_settings
from calculator.model import Block, HandoverResult, Range, Savings, sum_savings
from calculator.volumes import ActionVolume
from services.common.appkeys import SETTINGS
from services.common.config import Settings as AppSettings
from services.web import i18n, svg
from services.web.auth import is_admin
from services.web.csrf import FIELD as CSRF_FIELD
from services.web.csrf import csrf_protect, csrf_token, set_csrf_cookie, setup_csrf

D = Decimal
WINDOW_WEEKS = model_defaults.DEFAULT_WINDOW_WEEKS
UNMEASURED_SOURCE = "Connected; no full week measured yet: counted as 0 a week until one is."
SHARE = "share"
POINTS = ("low", "likely", "high")
ESTIMATES = ("volume", "minutes", "field_error_percent", "fix_minutes", "hourly_cost")
TEXTS = ("source", "target", "record_type", "action")
# The web page's own row field, not the model's: stripped before parse_scenario.
LINK = "connected"
ROW_FIELDS = (
    *TEXTS,
    LINK,
    "fields",
    "chars_per_field",
    *(f"{name}.{point}" for name in ESTIMATES for point in POINTS),
)
SETTING_FIELDS = (
    "country",
    "currency",
    "working_weeks_per_year",
    "hours_per_week",
    "dead_letter_minutes",
)
_ROW = re.compile(r"handovers\[(\d{1,4})\]\.(.+)")
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


# --- measured data -----------------------------------------------------------------------------


class CalculatorStore(Protocol):
    """Where the calculator reads measured volumes and keeps the owner's typed handovers."""

    async def action_volumes(self, weeks: int) -> list[ActionVolume]:
        """Return one ActionVolume per (flow name, action key, target) delivered to so far.

        Only actions with at least one delivery, dead letter or event need a row; the weekly
        counts cover at most the last `weeks` complete weeks (see ActionVolume).
        """
        ...

    async def load_typed(self) -> dict[str, str] | None:
        """Return the saved typed scenario as flat form fields, or None if nothing is saved.

        The mapping is exactly what `save_typed` was given: names like "settings.country" or
        "handovers[0].volume.likely", values strings; `calculator.parse_scenario` reads it.
        """
        ...

    async def save_typed(self, data: dict[str, str]) -> None:
        """Replace the saved typed scenario with these flat form fields (str -> str)."""
        ...


class MemoryCalculatorStore:
    """A CalculatorStore in memory: for tests and for processes without a ledger database."""

    def __init__(
        self, volumes: list[ActionVolume] | None = None, typed: dict[str, str] | None = None
    ) -> None:
        self.volumes = list(volumes or [])
        self.typed = dict(typed) if typed is not None else None

    async def action_volumes(self, weeks: int) -> list[ActionVolume]:
        """Return the given volumes, each cut to its last `weeks` weeks."""
        return [
            msgspec.structs.replace(v, weekly_delivered=v.weekly_delivered[-weeks:])
            for v in self.volumes
        ]

    async def load_typed(self) -> dict[str, str] | None:
        """Return a copy of the saved typed fields, or None."""
        return dict(self.typed) if self.typed is not None else None

    async def save_typed(self, data: dict[str, str]) -> None:
        """Keep a copy of the typed fields."""
        self.typed = dict(data)


CALCULATOR_STORE = web.AppKey("calculator_store", CalculatorStore)


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


# --- inputs --------------------------------------------------------------------------------------


@dataclass
class Inputs:
    """The typed form after cleaning: blank rows dropped, rows renumbered from 0."""

    fields: dict[str, str]  # renumbered, for the model and the store
    rows: list[dict[str, str]]  # per kept row, its fields without the prefix (for the form)
    origin: list[int]  # kept row i came from form row origin[i]
    # the settings as the form shows them (the page's decimal comma), without the prefix
    settings_shown: dict[str, str] = field(default_factory=dict)


def clean_form(
    data: Mapping[str, Any], lang: str, *, typed: bool = True, links: bool = True
) -> tuple[Inputs, list[FieldError]]:
    """Return the typed fields without blank rows, renumbered, plus errors for unknown names.

    With `typed`, text values were typed by a person on a page in `lang`: a decimal comma is
    read in Dutch and Danish, and a thousands separator is refused there (i18n.
    read_decimal_input). A saved scenario or a share link holds the model's own dot-decimal
    text ("2.125" is two and a bit, not 2125): those pass typed=False. Numbers that are not
    text (JSON numbers) are never read as localized text. Without `links` (an anonymous
    visitor, see visible_connections) every "Connected by" value is dropped: the row is typed.
    """
    errors: list[FieldError] = []
    settings: dict[str, str] = {}
    settings_shown: dict[str, str] = {}
    rows: dict[int, dict[str, str]] = {}  # the model's text
    shown: dict[int, dict[str, str]] = {}  # the form's text: as typed, else in lang's style
    for name, value in data.items():
        if name in ("csrf_token", "lang", "html", SHARE):
            continue
        local = typed and isinstance(value, str)
        text = value.strip() if isinstance(value, str) else str(value)
        m = _ROW.fullmatch(name)
        is_setting = name.startswith("settings.") and name[9:] in SETTING_FIELDS
        if not is_setting and not (m and m.group(2) in ROW_FIELDS):
            errors.append(FieldError(name, "unknown field"))
            continue
        if not links and not is_setting and m.group(2) == LINK:
            continue
        number = name[9:] not in ("country", "currency") if is_setting else m.group(2) not in (*TEXTS, LINK)
        show = text
        if number and local:
            text, problem = i18n.read_decimal_input(text, lang)
            if problem:
                errors.append(FieldError(name, problem))
        elif number:
            # The model's "1.125" is shown as "1,125" on a Dutch page, so sending the form back
            # unchanged reads the same number (and not "1.125": one thousand, refused).
            show = i18n.localize_decimal(text, lang)
        if is_setting:
            if text:
                settings[name] = text
                settings_shown[name[9:]] = show
        else:
            rows.setdefault(int(m.group(1)), {})[m.group(2)] = text
            shown.setdefault(int(m.group(1)), {})[m.group(2)] = show
    kept = [i for i in sorted(rows) if any(rows[i].values())]
    fields = dict(settings)
    for new, i in enumerate(kept):
        for suffix, text in rows[i].items():
            if text:
                fields[f"handovers[{new}].{suffix}"] = text
    return Inputs(fields, [shown[i] for i in kept], kept, settings_shown), errors


def _rendered_rows(errors: list[FieldError], inputs: Inputs) -> list[FieldError]:
    """Name clean_form's errors by the re-rendered form's rows (blank rows gone), as_rendered."""
    new = {old: i for i, old in enumerate(inputs.origin)}
    out = []
    for e in errors:
        m = _ROW.fullmatch(e.path)
        if m and int(m.group(1)) in new:
            e = FieldError(f"handovers[{new[int(m.group(1))]}].{m.group(2)}", e.message)
        out.append(e)
    return out


def as_rendered(inputs: Inputs) -> Inputs:
    """Number errors by the re-rendered form (blank rows gone) rather than by the posted one."""
    return Inputs(
        inputs.fields, inputs.rows, list(range(len(inputs.rows))), inputs.settings_shown
    )


def _form_path(path: str, origin: list[int]) -> str:
    """Map a model field path (handovers[i] after renumbering) back to the form row."""
    m = _ROW.fullmatch(path) or re.fullmatch(r"handovers\[(\d{1,4})\]()", path)
    if not m:
        return path
    i = int(m.group(1))
    row = origin[i] if i < len(origin) else i
    return f"handovers[{row}]" + (f".{m.group(2)}" if m.group(2) else "")


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
        m = _ROW.fullmatch(name)
        if m and m.group(2) == LINK:
            links[int(m.group(1))] = fields.pop(name)
    for i in links:
        # A row with only a link chosen is still a row: the model reports what it lacks.
        if not any(_ROW.fullmatch(n) and n.startswith(f"handovers[{i}].") for n in fields):
            fields[f"handovers[{i}].source"] = ""
    currency_chosen = "settings.currency" in fields
    if "settings.currency" not in fields and lang == "da":
        fields["settings.currency"] = "DKK"  # Danish readers see kroner unless they chose
    by_link = {c.link: c for c in connected}
    errors = [
        FieldError(f"handovers[{i}].{LINK}", f"{_quote(link)} is not a connected flow action")
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
                FieldError(
                    f"handovers[{i}].{LINK}",
                    f"{_quote(c.link)} is already linked to handovers[{claimed[c.link]}]",
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
                FieldError(
                    f"handovers[{first}].action",
                    f"same source, target, record type and action as {_quote(h.key.label())}",
                )
            )
    if errors:
        return None, _by_form_row(errors, inputs)
    scenario = Scenario(tuple(merged), settings)
    kept_links = {i: by_link[link].link for i, link in links.items()}
    return Built(scenario, typed, chosen, form_row, kept_links, unlinked, currency_chosen), []


def _by_form_row(errors: list[FieldError], inputs: Inputs) -> list[FieldError]:
    return [FieldError(_form_path(e.path, inputs.origin), e.message) for e in errors]


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
        c.minutes, "typed", f"Minutes saved per delivery, as set in the flow “{c.flow}”."
    )
    if typed is not None:
        # The owner's labels stay (it is their row); the minutes saved per delivery are the
        # config's, the same figure "already saved" counts with.
        return msgspec.structs.replace(typed, minutes=minutes)
    return make_handover(
        *c.key, volume=volume, minutes=minutes, fields=c.fields, country=settings.country
    )


# --- computing -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """A computed scenario with what the page and the API show next to it."""

    built: Built
    result: ScenarioResult
    savings: dict[HandoverKey, Savings]
    volumes: dict[HandoverKey, ActionVolume]
    connections: list[Connected]  # every flow action a typed row may link to


class CalculatorBusy(Exception):
    """Raised when the calculator already has as many computations waiting as it queues."""


class CalculatorGate:
    """Runs the model on its own worker threads with a small queue in front of them.

    `/` and `/api/calculator` are public and answer on the webhook port: without a bound, a
    burst of big scenarios would hold the process's threads and CPU while webhooks wait. The
    model's heavy lifting is numpy (which releases the GIL); at most `workers` computations run
    at once, at most `queue` more wait, and any beyond that are answered 503 at once.
    """

    def __init__(self, workers: int = 1, queue: int = 4) -> None:
        self.workers = workers
        self.capacity = workers + queue
        self.waiting = 0  # running or queued
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., ScenarioResult], *args: Any, **kwargs: Any) -> ScenarioResult:
        """Run fn on the calculator's threads; CalculatorBusy if the queue is full."""
        if self.waiting >= self.capacity:
            raise CalculatorBusy
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                self.workers, thread_name_prefix="calculator"
            )
        self.waiting += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
        finally:
            self.waiting -= 1

    def close(self) -> None:
        """Stop the worker threads (after the computations in hand)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


CALCULATOR_GATE = web.AppKey("calculator_gate", CalculatorGate)
BUSY_RETRY_AFTER_S = 2


def busy(lang: str) -> web.Response:
    """Answer a computation the gate refused: 503 with Retry-After, in the page's language."""
    response = problem(503, "Calculator busy", [FieldError("(calculator)", i18n.translate(lang, "busy"))], lang)
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_S)
    return response


async def run_model(app: web.Application, built: Built) -> Outcome:
    """Fetch measured volumes, compute (on the calculator's gate, see CalculatorGate), savings."""
    volumes: dict[HandoverKey, ActionVolume] = {}
    if built.connected:
        found = await app[CALCULATOR_STORE].action_volumes(WINDOW_WEEKS)
        by_action = {(c.flow, c.action, c.target): key for key, c in built.connected.items()}
        for v in found:
            key = by_action.get((v.flow, v.action, v.target))
            if key is not None:
                volumes[key] = v
    # Every connected handover gets an observation, an empty one if the ledger has nothing for
    # it yet: that is how the model tells "connected, not measured yet" from "done by hand".
    observations = {
        key: Observation(
            weekly_delivered=v.weekly_delivered,
            dead_letters=v.dead_letters,
            redeliveries=v.redeliveries,
            duplicates=v.duplicates,
            test_events=v.test_events,
        )
        if (v := volumes.get(key)) is not None
        else Observation()
        for key in built.connected
    }
    result = await app[CALCULATOR_GATE].run(
        compute, built.scenario, observations, window_weeks=WINDOW_WEEKS
    )
    handovers = {h.key: h for h in built.scenario.handovers}
    # "Already saved" counts every delivery the ledger holds, not just the median window, so
    # the total goes in as one block of deliveries; dead letters are the ones still open (a
    # replayed and delivered one is a delivery in the ledger).
    savings = {
        key: already_saved(
            handovers[key],
            Observation(
                weekly_delivered=(v.delivered_total,),
                dead_letters=v.dead_letters,
                redeliveries=v.redeliveries,
                duplicates=v.duplicates,
                test_events=v.test_events,
            ),
            built.scenario.settings,
        )
        for key, v in volumes.items()
    }
    return Outcome(built, result, savings, volumes, list(built.connected.values()))


# --- presenting ----------------------------------------------------------------------------------

_ORDER = {"default": 0, "typed": 1, "measured": 2}


def weakest(*badges: str) -> str:
    """Return the least certain badge: a figure is only as solid as its weakest input."""
    return min(badges, key=lambda b: _ORDER[b]) if badges else "default"


class Present:
    """Formats figures (Decimals or the view's exact strings) for one language and currency."""

    def __init__(self, lang: str, currency: str) -> None:
        self.lang = lang
        self.currency = currency

    def t(self, key: str, **values: object) -> str:
        """Translate a catalog key."""
        return i18n.translate(self.lang, key, **values)

    def num(self, value: Decimal | str | int, places: int = 0) -> str:
        """Format a number rounded to places decimals."""
        return i18n.format_number(D(value), self.lang, places)

    def exact(self, value: Decimal | str) -> str:
        """Format a number with all its decimals (for show-the-math)."""
        value = D(value).normalize()
        places = max(0, -int(value.as_tuple().exponent))
        return i18n.format_number(value, self.lang, places)

    def hours(self, value: Decimal | str) -> str:
        """Format hours: one decimal, two below one hour so small handovers don't read 0."""
        value = D(value)
        return self.num(value, 1 if value >= 1 or value == 0 else 2)

    def weeks(self, n: int) -> str:
        """Say "1 week" or "8 weeks" in the page's language."""
        return i18n.plural(self.lang, "n.weeks", n)

    def action(self, action: str) -> str:
        """Say what a flow action does in the page's language."""
        return action_words(action, self.lang)

    def hours2(self, value: Decimal | str) -> str:
        """Format the hours figure shown (hundredths, as the model rounds it and the math adds)."""
        return self.num(value, 2)

    def math(self, step: Mapping[str, str]) -> str:
        """Format one "Show the math" result as the page shows that figure elsewhere."""
        code, value = step["code"], D(step["value"])
        if code in ("typing", "fixing", "hours"):
            return f"{self.hours2(value)} {step['unit']}"
        if code == "cost":
            return i18n.format_money(value, "EUR", self.lang, 2)
        if code == "converted":
            return i18n.format_money(value, step["unit"].split("/")[0], self.lang, 2)
        if code == "share":
            return self.percent(value)
        return f"{self.exact(value)} {step['unit']}".strip()

    def money(self, eur: Decimal | str, places: int = 0) -> str:
        """Format an EUR amount in the display currency."""
        amount = convert(D(eur), self.currency)
        return i18n.format_money(amount, self.currency, self.lang, places)

    def percent(self, fraction: Decimal | str) -> str:
        """Format a fraction as a percentage."""
        return i18n.format_percent(D(fraction), self.lang)

    def status(self, row: Mapping[str, Any]) -> str:
        """Say how a ranked handover (a view row) is done, in words its figures agree with.

        A connected handover with less than a week measured may well have deliveries already
        (in the current, partial week): it says how many, and what stands in for its volume.
        """
        if row["status"] != "waiting":
            return self.t(f"status.{row['status']}")
        stand_in = "estimate" if row["volume"]["badge"] == "typed" else "zero"
        if row.get("delivered"):
            return self.t(f"status.waiting.{stand_in}", delivered=self.num(row["delivered"]))
        return self.t(f"status.new.{stand_in}")

    def saved(self, s: Mapping[str, Any]) -> str:
        """Say what a connected handover (or all of them) saved so far, net of open dead letters.

        A net below zero is not shown as a negative saving: the text says that failed
        handovers cost more time than Handover saved, and by how much.
        """
        values = {
            "deliveries": i18n.plural(self.lang, "n.deliveries", s["delivered"], self.num(s["delivered"])),
            "dead_letters": i18n.plural(self.lang, "n.dead", s["dead_letters"], self.num(s["dead_letters"])),
            "gross_hours": self.hours(s["gross_hours"]),
            "gross_money": self.money(s["gross_eur"]),
            "dead_hours": self.hours(s["dead_letter_hours"]),
            "dead_money": self.money(s["dead_letter_eur"]),
        }
        if s["costs_more"]:
            return self.t(
                "saved_costs_more",
                short_hours=self.hours(-D(s["net_hours"])),
                short_money=self.money(-D(s["net_eur"])),
                **values,
            )
        if not s["dead_letters"]:
            return self.t("saved_text_clean", **values)
        return self.t(
            "saved_text",
            net_hours=self.hours(s["net_hours"]),
            net_money=self.money(s["net_eur"]),
            **values,
        )


def _dec(value: Decimal) -> str:
    return format(value, "f")


def _range_json(r: Range) -> dict[str, str]:
    return {"p10": _dec(r.p10), "p50": _dec(r.p50), "p90": _dec(r.p90)}


def _block_json(b: Block, currency: str) -> dict[str, Any]:
    money = Range(*(convert(v, currency) for v in (b.cost_per_year_eur.p10,
                                                   b.cost_per_year_eur.p50,
                                                   b.cost_per_year_eur.p90)))  # fmt: skip
    return {
        "hours_per_week": _range_json(b.hours_per_week),
        "cost_per_year_eur": _range_json(b.cost_per_year_eur),
        "cost_per_year": _range_json(money),
        "share_of_person_year": _range_json(b.share_of_person_year),
        "errors_per_month": _range_json(b.errors_per_month),
        # The figure shown and its two parts (see calculator.model.Likely); the ranges around it
        # say "probably between P10 and P90".
        "likely": {
            "typing_hours": _dec(b.likely.typing_hours),
            "fixing_hours": _dec(b.likely.fixing_hours),
            "hours_per_week": _dec(b.likely.hours),
            "cost_per_year_eur": _dec(b.likely.cost_eur),
            "cost_per_year": _dec(convert(b.likely.cost_eur, currency)),
            "share_of_person_year": _dec(b.likely.share_of_person_year),
            "errors_per_month": _dec(b.likely.errors_per_month),
        },
    }


def _savings_json(
    s: Savings, currency: str, per_dead_letter: Decimal | None = None
) -> dict[str, Any]:
    # dead_letters are the open ones; net_* is gross - dead letter fixing and may be negative
    # (exact, for scripts), with costs_more true: the page then says so in words.
    out = {
        "delivered": s.delivered,
        "dead_letters": s.dead_letters,
        "not_counted": s.not_counted,
        "gross_hours": _dec(s.gross_hours),
        "dead_letter_hours": _dec(s.dead_letter_hours),
        "net_hours": _dec(s.net_hours),
        "gross_eur": _dec(s.gross_eur),
        "dead_letter_eur": _dec(s.dead_letter_eur),
        "net_eur": _dec(s.net_eur),
        "gross": _dec(convert(s.gross_eur, currency)),
        "dead_letter": _dec(convert(s.dead_letter_eur, currency)),
        "net": _dec(convert(s.net_eur, currency)),
        "costs_more": s.costs_more,
    }
    if per_dead_letter is not None:
        out["minutes_per_dead_letter"] = _dec(per_dead_letter)
    return out


def _source_keys() -> dict[str, str]:
    d = model_defaults
    keys = {e.source: f"source.hourly.{code}" for code, e in d.HOURLY_LABOUR_COST_EUR.items()}
    keys.update({
        d.FIELD_ERROR_RATE.source: "source.field_error", d.FIX_FACTOR_SOURCE: "source.fix_factor",
        d.DEAD_LETTER_SOURCE: "source.dead_letter", d.CHARS_PER_FIELD.source: "source.chars",
        d.KLM_SOURCE: "source.klm", d.WORKING_WEEKS_PER_YEAR.source: "source.weeks",
        d.HOURS_PER_WEEK.source: "source.hours_week", d.EUR_TO["DKK"].source: "source.rate",
        d.EUR_TO["EUR"].source: "source.eur",
    })  # fmt: skip
    return keys


# The defaults' sources are the model's English texts: each has its catalog entry.
SOURCE_KEYS = _source_keys()


def source_text(source: str, lang: str) -> str:
    """Say where a figure comes from in the page's language."""
    key = SOURCE_KEYS.get(source)
    return i18n.translate(lang, key) if key else i18n.translate_message(lang, source)


def _estimate_json(e: Estimate, lang: str) -> dict[str, str]:
    return {
        "low": _dec(e.low),
        "likely": _dec(e.likely),
        "high": _dec(e.high),
        "badge": e.provenance,
        "source": source_text(e.source, lang),
    }


def math_steps(
    r: HandoverResult, settings: Settings, lang: str, currency: str
) -> list[dict[str, str]]:
    """Return "Show the math" for one row: label, formula, value, unit and badge per step.

    A display currency other than EUR gets one more step after the cost: the conversion, so
    the amount shown is still what the owner's calculator gives.
    """
    steps = []
    for s in show_math(r, settings):
        steps.append(
            {
                "code": s.code,
                "label": i18n.translate(lang, f"math.{s.code}"),
                "formula": i18n.localize_formula(lang, s.formula),
                "value": _dec(s.value),
                "unit": i18n.localize_value(lang, s.unit),
                "badge": s.badge,
            }
        )
        if s.code == "cost" and currency != "EUR":
            rate = model_defaults.EUR_TO[currency].value
            steps.append(
                {
                    "code": "converted",
                    "label": i18n.translate(lang, "math.converted", currency=currency),
                    "formula": i18n.localize_formula(lang, f"{_dec(s.value)} × {_dec(rate)}"),
                    "value": _dec(convert(s.value, currency)),
                    "unit": f"{currency}/year",
                    "badge": "default",
                }
            )
    return steps


def view_model(outcome: Outcome, lang: str, *, owner: bool = True) -> dict[str, Any]:
    """Return everything the page and the API show, as plain data (numbers as exact strings).

    Without `owner`, "saved" (what the ledger says Handover already saved) is None: an
    anonymous visitor's scenario has no connected rows, so there is nothing of theirs to count.
    """
    result, built = outcome.result, outcome.built
    currency = result.settings.currency
    rows = []
    for r in result.handovers:
        c = built.connected.get(r.key)
        h = r.handover
        badges = (
            r.volume.provenance,
            h.minutes.provenance,
            h.field_error_rate.provenance,
            h.fix_minutes.provenance,
            h.hourly_cost.provenance,
        )
        # The API's codes, kept for its callers: "waiting" is connected with less than a week
        # measured (the CSV's "connected_estimate"); Present.status says it in words.
        status = "manual" if c is None else ("connected" if r.connected else "waiting")
        volume = outcome.volumes.get(r.key)
        saved = outcome.savings.get(r.key)
        # A typed row keeps the owner's own words; a connected one is named by its flow.
        label = connected_label(c, lang) if c and r.key not in built.form_row else r.key.label()
        rows.append(
            {
                "rank": r.rank,
                "label": label,
                "source": r.key.source,
                "target": r.key.target,
                "record_type": r.key.record_type,
                "action": r.key.action,
                "status": status,
                "flow": c.flow if c else None,
                "connected": c.link if c else None,
                "connected_action": c.action if c else None,
                "form_row": built.form_row.get(r.key),
                "link_suggestions": _suggestions(c, built)
                if c and r.key not in built.form_row
                else [],
                "connector": None if c else ready_connector(r.key.target),
                "volume": _estimate_json(r.volume, lang),
                "measured_weeks": len(volume.weekly_delivered[-WINDOW_WEEKS:])
                if volume and r.connected
                else None,
                # every successful delivery so far (not only complete weeks); None if by hand
                "delivered": (volume.delivered_total if volume else 0) if c else None,
                "minutes": _estimate_json(h.minutes, lang),
                "fields": h.fields,
                "field_error_rate": _estimate_json(h.field_error_rate, lang),
                "fix_minutes": _estimate_json(h.fix_minutes, lang),
                "hourly_cost_eur": _estimate_json(h.hourly_cost, lang),
                "badge": weakest(*badges),
                "error_probability": _dec(r.error_probability),
                "likely_hours_per_week": _dec(r.likely_hours_per_week),
                **_block_json(r.block, currency),
                "ties_previous": r.ties_previous,
                "ties_next": r.ties_next,
                "tie": r.ties_previous or r.ties_next,
                "minutes_floor": _dec(r.minutes_floor),
                "saved": _savings_json(
                    saved, currency, minutes_per_dead_letter(h, result.settings)
                )
                if saved
                else None,
                # The model names each step by a code; the page's catalog gives its words.
                "math": math_steps(r, result.settings, lang, currency),
            }
        )
    all_badges = [row["badge"] for row in rows]
    # Whether the fixing estimate is the documented default everywhere (the page names it) or
    # uses the owner's own error rates and fixing minutes somewhere.
    remaining = [r.handover for r in result.handovers if r.status == "manual"]
    fixing_assumption = (
        "default"
        if all(h.field_error_rate.provenance == "default" and h.fix_minutes.provenance == "default"
               for h in remaining)
        else "typed"
    )  # fmt: skip
    saved_total = sum_savings(list(outcome.savings.values()))
    return {
        "lang": lang,
        "currency": currency,
        "eur_to_currency": _dec(model_defaults.EUR_TO[currency].value),
        "currency_source": source_text(model_defaults.EUR_TO[currency].source, lang),
        "window_weeks": WINDOW_WEEKS,
        "samples": result.samples,
        "seed": result.seed,
        "headline": {**_block_json(result.remaining, currency), "badge": weakest(*all_badges)},
        "total": _block_json(result.total, currency),
        "automated": _block_json(result.automated, currency),
        "remaining": _block_json(result.remaining, currency),
        "saved": _savings_json(saved_total, currency) if owner else None,
        "handovers": rows,
        "fixing_assumption": fixing_assumption,
        "manual_rows": len(remaining),
        "warnings": [
            {
                "field": _warning_path(w.path, built),
                "message": str(w.message),
                "label": field_question(_warning_path(w.path, built), lang),
                "localized": plain_message(w.message, lang),
            }
            for w in result.warnings
        ],
        "share": share_token(built),
        "connections": [
            {"id": c.link, "flow": c.flow, "action": c.action, "target": c.target}
            for c in outcome.connections
        ],
    }


def share_token(built: Built) -> str:
    """Return the ?share= token for the typed rows, their "Connected by" links included."""
    if built.typed is None:
        return ""
    form = scenario_to_form(built.typed)
    if not built.currency_chosen:
        form.pop("settings.currency", None)
    form.update({f"handovers[{i}].{LINK}": link for i, link in built.links.items()})
    return encode_fields(form)


def _suggestions(c: Connected, built: Built) -> list[dict[str, Any]]:
    # Typed rows that look like this connection: the same system name, or a system whose ready
    # connector is the connection's kind. Only suggested: a guess must not merge two rows.
    return [
        {"form_row": row, "label": h.key.label()}
        for row, h in built.unlinked
        if h.target.casefold() == c.target.casefold()
        or (c.kind and c.kind in ready_connectors(h.target))
    ]


def _warning_path(path: str, built: Built) -> str:
    # Warnings name positions in the merged scenario; typed rows map back to their form row.
    m = re.fullmatch(r"handovers\[(\d+)\]\.(.+)", path)
    if not m:
        return path
    h = built.scenario.handovers[int(m.group(1))]
    row = built.form_row.get(h.key)
    return f"handovers[{row}].{m.group(2)}" if row is not None else f"{h.key.label()}: {m.group(2)}"


# --- rendering ---------------------------------------------------------------------------------


def charts(view: dict[str, Any], outcome: Outcome, p: Present) -> dict[str, Markup]:
    """Return the two SVG charts for a computed scenario."""
    labels = {row["rank"]: row["label"] for row in view["handovers"]}
    ranked = [
        svg.Bar(
            labels.get(r.rank, r.key.label()),
            r.block.hours_per_week.p10,
            r.block.likely.hours,
            r.block.hours_per_week.p90,
            "automated" if r.connected else "manual",
            r.ties_previous or r.ties_next,
        )
        for r in outcome.result.handovers
    ]
    res = outcome.result
    flow = [
        svg.Bar(p.t(name), getattr(res, name).hours_per_week.p10, getattr(res, name).likely.hours,
                getattr(res, name).hours_per_week.p90, name)
        for name in ("total", "automated", "remaining")
    ]  # fmt: skip
    fmt = p.hours2
    return {
        "ranked": svg.bar_chart("chart-ranked", p.t("chart.ranked"), ranked, fmt),
        "flow": svg.bar_chart("chart-flow", p.t("chart.flow"), flow, fmt),
    }


def action_words(action: str, lang: str) -> str:
    """Say what a flow action does in words ("upsert_contact": "save the contact")."""
    key = f"action.{action}"
    return i18n.translate(lang, key) if key in i18n.EN else action.replace("_", " ")


def event_words(event_type: str, lang: str) -> str:
    """Say when a flow runs in words ("order.created": "an order is placed")."""
    key = f"event.{event_type}"
    return i18n.translate(lang, key) if key in i18n.EN else event_type


def connected_label(c: Connected, lang: str) -> str:
    """Name a connected flow action as the owner reads it: its flow's name and what it does."""
    return i18n.translate(
        lang, "connected_label", flow=c.flow, action=action_words(c.action, lang), target=c.target
    )


def login_href(share: str, lang: str) -> str:
    """Return the login link that comes back to this scenario (what was typed survives login)."""
    back = f"/?share={share}&lang={lang}" if share else f"/?lang={lang}"
    return "/login?next=" + urllib.parse.quote(back, safe="")


def example_row(lang: str) -> dict[str, str]:
    """Return the pre-filled example row of a first visit: 40 orders a week, 4 minutes each."""
    t = i18n.translate
    return {
        "source": t(lang, "example.source"),
        "target": t(lang, "example.target"),
        "record_type": t(lang, "example.record_type"),
        "volume.likely": "40",
        "minutes.likely": "4",
    }


def _form_rows(inputs: Inputs) -> list[dict[str, str]]:
    # Always one blank row at the end: without JavaScript that is how a handover is added.
    return [*inputs.rows, {}]


def _field_errors(errors: list[FieldError], lang: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in errors:
        message = plain_message(e.message, lang)
        out[e.path] = f"{out[e.path]}; {message}" if e.path in out else message
    return out


def plain_message(message: str, lang: str) -> str:
    """Return a validation message in the owner's words ("required": "please fill this in").

    The model's messages carry their code (calculator.messages.Text): the catalog's
    "error.<code>" says it, with its values in the language's style. Any other text (a web
    layer message) goes through translate_message.
    """
    code = getattr(message, "code", "")
    if code:
        values = {k: i18n.localize_value(lang, v) for k, v in message.params.items()}  # type: ignore[attr-defined]
        return i18n.translate(lang, f"error.{code}", **values)
    return i18n.translate_message(lang, message)


_QUESTION = re.compile(r"handovers\[(\d{1,4})\]\.([a-z_]+)(?:\.(low|likely|high))?")


def field_question(path: str, lang: str) -> str:
    """Name a form field as the owner reads it: "Handover 1: how many a week?".

    Settings and anything else keep their label (or path); the link in the error list goes to
    the field itself either way.
    """
    m = _QUESTION.fullmatch(path)
    if m is None:
        name = path.removeprefix("settings.")
        key = {"working_weeks_per_year": "working_weeks", "hours_per_week": "hours_week"}.get(
            name, name
        )
        return i18n.translate(lang, key) if key in i18n.EN else path
    key = f"q.{m.group(2)}"
    question = i18n.translate(lang, key) if key in i18n.EN else m.group(2)
    if m.group(3) in ("low", "high"):
        question = i18n.translate(lang, f"q.{m.group(3)}", question=question)
    return i18n.translate(lang, "error_at", n=int(m.group(1)) + 1, question=question)


def _defaults_shown(p: Present) -> list[tuple[str, str]]:
    d = model_defaults
    rows = [
        (p.t("default.hourly_cost", country=p.t(f"country.{code}")), e.source)
        for code, e in d.HOURLY_LABOUR_COST_EUR.items()
    ]
    rows += [
        (p.t("field_error_percent"), d.FIELD_ERROR_RATE.source),
        (p.t("fix_minutes"), d.FIX_FACTOR_SOURCE),
        (p.t("default.dead_letter"), d.DEAD_LETTER_SOURCE),
        (p.t("chars_per_field"), d.CHARS_PER_FIELD.source),
        (p.t("default.minutes_floor"), d.KLM_SOURCE),
        (p.t("working_weeks"), d.WORKING_WEEKS_PER_YEAR.source),
        (p.t("hours_week"), d.HOURS_PER_WEEK.source),
        (p.t("default.rate"), d.EUR_TO["DKK"].source),
    ]
    return [(name, source_text(source, p.lang)) for name, source in rows]


async def _page(
    request: web.Request,
    inputs: Inputs,
    errors: list[FieldError],
    lang: str,
    *,
    status: int = 200,
    notice: str = "",
) -> web.Response:
    from services.web.app import TEMPLATES

    owner = is_admin(request)
    connected = visible_connections(request)
    # A first visit with nothing typed and nothing connected is an empty form, not an error.
    empty = not inputs.rows and not connected
    built, model_errors = (None, []) if errors or empty else build_scenario(inputs, connected, lang)
    errors = errors + model_errors
    if model_errors:
        status = 422  # a shared link or a saved scenario the current config no longer accepts
    view = outcome = None
    chart_svgs: dict[str, Markup] = {}
    currency = "DKK" if lang == "da" else "EUR"
    if built is not None:
        try:
            outcome = await run_model(request.app, built)
        except CalculatorBusy:
            # The typed form comes back as it was, with the reason and a way to try again.
            status, notice = 503, i18n.translate(lang, "busy")
        else:
            view = view_model(outcome, lang, owner=owner)
            currency = view["currency"]
    p = Present(lang, currency)
    if outcome is not None and view is not None:
        chart_svgs = charts(view, outcome, p)
    # "More" opens on a row whose error (or warning) is inside it, so the link reaches the field.
    more = re.compile(
        r"handovers\[(\d+)\]\.(field_error_percent|fix_minutes|hourly_cost|chars|record_type|action"
        r"|fields|volume\.(?:low|high)|minutes\.(?:low|high))"
    )
    open_rows = {int(m.group(1)) for e in errors if (m := more.match(e.path))}
    example = not inputs.rows and not connected and not errors
    rows = _form_rows(inputs)
    if example:
        rows[0] = example_row(lang)
    fields_default = [
        str(model_defaults.fields_for(r.get("record_type", ""), r.get("source", ""),
                                      r.get("target", ""))[0])
        for r in rows
    ]  # fmt: skip
    page = (
        request.app[TEMPLATES]
        .get_template("calculator.html")
        .render(
            open_rows=open_rows,
            t=p.t,
            p=p,
            lang=lang,
            langs=i18n.LANGS,
            lang_names=i18n.NAMES,
            view=view,
            charts=chart_svgs,
            rows=rows,
            example=example,
            fields_default=fields_default,
            error_items=[(e.path, field_question(e.path, lang), msg)
                         for e in errors if (msg := _field_errors([e], lang)[e.path])],
            settings_form=inputs.settings_shown,
            errors=_field_errors(errors, lang),
            error_list=errors,
            csrf=csrf_token(request),
            defaults=_defaults_shown(p),
            countries=list(model_defaults.HOURLY_LABOUR_COST_EUR),
            currencies=list(model_defaults.EUR_TO),
            points=POINTS,
            estimates=ESTIMATES,
            notice=notice,
            owner=owner,
            connected=connected,
            window_weeks=WINDOW_WEEKS,
            # the site navigation (_nav.html)
            active="calculator",
            logged_in=owner,
            field=CSRF_FIELD,
            login_href=login_href(view["share"] if view else "", lang),
        )
    )
    response = web.Response(text=page, content_type="text/html", status=status)
    if status == 503:
        response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_S)
    set_csrf_cookie(request, response)
    i18n.remember_lang(request, response, lang)
    return response


async def render_calculator(request: web.Request) -> web.Response:
    """Show the calculator: a shared scenario (?share=), else the saved one, else a blank form.

    Only the owner (services.web.auth.is_admin) sees the saved scenario and the connected, measured rows;
    anyone else starts from a blank form and sees typed rows only.
    """
    lang = i18n.pick_lang(request)
    token = request.query.get(SHARE)
    if token:
        try:
            data: Mapping[str, Any] = decode_fields(token)
        except ValidationError as exc:
            empty = Inputs({}, [], [])
            return await _page(request, empty, list(exc.errors), lang, status=422)
    else:
        data = await _saved(request)
    inputs, errors = clean_form(data, lang, typed=False, links=is_admin(request))
    return await _page(request, as_rendered(inputs), errors, lang, status=422 if errors else 200)


async def _saved(request: web.Request) -> dict[str, str]:
    # The saved scenario is the owner's: nobody else gets to see it (services.web.auth.is_admin).
    if not is_admin(request):
        return {}
    return await request.app[CALCULATOR_STORE].load_typed() or {}


@csrf_protect
async def submit_calculator(request: web.Request) -> web.Response:
    """Handle the plain form POST: validate, re-render the result; save it for the owner only.

    An anonymous visitor gets the same results (and a share link), but nothing is saved: the
    page says so and offers the owner the login. Nor are connected rows or measured figures
    computed for them (see visible_connections).
    """
    lang = i18n.pick_lang(request)
    owner = is_admin(request)
    form = await request.post()
    posted = {k: v for k, v in form.items() if isinstance(v, str)}
    inputs, errors = clean_form(posted, lang, links=owner)
    errors = _rendered_rows(errors, inputs)
    inputs = as_rendered(inputs)
    connected = visible_connections(request)
    if not errors:
        built, errors = build_scenario(inputs, connected, lang)
        if built is not None:
            notice = ""
            if owner:
                await request.app[CALCULATOR_STORE].save_typed(inputs.fields)
                notice = i18n.translate(lang, "saved_ok")
            return await _page(request, inputs, [], lang, notice=notice)
    return await _page(request, inputs, errors, lang, status=422)


def problem(status: int, title: str, errors: list[FieldError], lang: str) -> web.Response:
    """Return an RFC 9457 problem+json response naming every bad field."""
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": "; ".join(f"{e.path}: {e.message}" for e in errors),
        "errors": [
            {
                "field": e.path,
                "message": str(e.message),
                "label": field_question(e.path, lang),
                "localized": plain_message(e.message, lang),
            }
            for e in errors
        ],
    }
    return web.Response(
        body=msgspec.json.encode(body), status=status, content_type="application/problem+json"
    )


async def _api_input(request: web.Request) -> Mapping[str, Any]:
    if request.method == "GET":
        return dict(request.query)
    if request.content_type == "application/json":
        try:
            data = msgspec.json.decode(await request.read())
        except msgspec.DecodeError:
            raise ValueError("the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return _flatten_json(data)
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _flatten_json(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    # Nested JSON ({"handovers": [{"volume": {"likely": 3}}]}) becomes the form's flat names so
    # the API and the form clean, renumber and report errors the same way.
    flat: dict[str, Any] = {}
    for name, value in data.items():
        path = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(value, Mapping):
            flat.update(_flatten_json(value, path))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    flat.update(_flatten_json(item, f"{path}[{i}]"))
                else:
                    flat[f"{path}[{i}]"] = item
        elif value is None:
            continue
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            flat[path] = object()  # caught below as "must be text or a number"
        else:
            # Numbers stay numbers: clean_form reads only text as typed in the page's language
            # (a JSON 1.125 is not "1.125" typed on the Dutch page, 1125 refused).
            flat[path] = value
    return flat


async def calculate_api(request: web.Request) -> web.Response:
    """Compute a scenario given as JSON, form fields or a query; 422 problem+json if bad.

    No side effects (nothing is saved, and the saved scenario is never read), so it needs
    neither a login nor a CSRF token; `?html=1` adds the rendered results fragment the page's
    script swaps in. Connected rows, measured volumes and savings are only in the owner's
    answer (see visible_connections); anyone else gets the typed rows computed.
    """
    lang = i18n.pick_lang(request)
    try:
        data = await _api_input(request)
    except ValueError as exc:
        return problem(400, "Bad request", [FieldError("(body)", str(exc))], lang)
    bad = [FieldError(k, "must be text or a number") for k, v in data.items()
           if not isinstance(v, str | int | float)]  # fmt: skip
    if bad:
        return problem(422, "Invalid input", bad, lang)
    token = data.get(SHARE) if request.method == "GET" else None
    if token:
        try:
            data = decode_fields(str(token))
        except ValidationError as exc:
            return problem(422, "Invalid input", list(exc.errors), lang)
    owner = is_admin(request)
    # a link holds dot decimals
    inputs, errors = clean_form(data, lang, typed=not token, links=owner)
    built = None
    if not errors:
        built, errors = build_scenario(inputs, visible_connections(request), lang)
    if built is None:
        return problem(422, "Invalid input", errors, lang)
    try:
        outcome = await run_model(request.app, built)
    except CalculatorBusy:
        return busy(lang)
    view = view_model(outcome, lang, owner=owner)
    if request.query.get("html") == "1":
        view["html"] = await _results_html(request, outcome, view, lang, owner=owner)
    return web.json_response(view)


async def _results_html(
    request: web.Request, outcome: Outcome, view: dict[str, Any], lang: str, *, owner: bool
) -> str:
    from services.web.app import TEMPLATES

    p = Present(lang, view["currency"])
    return request.app[TEMPLATES].get_template("calculator_results.html").render(
        t=p.t, p=p, lang=lang, view=view, charts=charts(view, outcome, p),
        window_weeks=WINDOW_WEEKS, notice="", owner=owner,
    )  # fmt: skip


async def export_csv(request: web.Request) -> web.Response:
    """Download the current scenario (?share=, else the owner's saved one) as CSV, worst first.

    One header row of stable column ids (calculator.share.CSV_HEADER, the same in every
    language); the three closing rows are named in the page's language. Connected rows and
    measured volumes are the owner's only (see visible_connections).
    """
    lang = i18n.pick_lang(request)
    token = request.query.get(SHARE)
    try:
        data: Mapping[str, Any] = decode_fields(token) if token else await _saved(request)
    except ValidationError as exc:
        return problem(422, "Invalid input", list(exc.errors), lang)
    inputs, errors = clean_form(data, lang, typed=False, links=is_admin(request))
    built = None
    if not errors:
        built, errors = build_scenario(inputs, visible_connections(request), lang)
    if built is None:
        return problem(422, "Invalid input", errors, lang)
    try:
        outcome = await run_model(request.app, built)
    except CalculatorBusy:
        return busy(lang)
    return web.Response(
        # One header row, stable column ids (a second, translated one would read as data in
        # spreadsheets and pandas); status, badge and tie cells stay codes.
        # Dutch and Danish spreadsheets split on ";" and read "," as the decimal sign; the BOM
        # tells Excel the file is UTF-8 (else "→" and "ø" come out garbled).
        text=("\ufeff" if lang in ("nl", "da") else "") + to_csv(
            outcome.result, group_names=i18n.CSV_GROUPS[lang],
            delimiter=";" if lang in ("nl", "da") else ",", decimal="," if lang in ("nl", "da") else ".",
        ),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="handover-calculator.csv"'},
    )


def setup_calculator(app: web.Application) -> None:
    """Add the calculator routes; use a memory store unless a CalculatorStore is set."""
    setup_csrf(app)
    if CALCULATOR_STORE not in app:
        app[CALCULATOR_STORE] = MemoryCalculatorStore()
    if CALCULATOR_GATE not in app:
        app[CALCULATOR_GATE] = CalculatorGate()

    async def close_gate(app: web.Application) -> None:
        app[CALCULATOR_GATE].close()

    app.on_cleanup.append(close_gate)
    app.router.add_get("/", render_calculator)
    app.router.add_post("/", submit_calculator)
    app.router.add_route("GET", "/api/calculator", calculate_api)
    app.router.add_route("POST", "/api/calculator", calculate_api)
    app.router.add_get("/calculator.csv", export_csv)
