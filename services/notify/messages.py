"""The owner's messages, in their language: subject and plain text, from the web catalogs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from services.web import i18n


@dataclass(frozen=True)
class Message:
    """One message to the owner: what it is about (kind, key) and what it says."""

    kind: str  # dead_letter, paused, silent, more, digest
    key: str  # dedupe key: sent once
    subject: str
    text: str
    facts: Mapping[str, object] = field(default_factory=dict)  # for an http target's JSON


def t(lang: str, key: str, **values: object) -> str:
    """Translate a notify.* catalog key."""
    return i18n.translate(lang, f"notify.{key}", **values)


def duration(lang: str, seconds: float) -> str:
    """Say a duration as an owner would: '40 minutes', '3 hours', '2 days'."""
    return i18n.duration(lang, seconds)


def dead_letter(lang: str, url: str, key: str, target: str, flow: str, action: str, attempts: int,
                error: str, what: str) -> Message:  # fmt: skip
    """A delivery Handover gave up on."""
    values = {"target": target, "flow": flow, "what": what, "error": error or "-",
              "attempts": i18n.plural(lang, "n.attempts", attempts),
              "link": f"{url}/dead-letters?target={target}"}  # fmt: skip
    return Message("dead_letter", key, t(lang, "dead_letter.subject", **values),
                   t(lang, "dead_letter.text", **values), {**values, "action": action})  # fmt: skip


def paused(lang: str, url: str, key: str, target: str, seconds: float) -> Message:
    """A target that kept failing and has been paused for a while."""
    values = {"target": target, "duration": duration(lang, seconds), "link": f"{url}/status"}
    return Message("paused", key, t(lang, "paused.subject", **values), t(lang, "paused.text", **values), values)


def silent(lang: str, url: str, key: str, source: str, quiet_s: float, rhythm_s: float) -> Message:
    """A source that has been quiet for much longer than it usually is."""
    values = {"source": source, "duration": duration(lang, quiet_s), "rhythm": duration(lang, rhythm_s),
              "link": f"{url}/status"}  # fmt: skip
    return Message("silent", key, t(lang, "silent.subject", **values), t(lang, "silent.text", **values), values)


def more(lang: str, url: str, key: str, held: list[Message]) -> Message:
    """One message for the incidents held back by the rate limit."""
    lines = "\n".join(f"- {m.subject}" for m in held)
    values = {"n": len(held), "link": f"{url}/status"}
    text = t(lang, "more.text", **values) + "\n\n" + lines
    facts = {**values, "subjects": [m.subject for m in held]}
    return Message("more", key, t(lang, "more.subject", **values), text, facts)


@dataclass(frozen=True)
class DigestFacts:
    """What a week's digest says."""

    deliveries: dict[str, int]  # flow name -> deliveries in the week
    hours_saved: str  # formatted
    dead_letters: int  # open now
    paused: list[str]
    silent: list[tuple[str, float]]  # source, quiet seconds


def digest(lang: str, url: str, key: str, facts: DigestFacts) -> Message:
    """The weekly digest: handovers done, time saved, what needs attention."""
    total = sum(facts.deliveries.values())
    done = i18n.plural(lang, "n.deliveries", total)
    lines = [t(lang, "digest.done", deliveries=done, hours=facts.hours_saved), ""]
    lines += [f"- {flow}: {i18n.plural(lang, 'n.deliveries', n)}" for flow, n in sorted(facts.deliveries.items())]
    attention = []
    if facts.dead_letters:
        attention.append(t(lang, "digest.dead_letters", dead=i18n.plural(lang, "n.dead", facts.dead_letters),
                           link=f"{url}/dead-letters"))  # fmt: skip
    attention += [t(lang, "digest.paused", target=name) for name in facts.paused]
    attention += [t(lang, "digest.silent", source=s, duration=duration(lang, q)) for s, q in facts.silent]
    lines += ["", t(lang, "digest.attention") if attention else t(lang, "digest.all_well")]
    lines += [f"- {a}" for a in attention]
    lines += ["", t(lang, "digest.footer", link=f"{url}/status")]
    subject = t(lang, "digest.subject", deliveries=done, hours=facts.hours_saved)
    values = {"deliveries": total, "hours_saved": facts.hours_saved, "dead_letters": facts.dead_letters,
              "paused": facts.paused, "silent": [s for s, _ in facts.silent]}  # fmt: skip
    return Message("digest", key, subject, "\n".join(lines), values)
