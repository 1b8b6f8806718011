"""Default figures for the calculator, each carried with the source text the page shows."""

from __future__ import annotations

import re
from decimal import Decimal

from calculator.values import Estimate, Figure

D = Decimal

# 365.25 / 7 rounds to 52.18; the issue fixes 52.14 (365 / 7 = 52.142...) and we keep it so
# the page and the maths agree to the cent.
CALENDAR_WEEKS_PER_YEAR = D("52.14")
MONTHS_PER_YEAR = D(12)
MAX_HOURS_PER_WEEK = D(168)

DEFAULT_SAMPLES = 10_000
DEFAULT_SEED = 20240101
# Weeks of ledger history the measured volume looks back over; two months smooths out a holiday
# week without hiding a real change for long.
DEFAULT_WINDOW_WEEKS = 8

_EUROSTAT = (
    "Eurostat, hourly labour costs 2024 (whole economy excluding agriculture and public "
    "administration), {where}: €{value} per hour."
)

HOURLY_LABOUR_COST_EUR: dict[str, Estimate] = {
    code: Estimate.point(D(value), "default", _EUROSTAT.format(where=where, value=value))
    for code, where, value in (
        ("NL", "Netherlands", "45.2"),
        ("DK", "Denmark", "50.1"),
        ("EU", "EU average", "33.5"),
    )
}
DEFAULT_COUNTRY = "EU"

# Amounts are computed in EUR; a page that shows DKK converts at display time with this table.
EUR_TO: dict[str, Figure] = {
    "EUR": Figure(D(1), "default", "Computed in EUR."),
    "DKK": Figure(D("7.46"), "default", "ECB reference rate (approx.): 1 EUR = 7.46 DKK."),
}
COUNTRY_CURRENCY = {"NL": "EUR", "DK": "DKK", "EU": "EUR"}

FIELD_ERROR_RATE = Estimate(
    D("0.0055"),
    D("0.01"),
    D("0.036"),
    "default",
    "Manual data entry: about 1% of fields are typed wrong (observed range 0.55%–3.6%), "
    "Barchard et al. 2020.",
)

FIX_FACTOR = D(10)
FIX_FACTOR_SOURCE = (
    "Finding and fixing an error takes about 10× the time of entering the record right, after "
    "Labovitz & Chang's 1-10-100 rule. This is a rule of thumb, not a measurement."
)

# An open dead letter (a delivery Handover gave up on, not replayed and delivered since) needs
# someone to find out why, fix the cause and replay it or type the record by hand. Unless the
# owner sets settings.dead_letter_minutes, it costs the handover's own fix_minutes.
DEAD_LETTER_SOURCE = (
    "Each open dead letter is charged the handover's minutes to find and fix an error (by "
    "default 10× its minutes per record, the rule of thumb above) until it is replayed and "
    "delivered; a replayed one counts as a delivery. Set your own minutes per dead letter under "
    "Settings."
)

# Keystroke-Level Model operator times, Card, Moran & Newell 1980.
KLM_K_SECONDS = D("0.28")  # one keystroke, average non-secretarial typist (~40 wpm)
KLM_M_SECONDS = D("1.35")  # mental preparation before each field
KLM_H_SECONDS = D("0.4")  # homing the hand between mouse and keyboard to reach the field
KLM_SOURCE = (
    "Keystroke-Level Model (Card, Moran & Newell 1980): per field 1.35 s to prepare, 0.4 s to "
    "move the hand to it and 0.28 s per keystroke for an average typist. A floor: it leaves out "
    "reading the source system and switching windows."
)

CHARS_PER_FIELD = Figure(
    D(8),
    "default",
    "Assumption: about 8 characters per field (a name, a number, a date).",
)

# 52 weeks minus about 5 weeks of leave and 1 week of public holidays; 40 h a full-time week.
WORKING_WEEKS_PER_YEAR = Figure(
    D(46),
    "default",
    "Assumption: 46 working weeks a year (52 minus about 6 weeks of leave and public holidays).",
)
HOURS_PER_WEEK = Figure(D(40), "default", "Assumption: a 40-hour full-time working week.")

# Fields a person types per record when the owner leaves "fields per record" blank, by record
# type (English, Dutch and Danish words, singular, lower case). An order or an invoice carries a
# customer, an address, lines and totals; a contact a name, e-mail, phone and company.
FIELDS_BY_RECORD_TYPE: dict[str, int] = {
    **dict.fromkeys(("order", "bestelling", "ordre", "sale", "verkoop", "salg"), 12),
    **dict.fromkeys(("invoice", "factuur", "faktura", "bill", "rekening", "regning"), 12),
    **dict.fromkeys(("booking", "reservation", "boeking", "reservering", "booking"), 8),
    **dict.fromkeys(("customer", "klant", "kunde", "client"), 8),
    **dict.fromkeys(("contact", "lead", "person", "persoon", "kontakt"), 6),
    **dict.fromkeys(("payment", "betaling", "betaling"), 5),
    **dict.fromkeys(("ticket", "task", "taak", "opgave", "request", "aanvraag"), 5),
    **dict.fromkeys(("product", "artikel", "vare"), 10),
}
DEFAULT_FIELDS = 8
FIELDS_SOURCE = (
    "Assumption: {fields} fields per record, typical for {what} (a name, an e-mail, an address "
    "line, an amount: each counts as one). Type your own under “More”."
)


def fields_source(fields: int, word: str) -> str:
    """Return the shown source of a defaulted fields-per-record figure."""
    return FIELDS_SOURCE.format(fields=fields, what=f"“{word}”" if word else "a business record")


# System names that say what a record is when the record type is left blank.
FIELDS_BY_SYSTEM: dict[str, int] = {
    **dict.fromkeys(("shop", "webshop", "store", "winkel", "butik", "webshop"), 12),
    **dict.fromkeys(("accounting", "boekhouding", "regnskab", "books", "moneybird"), 12),
    **dict.fromkeys(("crm", "form", "formulier", "formular", "hubspot", "pipedrive"), 6),
}


def fields_for(record_type: str, *systems: str) -> tuple[int, str]:
    """Return the default fields per record and what it is based on, e.g. (12, 'orders')."""
    for text, table in ((record_type, FIELDS_BY_RECORD_TYPE),
                        *((name, FIELDS_BY_SYSTEM) for name in systems)):  # fmt: skip
        for word in re.findall(r"[^\W\d_]+", text.casefold()):
            for stem in (word, word.removesuffix("s"), word.removesuffix("en"), word.removesuffix("er")):
                if stem in table:
                    return table[stem], word
    return DEFAULT_FIELDS, ""

# Simulated weeks per request, in handover-samples: 20 handovers get DEFAULT_SAMPLES each, a
# 200-handover scenario 1,000 each (its P10 and P90 within about a percentile), so the public
# calculator's work per request is bounded whatever is posted (model.samples_for and
# bench/calculator.py).
SAMPLE_BUDGET = 200_000
MIN_SAMPLES = 1_000
