"""What the page and the API show for a computed scenario: formatted figures, the view, charts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from markupsafe import Markup

from calculator import (
    Estimate,
    Settings,
    convert,
    encode_fields,
    minutes_per_dead_letter,
    scenario_to_form,
    show_math,
)
from calculator import defaults as model_defaults
from calculator.model import Block, HandoverResult, Range, Savings, sum_savings
from services.web import i18n, svg
from services.web.calculator.compute import WINDOW_WEEKS, Outcome
from services.web.calculator.form import LINK
from services.web.calculator.scenario import Built, Connected, ready_connector, ready_connectors
from services.web.calculator.words import action_words, connected_label, field_question, plain_message, source_text

D = Decimal


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
