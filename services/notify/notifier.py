"""The notifier: finds what needs the owner, sends each thing once, within a rate limit."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import aiohttp
import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from services.common.appkeys import METRICS, SETTINGS
from services.common.config import Settings
from services.ledger.appkeys import LEDGER
from services.ledger.store import SqlLedger
from services.notify import messages
from services.notify.messages import DigestFacts, Message
from services.notify.send import SendFailed, send
from services.web import i18n
from services.web.silence import assess_silence

log = structlog.get_logger("handover.notify")

STATE = "notify.sent"  # the ledger's settings_store entry: {incident key: when it was sent}
LOOKBACK_S = 7 * 86400  # dead letters newer than this are looked at; sent keys are kept 6 weeks
KEEP_S = 42 * 86400
WINDOW_S = 3600.0  # the rate limit's window (notify.max_per_hour)


class Notifier:
    """Looks at the ledger and the metrics; sends the owner what needs a person, once."""

    def __init__(
        self,
        settings: Settings,
        ledger: SqlLedger,
        registry: CollectorRegistry,
        http: aiohttp.ClientSession,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.registry = registry
        self.http = http
        self.clock = clock
        self.paused_since: dict[str, float] = {}
        self.recent: deque[float] = deque()  # when messages went out, for the rate limit
        self.sent: dict[str, float] | None = None  # loaded from the ledger on the first check

    @property
    def lang(self) -> str:
        """The owner's language."""
        return self.settings.notify.lang

    @property
    def url(self) -> str:
        """Where the owner's pages are."""
        return self.settings.public_url.rstrip("/")

    async def check(self, now: float | None = None) -> list[Message]:
        """Send what is new (and the digest when it is due); return the messages sent."""
        now = self.clock() if now is None else now
        first = self.sent is None
        if self.sent is None:
            raw = await self.ledger.get_value(STATE)
            self.sent = json.loads(raw) if raw else {}
            first = raw is None
        found = await self.incidents(now)
        if first:
            # Notifications were just switched on: what was already there is not news (the
            # digest and the pages still show it).
            for m in found:
                self.sent[m.key] = now
            found = []
        out = await self._deliver([m for m in found if m.key not in self.sent], now)
        digest = await self.digest_if_due(now)
        if digest is not None:
            out.append(digest)
        self.sent = {k: t for k, t in self.sent.items() if now - t < KEEP_S}
        await self.ledger.put_value(STATE, json.dumps(self.sent, sort_keys=True))
        return out

    async def incidents(self, now: float) -> list[Message]:
        """Everything that needs the owner now: new dead letters, long pauses, long silences."""
        from services.web.calculator.words import action_words

        lang, url = self.lang, self.url
        found = []
        for row in await self.ledger.deadlettered_since(now - LOOKBACK_S):
            event = await self.ledger.event(row.event_id)
            # The business key (an e-mail, an order number) is what the owner searches by.
            about = (event.subject or event.summary) if event else ""
            what = action_words(row.action, lang) + (f" ({about})" if about else "")
            found.append(messages.dead_letter(
                lang, url, f"dead:{row.key}", row.target, row.flow, row.action, row.attempts,
                _plain(row.last_error), what,
            ))  # fmt: skip
        for name in self.settings.targets:
            value = self.registry.get_sample_value("handover_target_paused", {"target": name})
            if not value:
                self.paused_since.pop(name, None)
                continue
            since = self.paused_since.setdefault(name, now)
            if now - since >= self.settings.notify.paused_after_s:
                found.append(messages.paused(lang, url, f"paused:{name}:{since:.0f}", name, now - since))
        for name in self.settings.sources:
            times = await self.ledger.source_times(name)
            silence = assess_silence(times, now)
            if silence.unusual and silence.rhythm is not None:
                key = f"silent:{name}:{max(times):.3f}"  # one message per silence, however long
                found.append(messages.silent(lang, url, key, name, silence.seconds, silence.rhythm.median_s))
        return found

    async def _deliver(self, found: list[Message], now: float) -> list[Message]:
        assert self.sent is not None
        while self.recent and now - self.recent[0] >= WINDOW_S:
            self.recent.popleft()
        room = self.settings.notify.max_per_hour - len(self.recent)
        if room <= 0:
            return []  # kept for the next check, when the window has room again
        if len(found) > room:
            # The last place goes to one message naming the rest: a burst of dead letters is
            # one mail, not a hundred.
            held = found[room - 1:]
            summary = messages.more(self.lang, self.url, "more:" + held[0].key, held)
            found = [*found[: room - 1], summary]
        else:
            held = []
        out: list[Message] = []
        for m in found:
            try:
                await send(self.settings, m, self.http)
            except SendFailed as exc:
                log.warning("owner_notification_failed", kind=m.kind, error=str(exc))
                return out  # the rest waits for the next check
            self.recent.append(now)
            self.sent[m.key] = now
            if m.kind == "more":
                for h in held:
                    self.sent[h.key] = now
            log.info("owner_notified", kind=m.kind, target=self.settings.notify.target)
            out.append(m)
        return out

    async def digest_if_due(self, now: float) -> Message | None:
        """The weekly digest, once a week at notify.digest_weekday / digest_hour (local time)."""
        assert self.sent is not None
        cfg = self.settings.notify
        local = dt.datetime.fromtimestamp(now)
        if local.weekday() != cfg.digest_weekday or local.hour < cfg.digest_hour:
            return None
        year, week, _ = local.isocalendar()
        key = f"digest:{year}-W{week:02d}"
        if key in self.sent:
            return None
        message = await self.digest(now, key)
        try:
            await send(self.settings, message, self.http)
        except SendFailed as exc:
            log.warning("owner_digest_failed", error=str(exc))
            return None
        self.sent[key] = now
        return message

    async def digest(self, now: float, key: str = "digest") -> Message:
        """The digest of the week up to now: handovers done, time saved, what needs attention."""
        from services.web.calculator.scenario import connected_handovers

        counts = await self.ledger.delivered_between(now - 7 * 86400, now)
        minutes = {(c.flow, c.action, c.target): c.minutes for c in connected_handovers(self.settings)}
        per_flow: dict[str, int] = {}
        saved = Decimal(0)
        for (flow, action, target), n in counts.items():
            per_flow[flow] = per_flow.get(flow, 0) + n
            saved += n * minutes.get((flow, action, target), Decimal(0))
        hours = i18n.format_number(saved / 60, self.lang, 1)
        paused = [name for name in self.settings.targets
                  if self.registry.get_sample_value("handover_target_paused", {"target": name})]  # fmt: skip
        silent = []
        for name in self.settings.sources:
            s = assess_silence(await self.ledger.source_times(name), now)
            if s.unusual:
                silent.append((name, s.seconds))
        dead = sum((await self.ledger.deadletter_counts()).values())
        return messages.digest(self.lang, self.url, key, DigestFacts(per_flow, hours, dead, paused, silent))


def _plain(error: str) -> str:
    # The vendor's words without the class name the ledger keeps ("Permanent: ...").
    kind, sep, rest = error.strip().partition(": ")
    return rest if sep and kind in ("Transient", "Permanent", "DeliveryError") else error.strip()


NOTIFIER = web.AppKey("notifier", Notifier)


async def notify_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the notifier beside the web app: a check every notify.check_interval_s."""
    settings = app[SETTINGS]
    async with aiohttp.ClientSession() as http:
        notifier = Notifier(settings, app[LEDGER], app[METRICS].registry, http)
        app[NOTIFIER] = notifier

        async def loop() -> None:
            while True:
                try:
                    await notifier.check()
                except Exception as exc:  # noqa: BLE001 - a ledger hiccup must not end the notifier
                    log.warning("owner_notify_check_failed", error=repr(exc))
                await asyncio.sleep(settings.notify.check_interval_s)

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def setup_notify(app: web.Application) -> None:
    """Start the owner's notifications with the app, when `[notify] target` is set."""
    if app[SETTINGS].notify.target:
        app.cleanup_ctx.append(notify_ctx)
