"""Looking up the owner's pages' texts in English, Dutch and Danish, and locale number formats.

The catalogs are data, one module per language (en.py, nl.py, da.py: key -> text with {name}
placeholders). Every message is a key with values, rendered here: nothing is translated back
from a finished English sentence. A test holds every key in every language with the same
placeholders; a key missing at run time falls back to English, so a page never breaks.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal

from aiohttp import web
from babel import Locale
from babel.dates import format_datetime
from babel.numbers import get_decimal_symbol, get_group_symbol
from markupsafe import Markup, escape

from calculator.messages import Text
from services.web.i18n import da, en, nl

LANGS = ("en", "nl", "da")
DEFAULT_LANG = "en"
COOKIE = "handover_lang"
NAMES = {"en": "English", "nl": "Nederlands", "da": "Dansk"}

# The languages' plural rules, separators and date words come from CLDR (Babel).
LOCALES = {lang: Locale.parse(lang) for lang in LANGS}
# (thousands separator, decimal separator) per language.
SEPARATORS = {lang: (get_group_symbol(lang), get_decimal_symbol(lang)) for lang in LANGS}

EN: dict[str, str] = en.CATALOG
CATALOGS: dict[str, dict[str, str]] = {"en": en.CATALOG, "nl": nl.CATALOG, "da": da.CATALOG}
CSV_LABELS: dict[str, tuple[str, ...]] = {"en": en.CSV_LABELS, "nl": nl.CSV_LABELS, "da": da.CSV_LABELS}
CSV_GROUPS: dict[str, tuple[str, str, str]] = {"en": en.CSV_GROUPS, "nl": nl.CSV_GROUPS, "da": da.CSV_GROUPS}
WORDS: dict[str, dict[str, str]] = {"nl": nl.WORDS, "da": da.WORDS}


def localize_value(lang: str, text: str) -> str:
    """Give a value inside a message the language's form: 1.35 -> 1,35, "minutes" -> "minuten"."""
    if re.fullmatch(r"\d+\.\d+", text):
        return text.replace(".", SEPARATORS.get(lang, SEPARATORS["en"])[1])
    return WORDS.get(lang, {}).get(text, text)


def localize_formula(lang: str, formula: str) -> str:
    """Translate a show-the-math formula's words and give its decimals the language's point."""
    if lang not in WORDS:
        return formula
    words = WORDS[lang]
    point = SEPARATORS[lang][1]
    formula = re.sub(r"[a-z]{2,}", lambda m: words.get(m.group(0), m.group(0)), formula)
    return re.sub(r"(?<![\w.])(\d+)\.(\d+)", rf"\1{point}\2", formula)


def duration(lang: str, seconds: float) -> str:
    """Say a duration as an owner would: '40 minutes', '3 hours', '2 days'."""
    s = max(0, round(seconds))
    for size, unit in ((86400, "days"), (3600, "hours"), (60, "minutes")):
        if s >= size * (2 if unit != "minutes" else 1):
            return plural(lang, f"n.{unit}", round(s / size))
    return plural(lang, "n.seconds", s)


def plural(lang: str, key: str, n: int, shown: str | None = None) -> str:
    """Return "{n} thing" or "{n} things": key.<CLDR plural category of n in lang>, else key.other."""
    form = LOCALES.get(lang, LOCALES[DEFAULT_LANG]).plural_form(n)
    if f"{key}.{form}" not in EN:
        form = "other"
    return translate(lang, f"{key}.{form}", n=shown if shown is not None else n)


def format_clock(at: dt.datetime, lang: str, *, with_day: bool = True) -> str:
    """Say a moment as '10:42', or with its day in the language's words ('di 3 mrt 10:42')."""
    return format_datetime(at, "EEE d MMM HH:mm" if with_day else "HH:mm", locale=LOCALES.get(lang, LOCALES["en"]))


def translate(lang: str, key: str, **values: object) -> str:
    """Return the text for key in lang (English if missing there), with values filled in."""
    text = CATALOGS.get(lang, EN).get(key) or EN[key]
    return text.format(**values) if values else text





