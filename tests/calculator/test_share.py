"""Share-link and CSV tests."""

import base64
import csv
import io
import json
import re
import zlib
from decimal import Decimal as D

import pytest

from calculator import (
    Observation,
    ValidationError,
    compute,
    decode_scenario,
    encode_scenario,
    parse_scenario,
    to_csv,
)
from calculator.share import CSV_HEADER


def scenario(**extra):
    data = {
        "settings.country": "DK",
        "settings.hours_per_week": "37",
        "handovers[0].source": "Shop",
        "handovers[0].target": "Accounting",
        "handovers[0].record_type": "order",
        "handovers[0].action": "save invoice",
        "handovers[0].fields": "6",
        "handovers[0].volume.low": "40",
        "handovers[0].volume.likely": "50",
        "handovers[0].volume.high": "80",
        "handovers[0].minutes.likely": "2.5",
        "handovers[0].field_error_percent.low": "0.5",
        "handovers[0].field_error_percent.likely": "1.5",
        "handovers[0].field_error_percent.high": "4",
        "handovers[1].source": "Shop",
        "handovers[1].target": "CRM",
        "handovers[1].record_type": "order",
        "handovers[1].action": "save contact",
        "handovers[1].fields": "3",
        "handovers[1].volume.likely": "50",
        "handovers[1].minutes.likely": "1",
    }
    data.update(extra)
    return parse_scenario(data)


def pack(data):
    raw = zlib.compress(json.dumps(data).encode())
    return "1" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_share_link_round_trip_keeps_values_and_badges():
    original = scenario()
    token = encode_scenario(original)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    back = decode_scenario(token)
    assert back == original
    assert back.handovers[0].hourly_cost.provenance == "default"
    assert back.handovers[0].field_error_rate.provenance == "typed"
    assert back.settings.hours_per_week.value == D(37)


@pytest.mark.parametrize("token", ["", "hello", "1!!!", "1" + "A" * 40, "2abc", "1" + "A" * 9000])
def test_garbage_share_links_are_rejected(token):
    with pytest.raises(ValidationError) as info:
        decode_scenario(token)
    assert [e.path for e in info.value.errors] == ["share"]


def test_tampered_share_link_is_rejected():
    token = encode_scenario(scenario())
    middle = len(token) // 2
    flipped = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    with pytest.raises(ValidationError):
        decode_scenario(flipped)


def test_hand_edited_share_link_gets_the_form_validation():
    token = pack({"handovers[0].volume.likely": "-5", "handovers[0].source": "Shop"})
    with pytest.raises(ValidationError) as info:
        decode_scenario(token)
    paths = {e.path for e in info.value.errors}
    assert "handovers[0].volume.likely" in paths
    with pytest.raises(ValidationError):
        decode_scenario(pack(["not", "a", "dict"]))


def test_share_link_that_inflates_too_far_is_rejected():
    bomb = pack({"x": " " * 2_000_000})
    assert len(bomb) < 8_000
    with pytest.raises(ValidationError):
        decode_scenario(bomb)


def test_csv_has_one_row_per_handover_worst_first_and_totals():
    s = scenario()
    result = compute(s, {s.handovers[1].key: Observation(weekly_delivered=(20, 20, 20))})
    rows = list(csv.DictReader(io.StringIO(to_csv(result))))
    assert [r["handover"] for r in rows[-3:]] == ["total", "already automated", "remaining"]
    body = rows[:-3]
    assert [r["rank"] for r in body] == ["1", "2"]
    assert [r["action"] for r in body] == [r.key.action for r in result.handovers]
    by_action = {r["action"]: r for r in body}
    contact = by_action["save contact"]
    assert (contact["status"], contact["volume_badge"], contact["volume_per_week"]) == (
        "automated",
        "measured",
        "20",
    )
    invoice = by_action["save invoice"]
    first = next(r for r in result.handovers if r.key.action == "save invoice")
    assert D(invoice["hours_per_week_p50"]) == first.block.hours_per_week.p50
    assert D(invoice["cost_per_year_eur_p90"]) == first.block.cost_per_year_eur.p90
    assert D(rows[-1]["hours_per_week_p50"]) == result.remaining.hours_per_week.p50


def test_csv_has_exactly_one_header_row_and_numbers_in_every_data_row():
    s = scenario()
    result = compute(s, {s.handovers[1].key: Observation(weekly_delivered=(20, 20, 20))})
    for labels in (None, [f"Column {i}" for i in range(len(CSV_HEADER))]):
        header, *data = list(csv.reader(io.StringIO(to_csv(result, labels))))
        assert header == list(labels or CSV_HEADER)
        assert len(data) == len(result.handovers) + 3
        for row in data:
            cells = dict(zip(CSV_HEADER, row, strict=True))
            numbers = [v for k, v in cells.items() if k.startswith(("hours_", "cost_", "errors_"))]
            if cells["rank"]:  # a handover: every number is there
                numbers += [cells[k] for k in ("rank", "volume_per_week", "minutes_per_record",
                                               "error_probability")]  # fmt: skip
            for cell in numbers:
                D(cell)  # a number, not a label
    with pytest.raises(ValueError):
        to_csv(result, ["too", "few"])


def test_csv_neutralises_spreadsheet_formulas_in_names():
    s = scenario(**{"handovers[0].source": '=HYPERLINK("x")'})
    rows = list(csv.DictReader(io.StringIO(to_csv(compute(s)))))
    sources = {r["source"] for r in rows if r["rank"]}
    assert '\'=HYPERLINK("x")' in sources


def test_csv_status_says_connected_but_not_measured_yet():
    # Three kinds: measured (automated), connected with less than a week measured (its typed
    # volume stands in: connected_estimate, never "manual"), and done by hand.
    s = scenario()
    _, contact = s.handovers
    only_manual = list(csv.DictReader(io.StringIO(to_csv(compute(s)))))
    assert {r["status"] for r in only_manual if r["rank"]} == {"manual"}
    waiting = compute(s, {contact.key: Observation(dead_letters=1)})
    rows = {r["action"]: r for r in csv.DictReader(io.StringIO(to_csv(waiting))) if r["rank"]}
    assert (rows["save contact"]["status"], rows["save contact"]["volume_badge"]) == (
        "connected_estimate",
        "typed",
    )
    assert rows["save contact"]["volume_per_week"] == format(contact.volume.likely, "f")
    assert rows["save invoice"]["status"] == "manual"
    measured = compute(s, {contact.key: Observation(weekly_delivered=(20,))})
    rows = {r["action"]: r for r in csv.DictReader(io.StringIO(to_csv(measured))) if r["rank"]}
    assert rows["save contact"]["status"] == "automated"
