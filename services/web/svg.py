"""Server-rendered SVG charts for the calculator: no chart library, no script, readable by AT.

Every chart is an `<svg role="img">` with a `<title>` and `<desc>` it is labelled by, and
every text in it passes through `escape`, so a handover named `<script>` stays text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

Format = Callable[[Decimal], str]

# Drawn 480 units wide and shown at most 32rem wide (calculator.css): on a 390 px phone the
# 15-unit text is still about 11 px. Each label has a line of its own above its bar, so a long
# name is never cut short by a label column and the bars keep the whole width.
WIDTH = 480
ROW_H = 46
BAR_H = 14
PAD = 6
FONT = 15
VALUE_W = 70


@dataclass(frozen=True)
class Bar:
    """One bar: a label, the figure shown, the P10-P90 range around it and how to draw it."""

    label: str
    p10: Decimal
    shown: Decimal
    p90: Decimal
    kind: str = "manual"  # css class suffix: manual, automated, total, remaining
    tie: bool = False


def _scale(bars: Sequence[Bar]) -> Decimal:
    top = max((max(b.p90, b.shown) for b in bars), default=Decimal(0))
    return top if top > 0 else Decimal(1)


def _x(value: Decimal, top: Decimal, plot_w: int) -> float:
    return round(float(value / top) * plot_w, 1)


def _short(text: str, limit: int = 52) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar], fmt: Format) -> Markup:
    """Return horizontal bars at the figure shown with P10-P90 whiskers, as inline SVG."""
    top = _scale(bars)
    plot_w = WIDTH - VALUE_W
    height = PAD * 2 + ROW_H * max(len(bars), 1)
    desc = "; ".join(f"{b.label}: {fmt(b.shown)} ({fmt(b.p10)}–{fmt(b.p90)})" for b in bars)
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'font-size="{FONT}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
    ]
    for i, b in enumerate(bars):
        y = PAD + i * ROW_H
        mid = y + FONT + 6 + BAR_H / 2
        x0, x10, xs, x90 = (_x(v, top, plot_w) for v in (Decimal(0), b.p10, b.shown, b.p90))
        label = _short(b.label) + (" =" if b.tie else "")
        parts.append(
            f'<g class="bar bar-{escape(b.kind)}" data-shown="{b.shown}">'
            f"<title>{escape(b.label)}: {escape(fmt(b.shown))} "
            f"({escape(fmt(b.p10))}–{escape(fmt(b.p90))})</title>"
            f'<text x="0" y="{y + FONT}">{escape(label)}</text>'
            f'<rect x="{x0}" y="{mid - BAR_H / 2}" width="{max(xs - x0, 0.5)}" '
            f'height="{BAR_H}"></rect>'
            f'<line class="whisker" x1="{x10}" x2="{x90}" y1="{mid}" y2="{mid}"></line>'
            f'<line class="whisker" x1="{x10}" x2="{x10}" y1="{mid - 5}" y2="{mid + 5}"></line>'
            f'<line class="whisker" x1="{x90}" x2="{x90}" y1="{mid - 5}" y2="{mid + 5}"></line>'
            f'<text class="value" x="{max(x90, xs) + 6}" y="{mid + 5}">{escape(fmt(b.shown))}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
