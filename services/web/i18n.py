"""English, Dutch and Danish texts for the owner's pages, and locale number and money formats.

Catalogs are plain dicts (a few dozen strings do not justify gettext tooling or Babel). A key
missing from nl or da falls back to English, so a new string never breaks a page.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from aiohttp import web

LANGS = ("en", "nl", "da")
DEFAULT_LANG = "en"
COOKIE = "handover_lang"
NAMES = {"en": "English", "nl": "Nederlands", "da": "Dansk"}

# (thousands separator, decimal separator) per language.
SEPARATORS = {"en": (",", "."), "nl": (".", ","), "da": (".", ",")}

EN: dict[str, str] = {
    "title": "What retyping costs you",
    "intro": (
        "Every record someone copies by hand from one system into another costs minutes and "
        "causes errors. Fill in the handovers that are still done by hand; the ones Handover "
        "already carries are measured."
    ),
    "language": "Language",
    "headline": "Still done by hand",
    "hours_per_week": "Hours per week",
    "money_per_year": "Money per year",
    "share_of_year": "Share of one person's working year",
    "errors_per_month": "Expected errors per month",
    "range": "likely {likely} (range {low}–{high})",
    "range_note": "Ranges are P10–P90 of 10,000 simulated weeks; the middle figure is the P50.",
    "badge.measured": "measured",
    "badge.typed": "typed in",
    "badge.default": "default",
    "ranking": "Worst handover first",
    "rank": "Rank",
    "handover": "Handover",
    "volume": "Records per week",
    "minutes": "Minutes per record",
    "tie": "tie",
    "tie_note": "Ranges overlap with a neighbour: the order between them is not certain.",
    "status.connected": "connected, measured",
    "status.waiting": "connected, nothing measured yet",
    "status.manual": "done by hand",
    "connector.ready": "Handover has a ready-made connector: {kind}",
    "connector.none": "No ready-made connector yet",
    "measured_over": "median of the last {weeks} week(s)",
    "show_math": "Show the math",
    "saved": "Already saved",
    "saved_text": (
        "{delivered} deliveries: {gross_hours} h ({gross_money}) gross, {net_hours} h "
        "({net_money}) after {dead_hours} h fixing {dead} dead letter(s)."
    ),
    "saved_none": "Nothing connected has been delivered yet.",
    "saved_note": "Only successful, de-duplicated deliveries count; test events never do.",
    "chart.ranked": "Hours per week by handover, worst first (bars P50, whiskers P10–P90)",
    "chart.flow": "Hours per week: total, already automated, remaining",
    "total": "Total",
    "automated": "Already automated",
    "remaining": "Remaining",
    "your_handovers": "Handovers done by hand",
    "handover_n": "Handover {n}",
    "source": "From system",
    "target": "To system",
    "record_type": "Record type",
    "action": "Action",
    "fields": "Fields per record",
    "low": "low",
    "likely": "likely",
    "high": "high",
    "more": "More (blank uses the default)",
    "field_error_percent": "Typing errors per field (%)",
    "fix_minutes": "Minutes to find and fix an error",
    "hourly_cost": "Hourly cost (EUR)",
    "chars_per_field": "Characters per field",
    "remove": "Remove",
    "add": "Add a handover",
    "blank_row_note": "Fill in the blank row to add a handover; clear a row to remove it.",
    "settings": "Settings",
    "country": "Country (for the default hourly cost)",
    "currency": "Currency",
    "currency_auto": "By language",
    "working_weeks": "Working weeks per year",
    "hours_week": "Hours in a full-time week",
    "calculate": "Calculate and save",
    "csv": "Download CSV",
    "share": "Link to this scenario",
    "stopwatch": "Time one retype now",
    "stopwatch_start": "Start",
    "stopwatch_stop": "Stop and use",
    "stopwatch_for": "for",
    "defaults": "Defaults and their sources",
    "rate": "Amounts in DKK are converted from EUR: {source}",
    "errors": "Some fields need a look; see the messages next to them.",
    "warnings": "Worth a second look",
    "connected_title": "Connected in Handover",
    "saved_ok": "Saved. Next time this page opens with these handovers.",
    "try": "Try the demo form",
    "nothing": "Add a handover to see what it costs.",
    "country.NL": "Netherlands",
    "country.DK": "Denmark",
    "country.EU": "EU average",
}

NL: dict[str, str] = {
    "title": "Wat overtypen u kost",
    "intro": (
        "Elk record dat iemand met de hand van het ene systeem in het andere overneemt, kost "
        "minuten en veroorzaakt fouten. Vul de overdrachten in die nog met de hand gaan; wat "
        "Handover al doet, wordt gemeten."
    ),
    "language": "Taal",
    "headline": "Nog met de hand",
    "hours_per_week": "Uren per week",
    "money_per_year": "Geld per jaar",
    "share_of_year": "Deel van het werkjaar van één persoon",
    "errors_per_month": "Verwachte fouten per maand",
    "range": "waarschijnlijk {likely} (bereik {low}–{high})",
    "range_note": (
        "Bereiken zijn P10–P90 van 10.000 gesimuleerde weken; het middelste getal is de P50."
    ),
    "badge.measured": "gemeten",
    "badge.typed": "ingevuld",
    "badge.default": "standaard",
    "ranking": "Grootste tijdverspiller eerst",
    "rank": "Plaats",
    "handover": "Overdracht",
    "volume": "Records per week",
    "minutes": "Minuten per record",
    "tie": "gelijk",
    "tie_note": "Bereiken overlappen met een buur: de volgorde daartussen is niet zeker.",
    "status.connected": "gekoppeld, gemeten",
    "status.waiting": "gekoppeld, nog niets gemeten",
    "status.manual": "met de hand",
    "connector.ready": "Handover heeft hier een kant-en-klare koppeling voor: {kind}",
    "connector.none": "Nog geen kant-en-klare koppeling",
    "measured_over": "mediaan van de laatste {weeks} week/weken",
    "show_math": "Laat de berekening zien",
    "saved": "Al bespaard",
    "saved_text": (
        "{delivered} leveringen: {gross_hours} u ({gross_money}) bruto, {net_hours} u "
        "({net_money}) na {dead_hours} u herstel van {dead} mislukte levering(en)."
    ),
    "saved_none": "Er is nog niets gekoppelds afgeleverd.",
    "saved_note": "Alleen geslaagde, ontdubbelde leveringen tellen; testberichten nooit.",
    "chart.ranked": "Uren per week per overdracht, grootste eerst (balk P50, snorharen P10–P90)",
    "chart.flow": "Uren per week: totaal, al geautomatiseerd, resterend",
    "total": "Totaal",
    "automated": "Al geautomatiseerd",
    "remaining": "Resterend",
    "your_handovers": "Overdrachten met de hand",
    "handover_n": "Overdracht {n}",
    "source": "Van systeem",
    "target": "Naar systeem",
    "record_type": "Soort record",
    "action": "Handeling",
    "fields": "Velden per record",
    "low": "laag",
    "likely": "waarschijnlijk",
    "high": "hoog",
    "more": "Meer (leeg gebruikt de standaard)",
    "field_error_percent": "Typefouten per veld (%)",
    "fix_minutes": "Minuten om een fout te vinden en te herstellen",
    "hourly_cost": "Uurkosten (EUR)",
    "chars_per_field": "Tekens per veld",
    "remove": "Verwijderen",
    "add": "Overdracht toevoegen",
    "blank_row_note": (
        "Vul de lege rij in om een overdracht toe te voegen; maak een rij leeg om hem te "
        "verwijderen."
    ),
    "settings": "Instellingen",
    "country": "Land (voor de standaard uurkosten)",
    "currency": "Valuta",
    "currency_auto": "Volgens taal",
    "working_weeks": "Werkweken per jaar",
    "hours_week": "Uren in een volle werkweek",
    "calculate": "Berekenen en bewaren",
    "csv": "CSV downloaden",
    "share": "Link naar dit scenario",
    "stopwatch": "Meet nu één keer overtypen",
    "stopwatch_start": "Start",
    "stopwatch_stop": "Stop en gebruik",
    "stopwatch_for": "voor",
    "defaults": "Standaardwaarden en hun bronnen",
    "rate": "Bedragen in DKK zijn omgerekend uit EUR: {source}",
    "errors": "Sommige velden kloppen niet; zie de meldingen ernaast.",
    "warnings": "Even nakijken",
    "connected_title": "Gekoppeld in Handover",
    "saved_ok": "Bewaard. De volgende keer opent deze pagina met deze overdrachten.",
    "try": "Probeer het demoformulier",
    "nothing": "Voeg een overdracht toe om te zien wat die kost.",
    "country.NL": "Nederland",
    "country.DK": "Denemarken",
    "country.EU": "EU-gemiddelde",
}

DA: dict[str, str] = {
    "title": "Hvad genindtastning koster dig",
    "intro": (
        "Hver post, som nogen kopierer i hånden fra ét system til et andet, koster minutter og "
        "giver fejl. Udfyld de overleveringer, der stadig sker i hånden; dem, Handover allerede "
        "klarer, bliver målt."
    ),
    "language": "Sprog",
    "headline": "Stadig i hånden",
    "hours_per_week": "Timer om ugen",
    "money_per_year": "Penge om året",
    "share_of_year": "Andel af én persons arbejdsår",
    "errors_per_month": "Forventede fejl om måneden",
    "range": "sandsynligvis {likely} (interval {low}–{high})",
    "range_note": "Intervallerne er P10–P90 af 10.000 simulerede uger; midtertallet er P50.",
    "badge.measured": "målt",
    "badge.typed": "indtastet",
    "badge.default": "standard",
    "ranking": "Største tidsrøver først",
    "rank": "Plads",
    "handover": "Overlevering",
    "volume": "Poster om ugen",
    "minutes": "Minutter pr. post",
    "tie": "uafgjort",
    "tie_note": "Intervallerne overlapper en nabo: rækkefølgen mellem dem er ikke sikker.",
    "status.connected": "forbundet, målt",
    "status.waiting": "forbundet, intet målt endnu",
    "status.manual": "i hånden",
    "connector.ready": "Handover har en færdig forbindelse: {kind}",
    "connector.none": "Ingen færdig forbindelse endnu",
    "measured_over": "median af de sidste {weeks} uge(r)",
    "show_math": "Vis udregningen",
    "saved": "Allerede sparet",
    "saved_text": (
        "{delivered} leveringer: {gross_hours} t ({gross_money}) brutto, {net_hours} t "
        "({net_money}) efter {dead_hours} t med at rette {dead} fejlede levering(er)."
    ),
    "saved_none": "Intet forbundet er leveret endnu.",
    "saved_note": "Kun vellykkede leveringer uden dubletter tæller; testbeskeder aldrig.",
    "chart.ranked": "Timer om ugen pr. overlevering, største først (søjle P50, streger P10–P90)",
    "chart.flow": "Timer om ugen: i alt, allerede automatiseret, tilbage",
    "total": "I alt",
    "automated": "Allerede automatiseret",
    "remaining": "Tilbage",
    "your_handovers": "Overleveringer i hånden",
    "handover_n": "Overlevering {n}",
    "source": "Fra system",
    "target": "Til system",
    "record_type": "Posttype",
    "action": "Handling",
    "fields": "Felter pr. post",
    "low": "lav",
    "likely": "sandsynlig",
    "high": "høj",
    "more": "Mere (tomt bruger standarden)",
    "field_error_percent": "Tastefejl pr. felt (%)",
    "fix_minutes": "Minutter til at finde og rette en fejl",
    "hourly_cost": "Timepris (EUR)",
    "chars_per_field": "Tegn pr. felt",
    "remove": "Fjern",
    "add": "Tilføj en overlevering",
    "blank_row_note": "Udfyld den tomme række for at tilføje; tøm en række for at fjerne den.",
    "settings": "Indstillinger",
    "country": "Land (til standard-timeprisen)",
    "currency": "Valuta",
    "currency_auto": "Efter sprog",
    "working_weeks": "Arbejdsuger om året",
    "hours_week": "Timer i en fuldtidsuge",
    "calculate": "Beregn og gem",
    "csv": "Hent CSV",
    "share": "Link til dette scenarie",
    "stopwatch": "Tag tid på én genindtastning nu",
    "stopwatch_start": "Start",
    "stopwatch_stop": "Stop og brug",
    "stopwatch_for": "til",
    "defaults": "Standardværdier og deres kilder",
    "rate": "Beløb i DKK er omregnet fra EUR: {source}",
    "errors": "Nogle felter skal rettes; se beskederne ved siden af dem.",
    "warnings": "Værd at kigge på igen",
    "connected_title": "Forbundet i Handover",
    "saved_ok": "Gemt. Næste gang åbner siden med disse overleveringer.",
    "try": "Prøv demoformularen",
    "nothing": "Tilføj en overlevering for at se, hvad den koster.",
    "country.NL": "Holland",
    "country.DK": "Danmark",
    "country.EU": "EU-gennemsnit",
}

CATALOGS = {"en": EN, "nl": NL, "da": DA}

# The model's validation messages are English; the common ones are translated here, the rest
# (with numbers and names inside) are shown as they are.
MESSAGES: dict[str, dict[str, str]] = {
    "nl": {
        "required": "verplicht",
        "must not be negative": "mag niet negatief zijn",
        "must be a number, not NaN": "moet een getal zijn, geen NaN",
        "must be a finite number": "moet een eindig getal zijn",
        "must be a whole number": "moet een heel getal zijn",
        "must be a number": "moet een getal zijn",
        "low must not be more than likely": "laag mag niet meer zijn dan waarschijnlijk",
        "high must not be less than likely": "hoog mag niet minder zijn dan waarschijnlijk",
        "required when low or high is given": "verplicht als laag of hoog is ingevuld",
        "add at least one handover": "voeg minstens één overdracht toe",
    },
    "da": {
        "required": "skal udfyldes",
        "must not be negative": "må ikke være negativ",
        "must be a number, not NaN": "skal være et tal, ikke NaN",
        "must be a finite number": "skal være et endeligt tal",
        "must be a whole number": "skal være et helt tal",
        "must be a number": "skal være et tal",
        "low must not be more than likely": "lav må ikke være mere end sandsynlig",
        "high must not be less than likely": "høj må ikke være mindre end sandsynlig",
        "required when low or high is given": "skal udfyldes, når lav eller høj er udfyldt",
        "add at least one handover": "tilføj mindst én overlevering",
    },
}


def translate(lang: str, key: str, **values: object) -> str:
    """Return the text for key in lang (English if missing there), with values filled in."""
    text = CATALOGS.get(lang, EN).get(key) or EN[key]
    return text.format(**values) if values else text


def translate_message(lang: str, message: str) -> str:
    """Return a validation message in lang when it is one of the common ones, else unchanged."""
    return MESSAGES.get(lang, {}).get(message, message)


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

    Only the unambiguous form (digits, one comma, digits) is rewritten; anything with a
    thousands separator is left for the model to reject, rather than guessed at.
    """
    if lang in ("nl", "da") and re.fullmatch(r"\s*\d+,\d+\s*", text):
        return text.strip().replace(",", ".")
    return text