def with_code(lang: str, key: str, **code: str) -> Markup:
    """The catalog's text for key, escaped, with each value (a setting, a path) set as <code>."""
    return Markup(escape(translate(lang, key))).format(
        **{name: Markup("<code>{}</code>").format(value) for name, value in code.items()}
    )


def pick_lang(request: web.Request) -> str:
    """Choose the language: ?lang=, then the cookie, then Accept-Language, then English."""
    asked = request.query.get("lang", "")
    if asked in LANGS:
        return asked
    cookie = request.cookies.get(COOKIE, "")
    if cookie in LANGS:
        return cookie
    for part in request.headers.get("Accept-Language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return DEFAULT_LANG


def remember_lang(request: web.Request, response: web.StreamResponse, lang: str) -> None:
    """Keep an explicit ?lang= choice in a cookie for the next visits."""
    if request.query.get("lang") == lang and request.cookies.get(COOKIE) != lang:
        response.set_cookie(COOKIE, lang, path="/", max_age=365 * 24 * 3600, samesite="Lax")


def format_number(value: Decimal, lang: str, places: int = 0) -> str:
    """Format a decimal with the language's separators, rounded half-up to places decimals."""
    thousands, point = SEPARATORS.get(lang, SEPARATORS["en"])
    quantum = Decimal(1).scaleb(-places)
    text = format(Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP), "f")
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
        if set(text) <= {"0", "."}:
            sign = ""  # no "-0"
    whole, _, frac = text.partition(".")
    grouped = re.sub(r"(?<=\d)(?=(\d{3})+$)", thousands, whole)
    return sign + grouped + (point + frac if frac else "")


def format_money(value: Decimal, currency: str, lang: str, places: int = 0) -> str:
    """Format an amount with its currency the way the language writes it."""
    number = format_number(value, lang, places)
    if currency == "DKK":
        return f"{number} kr." if lang == "da" else f"DKK {number}"
    if lang == "en":
        return f"€{number}"
    if lang == "da":
        return f"{number} €"
    return f"€ {number}"


def format_percent(fraction: Decimal, lang: str, places: int = 1) -> str:
    """Format a fraction (0.125) as a percentage ("12.5%", "12,5%", "12,5 %")."""
    number = format_number(fraction * 100, lang, places)
    return f"{number} %" if lang == "da" else f"{number}%"


def normalize_decimal_input(text: str, lang: str) -> str:
    """Accept a decimal comma in Dutch and Danish input ("2,5" -> "2.5").

    Only the unambiguous form (digits, one comma, digits) is rewritten; a thousands separator
    is never guessed at: read_decimal_input refuses it.
    """
    if lang in ("nl", "da") and re.fullmatch(r"\s*\d+,\d+\s*", text):
        return text.strip().replace(",", ".")
    return text


def localize_decimal(text: str, lang: str) -> str:
    """Write the model's dot-decimal number for a form in lang ("1.125" -> "1,125" in Dutch).

    The inverse of read_decimal_input, so a form filled in from a link or the saved scenario
    reads back the same numbers when it is sent unchanged.
    """
    if lang in ("nl", "da") and re.fullmatch(r"\d+\.\d+", text):
        return text.replace(".", ",")
    return text


# "1.000", "12.500", "1.000.000", "1.000,50": a dot before exactly three digits, the way Dutch
# and Danish group thousands. The model would read "1.000" as one, 1000 times too small. A
# leading 0 ("0.500") groups nothing, so it stays a decimal.
_DOT_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:\.\d{3})+(?:,\d+)?")


def read_decimal_input(text: str, lang: str) -> tuple[str, str | None]:
    """Read a number typed on a page in lang: (text for the model, None) or (text, an error).

    Dutch and Danish write a decimal comma ("1,5" -> "1.5") and group thousands with a dot:
    "1.000" and "1.000,50" are refused (a message code, see calculator.messages) rather than read as
    1 and 1.0005. English "1,000" is refused by the model itself (calculator.parse_decimal).
    """
    stripped = text.strip()
    if lang in ("nl", "da") and _DOT_THOUSANDS.fullmatch(stripped):
        shown = repr(stripped if len(stripped) <= 20 else stripped[:20] + "…")
        return text, Text("thousands", value=shown, plain=stripped.replace(".", ""))
    return normalize_decimal_input(text, lang), None
