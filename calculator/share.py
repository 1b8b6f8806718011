"""Shareable scenario links (JSON → zlib → base64url) and CSV export of results."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
import zlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from calculator.inputs import parse_scenario, scenario_to_form
from calculator.messages import error
from calculator.model import Block, Scenario, ScenarioResult
from calculator.values import ValidationError

# The version prefix lets a later format change still read (or clearly refuse) old links.
VERSION = "1"
MAX_TOKEN_CHARS = 8_000
MAX_JSON_BYTES = 256 * 1024  # guards against a small token that inflates into a huge one
SHARE_FIELD = "share"
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def encode_scenario(scenario: Scenario) -> str:
    """Encode a scenario into a compact URL-safe string for a shareable link."""
    return encode_fields(scenario_to_form(scenario))


def encode_fields(fields: dict[str, str]) -> str:
    """Encode flat form fields (str -> str) into a shareable string, as encode_scenario does.

    For callers that carry fields of their own next to the scenario's (the web page's link
    from a typed row to a connected flow action); decode them with decode_fields.
    """
    text = json.dumps(fields, separators=(",", ":"), sort_keys=True)
    packed = zlib.compress(text.encode(), 9)
    return VERSION + base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode_scenario(token: str) -> Scenario:
    """Decode a shared string back into a validated Scenario; raise ValidationError if bad."""
    # The same parser as the form: a hand-edited link gets the same field-by-field errors.
    return parse_scenario(decode_fields(token))


def decode_fields(token: str) -> dict[str, str]:
    """Decode a shared string into its flat form fields, unvalidated; ValidationError if damaged."""
    if not isinstance(token, str) or not token.startswith(VERSION):
        raise _bad("link_not_scenario")
    body = token[len(VERSION) :]
    if len(body) > MAX_TOKEN_CHARS or not _B64URL.fullmatch(body):
        raise _bad("link_damaged")
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_JSON_BYTES)
        if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
            raise _bad("link_damaged_or_large")
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise _bad("link_damaged") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise _bad("link_damaged")
    return data


def _bad(code: str) -> ValidationError:
    return ValidationError([error(SHARE_FIELD, code)])


CSV_HEADER = (
    "rank",
    "handover",
    "source",
    "target",
    "record_type",
    "action",
    "status",
    "volume_per_week",
    "volume_badge",
    "minutes_per_record",
    "minutes_badge",
    "error_probability",
    "hours_per_week_p10",
    "hours_per_week_p50",
    "hours_per_week_p90",
    "cost_per_year_eur_p10",
    "cost_per_year_eur_p50",
    "cost_per_year_eur_p90",
    "errors_per_month_p50",
    "tie_with_neighbour",
)


GROUP_NAMES = ("total", "already automated", "remaining")


def to_csv(
    result: ScenarioResult,
    labels: Sequence[str] | None = None,
    group_names: Sequence[str] = GROUP_NAMES,
    *,
    delimiter: str = ",",
    decimal: str = ".",
) -> str:
    """Return CSV text: one header row, then one row per handover, worst first, then total,
    automated and remaining.

    The header is CSV_HEADER (stable ids for scripts, the same in every language) unless
    `labels` names the same columns for people instead; either way there is exactly one header
    row, so a spreadsheet or `pandas.read_csv` reads every row after it as data (numbers with a
    dot decimal, no thousands separator). `group_names` names the three closing rows, whose
    rank, volume, minutes and error chance cells are empty. `status` is a code: "automated"
    (connected, volume measured), "connected_estimate" (connected, less than a week measured:
    the typed volume, or 0, stands in) or "manual" (done by hand).

    Where a spreadsheet's list separator is ";" and the decimal sign "," (Dutch and Danish
    Excel), pass delimiter=";" and decimal=",": a number then reads as one there.
    """
    out = io.StringIO()
    writer: Any = csv.writer(out, delimiter=delimiter)
    if decimal != ".":
        writer = _Decimals(writer, decimal)
    if labels is None:
        writer.writerow(CSV_HEADER)
    else:
        if len(labels) != len(CSV_HEADER):
            raise ValueError(f"labels needs {len(CSV_HEADER)} columns, got {len(labels)}")
        writer.writerow([_cell(label) for label in labels])
    for r in result.handovers:
        b = r.block
        writer.writerow(
            [
                r.rank,
                _cell(r.key.label()),
                _cell(r.key.source),
                _cell(r.key.target),
                _cell(r.key.record_type),
                _cell(r.key.action),
                r.status,
                _num(r.volume.likely),
                r.volume.provenance,
                _num(r.handover.minutes.likely),
                r.handover.minutes.provenance,
                _num(r.error_probability),
                *_range_cells(b),
                _num(b.errors_per_month.p50),
                "yes" if r.ties_previous or r.ties_next else "no",
            ]
        )
    for name, block in zip(
        group_names, (result.total, result.automated, result.remaining), strict=True
    ):
        writer.writerow(
            ["", _cell(name), "", "", "", "", "", "", "", "", "", "", *_range_cells(block),
             _num(block.errors_per_month.p50), ""]
        )  # fmt: skip
    return out.getvalue()


class _Decimals:
    """A csv writer that writes the numbers' decimal point as `decimal` (text cells unchanged)."""

    _NUMBER = re.compile(r"-?\d+\.\d+")

    def __init__(self, writer: Any, decimal: str) -> None:
        self.writer = writer
        self.decimal = decimal

    def writerow(self, row: Sequence[object]) -> Any:
        """Write one row."""
        return self.writer.writerow(
            [c.replace(".", self.decimal) if isinstance(c, str) and self._NUMBER.fullmatch(c) else c
             for c in row]
        )  # fmt: skip


def _range_cells(b: Block) -> list[str]:
    h, c = b.hours_per_week, b.cost_per_year_eur
    return [_num(v) for v in (h.p10, h.p50, h.p90, c.p10, c.p50, c.p90)]


def _num(value: Decimal) -> str:
    return format(value, "f")


def _cell(text: str) -> str:
    # A name like "=HYPERLINK(...)" would run as a formula when the CSV is opened in a
    # spreadsheet; a leading apostrophe keeps it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
