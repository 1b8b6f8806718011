"""The calculator's figures and messages said in the owner's words and language."""

from __future__ import annotations

import re

from calculator import defaults as model_defaults
from services.web import i18n
from services.web.calculator.scenario import Connected


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
    """Say where a figure comes from in the page's language.

    The documented defaults are named by their catalog key (SOURCE_KEYS); any other source is
    a message code (calculator.messages.Text) rendered like an error; a source without either
    (an owner's own figure has none) stays as it is.
    """
    key = SOURCE_KEYS.get(source)
    return i18n.translate(lang, key) if key else plain_message(source, lang)


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


def plain_message(message: str, lang: str) -> str:
    """Return a message in the owner's words ("required": "please fill this in").

    Every message carries its code (calculator.messages.Text): the catalog's "error.<code>"
    says it, with its values in the language's style. Text without a code is shown as it is.
    """
    code = getattr(message, "code", "")
    if not code:
        return message
    values = {k: i18n.localize_value(lang, v) for k, v in message.params.items()}  # type: ignore[attr-defined]
    return i18n.translate(lang, f"error.{code}", **values)


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
