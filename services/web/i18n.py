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
    "errors_per_month": "Expected mistakes per month",
    "range": "likely {likely} (range {low}–{high})",
    "range_note": (
        "The figure is worked out from what you typed and the defaults, exactly as “Show the "
        "math” does. “Probably between” is where 8 in 10 of {samples} simulated weeks fall, "
        "each figure varied between its lowest and highest."
    ),
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
    "status.waiting.estimate": (
        "connected; {delivered} delivered so far, less than a week measured: using your "
        "estimate until then"
    ),
    "status.waiting.zero": (
        "connected; {delivered} delivered so far, less than a week measured: counted as 0 a "
        "week until then"
    ),
    "status.new.estimate": (
        "connected, nothing delivered yet: using your estimate until a week is measured"
    ),
    "status.new.zero": (
        "connected, nothing delivered yet: counted as 0 a week until a week is measured"
    ),
    "status.manual": "done by hand",
    "connector.ready": "Handover has a ready-made connector: {kind}",
    "connector.none": "No ready-made connector yet",
    "measured_over": "median of the last {weeks}",
    "show_math": "Show the math",
    "saved": "Already saved",
    "saved_text": (
        "{deliveries}: {gross_hours} h ({gross_money}) gross, {net_hours} h ({net_money}) "
        "after {dead_hours} h ({dead_money}) fixing {dead_letters}."
    ),
    "saved_text_clean": "{deliveries}: {gross_hours} h ({gross_money}); no open dead letters.",
    "saved_costs_more": (
        "Failed handovers cost more time than Handover saved so far: {deliveries} saved "
        "{gross_hours} h ({gross_money}), but fixing {dead_letters} costs {dead_hours} h "
        "({dead_money}), {short_hours} h ({short_money}) more. Fix the cause under Dead "
        "letters, then replay them."
    ),
    "saved_none": "Nothing connected has been delivered yet.",
    "saved_note": "Only successful, de-duplicated deliveries count; test events never do.",
    "saved_dead_note": (
        "Each open dead letter costs the minutes set under Settings (blank: the handover's "
        "minutes to find and fix an error); once replayed and delivered it counts as a delivery."
    ),
    "dead_letters_link": "See the open dead letters",
    "chart.ranked": (
        "Hours a week by handover, worst first (bar: the figure shown; line: probably "
        "between)"
    ),
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
    "dead_letter_minutes": (
        "Minutes to fix one open dead letter (blank: each handover's minutes to fix an error)"
    ),
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
    "not_saved": "Your results are not saved.",
    "log_in_to_keep": "Owner? Log in to keep them for next time.",
    "log_in_to_see_measured": "The owner can log in to see what Handover measured and saved.",
    "calculate_only": "Calculate",
    "math_note": (
        "Each line uses the rounded result of the lines above it, so your own calculator "
        "gives the same figures."
    ),
    "try": "Try the demo form",
    "nothing": "Add a handover to see what it costs.",
    "country.NL": "Netherlands",
    "country.DK": "Denmark",
    "country.EU": "EU average",
    "connected_by": "Connected by",
    "not_connected": "not connected yet",
    "connection": "{flow}: {action} → {target}",
    "connected_via": "via {action} in the flow “{flow}”",
    "link_suggest": "Handover {n} ({label}) may be this one: choose it under “Connected by” there.",
    "default.hourly_cost": "Hourly cost, {country}",
    "default.minutes_floor": "Keystroke floor per record",
    "default.dead_letter": "Minutes per open dead letter",
    "default.rate": "Euro to Danish kroner",
    "math.volume": "How many a week",
    "math.minutes": "Minutes each",
    "math.typing": "Typing time (what you entered)",
    "math.fields": "Fields per record",
    "math.chance": "Chance a record has a mistake",
    "math.fix": "Minutes to find and fix a mistake",
    "math.fixing": "Fixing mistakes (an estimate)",
    "math.hours": "Hours per week",
    "math.cost": "Money per year (EUR): hours × hourly cost × weeks a year",
    "math.converted": "In {currency}",
    "math.share": "Share of one person's working year",
    "math.errors": "Mistakes per month",
    "math.floor": "Keystroke floor per record",
    "math.headline": "How the headline adds up",
    "probably": "probably between {low} and {high}",
    "part.typing": "Typing",
    "part.typing_note": "what you entered: how many a week × minutes each",
    "part.fixing": "Fixing mistakes",
    "part.fixing_default": (
        "an estimate: about 1 in 100 typed fields is wrong, and finding and fixing a wrong "
        "record takes 10 times as long as typing it. Change both under “More” in a handover."
    ),
    "part.fixing_typed": (
        "an estimate from your figures under “More”: typing errors per field and minutes to "
        "fix one."
    ),
    "h_week": "{hours} h a week",
    "error.required": "please fill this in",
    "error_at": "Handover {n}: {question}",
    "q.source": "from which system?",
    "q.target": "to which system?",
    "q.volume": "how many a week?",
    "q.minutes": "how many minutes each?",
    "q.record_type": "what kind of record?",
    "q.action": "what is done with it?",
    "q.fields": "how many fields per record?",
    "q.field_error_percent": "typing errors per field?",
    "q.fix_minutes": "minutes to fix a mistake?",
    "q.hourly_cost": "hourly cost?",
    "q.chars_per_field": "characters per field?",
    "q.connected": "connected by?",
    "q.low": "{question} (lowest)",
    "q.high": "{question} (highest)",
    "f.source": "From",
    "f.target": "To",
    "f.volume": "How many a week",
    "f.minutes": "Minutes each",
    "f.fields_default": "blank: {n} for this record type",
    "f.spread": "Not sure? Give a lowest and a highest figure too:",
    "example_note": "An example to start from: type over it with your own handover.",
    "example.source": "Web shop",
    "example.target": "Accounting",
    "example.record_type": "orders",
    "fields_default_shown": "{n} fields per record (default for this record type)",
    "busy": "The calculator is busy with other requests: try again in a few seconds.",
    "nav.label": "Handover",
    "nav.calculator": "Calculator",
    "nav.status": "Status",
    "nav.handoffs": "Handoffs",
    "nav.audit": "Audit trail",
    "nav.dead_letters": "Dead letters",
    "nav.log_out": "Log out",
    "nav.log_in": "Log in",
    "action.upsert_contact": "save the contact",
    "action.create_task": "add a follow-up task",
    "action.upsert_person": "save the person",
    "action.create_activity": "add an activity",
    "action.create_sales_invoice": "make the sales invoice",
    "action.send_email": "send the e-mail",
    "action.send": "send it on",
    "action.archive_order": "archive the order",
    "action.save_contact": "save the contact",
    "event.contact.submitted": "a contact form comes in",
    "event.order.created": "an order is placed",
    "event.customer.created": "a new customer signs up",
    "event.payment.received": "a payment comes in",
    "connected_label": "{flow}: {action} ({target})",
    "n.deliveries.one": "{n} delivery",
    "n.deliveries.other": "{n} deliveries",
    "n.dead.one": "{n} open dead letter",
    "n.dead.other": "{n} open dead letters",
    "n.weeks.one": "{n} week",
    "n.weeks.other": "{n} weeks",
    "n.days.one": "{n} day",
    "n.days.other": "{n} days",
    "n.hours.one": "{n} hour",
    "n.hours.other": "{n} hours",
    "n.minutes.one": "{n} minute",
    "n.minutes.other": "{n} minutes",
    "n.seconds.one": "{n} second",
    "n.seconds.other": "{n} seconds",
    "n.attempts.one": "{n} attempt",
    "n.attempts.other": "{n} attempts",
    "notify.dead_letter.subject": "Handover could not deliver {what} to {target}",
    "notify.dead_letter.text": (
        "Handover gave up delivering {what} to {target} (flow “{flow}”) after {attempts}.\n"
        "\n"
        "What {target} answered: {error}\n"
        "\n"
        "Fix the cause (a wrong field, a revoked key), then replay it; nothing is sent twice:\n"
        "{link}"
    ),
    "notify.paused.subject": "{target} is not answering: Handover paused it",
    "notify.paused.text": (
        "{target} has kept failing for {duration}, so Handover paused it and keeps trying by "
        "itself. Nothing is lost: what waits is delivered as soon as {target} answers again.\n"
        "\n"
        "If it stays down, check the service or its key:\n"
        "{link}"
    ),
    "notify.silent.subject": "Nothing from {source} for {duration}",
    "notify.silent.text": (
        "{source} usually sends something every {rhythm}, but nothing has come in for "
        "{duration}. Check that its webhook is still switched on (some shops switch a webhook"
        " off after a few failures).\n"
        "\n"
        "{link}"
    ),
    "notify.more.subject": "Handover: {n} more things need a look",
    "notify.more.text": "So as not to flood your inbox, these {n} were held back:\n{link}",
    "notify.digest.subject": "Handover this week: {deliveries}, about {hours} h saved",
    "notify.digest.done": (
        "Last week Handover did {deliveries} for you, about {hours} hours nobody had to type."
    ),
    "notify.digest.attention": "Needs your attention:",
    "notify.digest.all_well": "Nothing needs your attention.",
    "notify.digest.dead_letters": "{dead} in Dead letters: {link}",
    "notify.digest.paused": "{target} is paused (it keeps failing)",
    "notify.digest.silent": "nothing from {source} for {duration}",
    "notify.digest.footer": "Everything at a glance: {link}",
    "ops.status": "Status",
    "ops.sources": "Where events come from",
    "ops.source": "Source",
    "ops.last_event": "Last event",
    "ops.today": "Today",
    "ops.turned_away": "Turned away",
    "ops.rhythm": "Rhythm",
    "ops.nothing_yet": "nothing yet",
    "ops.none": "none",
    "ops.unusually_quiet": "Unusually quiet: nothing for {quiet}; it usually sends every {usual}.",
    "ops.normal": "Normal: usually every {usual}",
    "ops.learning": "Still learning its rhythm",
    "ops.woocommerce": (
        "WooCommerce switches a webhook off by itself after 5 failed deliveries: check its "
        "status under WooCommerce → Settings → Advanced → Webhooks"
    ),
    "ops.targets": "Where events go",
    "ops.target": "Target",
    "ops.delivered": "Delivered",
    "ops.waiting": "Waiting",
    "ops.state": "State",
    "ops.dead_letters": "Dead letters",
    "ops.behind": "Behind by",
    "ops.paused": "Paused: it kept failing; Handover tries again by itself",
    "ops.working": "Working",
    "ops.up_to_date": "up to date",
    "ops.flows": "Flows",
    "ops.flow": "Flow",
    "ops.when": "When",
    "ops.to": "To",
    "ops.actions_delivered": "Actions delivered",
    "ops.not_handed_over": "Not handed over after {after}",
    "ops.events.one": "{n} event",
    "ops.events.other": "{n} events",
    "ops.per_process": (
        "Turned-away webhooks and paused targets are counted by the process that saw them; "
        "with separate gateway and sync processes, see Grafana for those."
    ),
    "ops.ago": "{duration} ago",
    "ops.never": "never",
    "ops.handoffs_title": "Handoffs not finished",
    "ops.handoffs_note": "Events whose actions are not all delivered {after} after they arrived.",
    "ops.all_clear": "Everything was handed over. Nothing is waiting longer than {after}.",
    "ops.why.not_started": (
        "Not started yet: {target} has not picked it up (is the sync service running?)."
    ),
    "ops.why.answered": " — {target} answered: {error}",
    "ops.why.gave_up": (
        "Gave up after {attempts}{said}. Fix the cause, then replay it under Dead letters."
    ),
    "ops.why.paused": (
        "{target} is paused after repeated failures; Handover keeps probing it{said}."
    ),
    "ops.why.retry": "Waiting to retry at {at}{said}.",
    "ops.why.trying": "Being tried now (attempt {n}){said}.",
    "ops.why.queued": "Queued: waiting for its turn.",
    "ops.audit_title": "Audit trail",
    "ops.audit_search": "Order number, e-mail or name",
    "ops.search": "Search",
    "ops.nothing_found": "Nothing found for “{q}”.",
    "ops.dead_letters_note": (
        "Actions Handover gave up on. Fix the cause (a wrong field, a revoked key), then "
        "replay: the target recognises it as the same action, so nothing happens twice."
    ),
    "nothing_by_hand": "nothing is left to do by hand",
    "error.unknown_field": "unknown field",
    "error.no_handovers": "add at least one handover",
    "error.too_many_handovers": "at most {cap} handovers",
    "error.numbering": "handovers must be numbered 0, 1, 2, ...",
    "error.duplicate": "same source, target, record type and action as {other}",
    "error.not_a_number_type": "must be a number",
    "error.not_a_number": "{value} is not a number",
    "error.thousands": "{value} is not a number; write {plain} without a thousands separator",
    "error.decimal_comma": "{value} is not a number; use a dot as the decimal separator",
    "error.nan": "must be a number, not NaN",
    "error.infinite": "must be a finite number",
    "error.negative": "must not be negative",
    "error.out_of_range": "{value} is out of range",
    "error.not_an_object": "expected an object of fields",
    "error.field_name_text": "field names must be text",
    "error.text_or_number": "must be text or a number",
    "error.choose_one": "choose one of {choices}",
    "error.at_most": "at most {cap} {unit}",
    "error.positive_at_most": "must be more than 0 and at most {cap}",
    "error.too_long": "at most {cap} characters",
    "error.over_a_week": (
        "at the high end this handover takes {hours} hours a week, more than the 168 hours in"
        " a week; check the volume and minutes"
    ),
    "error.whole": "must be a whole number",
    "error.between": "must be between {low} and {high}",
    "error.likely_required": "required when low or high is given",
    "error.low_above_likely": "low must not be more than likely",
    "error.high_below_likely": "high must not be less than likely",
    "error.below_floor": (
        "{typed} min is below the keystroke floor of {floor} min for {n} field(s); accepted, "
        "but check it."
    ),
    "error.link_not_scenario": "this link is not a calculator scenario",
    "error.link_damaged_or_large": "this link is damaged or too large",
    "error.link_damaged": "this link is damaged",
    "source.hourly.NL": (
        "Eurostat, hourly labour costs 2024 (whole economy excluding agriculture and public "
        "administration), Netherlands: €45.2 per hour."
    ),
    "source.hourly.DK": (
        "Eurostat, hourly labour costs 2024 (whole economy excluding agriculture and public "
        "administration), Denmark: €50.1 per hour."
    ),
    "source.hourly.EU": (
        "Eurostat, hourly labour costs 2024 (whole economy excluding agriculture and public "
        "administration), EU average: €33.5 per hour."
    ),
    "source.field_error": (
        "Manual data entry: about 1% of fields are typed wrong (observed range 0.55%–3.6%), "
        "Barchard et al. 2020."
    ),
    "source.fix_factor": (
        "Finding and fixing an error takes about 10× the time of entering the record right, "
        "after Labovitz & Chang's 1-10-100 rule. This is a rule of thumb, not a measurement."
    ),
    "source.dead_letter": (
        "Each open dead letter is charged the handover's minutes to find and fix an error (by"
        " default 10× its minutes per record, the rule of thumb above) until it is replayed "
        "and delivered; a replayed one counts as a delivery. Set your own minutes per dead "
        "letter under Settings."
    ),
    "source.chars": "Assumption: about 8 characters per field (a name, a number, a date).",
    "source.klm": (
        "Keystroke-Level Model (Card, Moran & Newell 1980): per field 1.35 s to prepare, 0.4 "
        "s to move the hand to it and 0.28 s per keystroke for an average typist. A floor: it"
        " leaves out reading the source system and switching windows."
    ),
    "source.weeks": (
        "Assumption: 46 working weeks a year (52 minus about 6 weeks of leave and public "
        "holidays)."
    ),
    "source.hours_week": "Assumption: a 40-hour full-time working week.",
    "source.rate": "ECB reference rate (approx.): 1 EUR = 7.46 DKK.",
    "source.eur": "Computed in EUR.",
    "ops.what_was_sent": "What was sent",
    "ops.answer": "What {target} answered:",
    "ops.col.when": "When",
    "ops.col.action": "Action",
    "ops.col.error": "Error",
    "ops.col.status": "Status",
    "ops.col.attempts": "Attempts",
    "ops.col.id_there": "Id there",
    "ops.col.what_happened": "What happened",
    "ops.replay": "Replay",
    "ops.replay_all": "Replay all of {target}",
    "ops.inspect": "inspect",
    "ops.all": "all",
    "ops.show": "Show",
    "ops.all_dead_letters": "All dead letters",
    "ops.open": "open",
    "ops.delivered_since": "delivered since",
    "ops.no_dead_letters": "No dead letters.",
    "ops.no_flow": "No flow acts on this event.",
    "ops.st.delivered": "delivered",
    "ops.st.deadlettered": "gave up (dead letter)",
    "ops.st.retrying": "retrying",
    "ops.st.failed": "failed, trying again",
    "ops.st.sending": "sending",
    "ops.st.pending": "waiting",
    "ops.st.deadlettering": "giving up",
    "ops.st.not_started": "not started",
    "ops.did.delivered": "delivered{got} at {at}",
    "ops.did.dead": "dead-lettered after {attempts}: {error}",
    "ops.did.retrying": "retrying at {at} ({attempts} so far): {error}",
    "ops.did.other": "{status} ({attempts})",
    "ops.did.not_started": "not started yet",
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
        "Het getal volgt uit wat u invulde en de standaardwaarden, precies zoals “Laat de "
        "berekening zien” het doet. “Waarschijnlijk tussen” is waar 8 van de 10 van {samples}"
        " gesimuleerde weken vallen, met elk cijfer gevarieerd tussen laagste en hoogste."
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
    "status.waiting.estimate": (
        "gekoppeld; {delivered} afgeleverd tot nu toe, minder dan een week gemeten: uw schatting "
        "telt tot dan"
    ),
    "status.waiting.zero": (
        "gekoppeld; {delivered} afgeleverd tot nu toe, minder dan een week gemeten: telt tot dan "
        "als 0 per week"
    ),
    "status.new.estimate": (
        "gekoppeld, nog niets afgeleverd: uw schatting telt tot er een week gemeten is"
    ),
    "status.new.zero": (
        "gekoppeld, nog niets afgeleverd: telt als 0 per week tot er een week gemeten is"
    ),
    "status.manual": "met de hand",
    "connector.ready": "Handover heeft hier een kant-en-klare koppeling voor: {kind}",
    "connector.none": "Nog geen kant-en-klare koppeling",
    "measured_over": "mediaan van de laatste {weeks}",
    "show_math": "Laat de berekening zien",
    "saved": "Al bespaard",
    "saved_text": (
        "{deliveries}: {gross_hours} u ({gross_money}) bruto, {net_hours} u ({net_money}) na "
        "{dead_hours} u ({dead_money}) herstel van {dead_letters}."
    ),
    "saved_text_clean": (
        "{deliveries}: {gross_hours} u ({gross_money}); geen open mislukte leveringen."
    ),
    "saved_costs_more": (
        "Mislukte overdrachten kosten tot nu toe meer tijd dan Handover bespaarde: met "
        "{deliveries} bespaarde het {gross_hours} u ({gross_money}), maar het herstel van "
        "{dead_letters} kost {dead_hours} u ({dead_money}), {short_hours} u ({short_money}) "
        "meer. Los de oorzaak op onder Mislukte leveringen en verstuur ze daarna opnieuw."
    ),
    "saved_none": "Er is nog niets gekoppelds afgeleverd.",
    "saved_note": "Alleen geslaagde, ontdubbelde leveringen tellen; testberichten nooit.",
    "saved_dead_note": (
        "Elke open mislukte levering kost de minuten die onder Instellingen staan (leeg: de "
        "minuten van de overdracht om een fout te vinden en te herstellen); opnieuw verstuurd en "
        "afgeleverd telt hij als een levering."
    ),
    "dead_letters_link": "Bekijk de open mislukte leveringen",
    "chart.ranked": (
        "Uren per week per overdracht, grootste eerst (balk: het getoonde getal; lijn: "
        "waarschijnlijk tussen)"
    ),
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
    "dead_letter_minutes": (
        "Minuten om één open mislukte levering te herstellen (leeg: de herstelminuten van elke "
        "overdracht)"
    ),
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
    "not_saved": "Uw resultaten worden niet bewaard.",
    "log_in_to_keep": "Eigenaar? Log in om ze te bewaren voor de volgende keer.",
    "log_in_to_see_measured": (
        "De eigenaar kan inloggen om te zien wat Handover heeft gemeten en bespaard."
    ),
    "calculate_only": "Berekenen",
    "math_note": (
        "Elke regel rekent met de afgeronde uitkomst van de regels erboven, dus uw eigen "
        "rekenmachine geeft dezelfde getallen."
    ),
    "try": "Probeer het demoformulier",
    "nothing": "Voeg een overdracht toe om te zien wat die kost.",
    "country.NL": "Nederland",
    "country.DK": "Denemarken",
    "country.EU": "EU-gemiddelde",
    "connected_by": "Gekoppeld via",
    "not_connected": "nog niet gekoppeld",
    "connection": "{flow}: {action} → {target}",
    "connected_via": "via {action} in de flow “{flow}”",
    "link_suggest": (
        "Overdracht {n} ({label}) is misschien deze: kies hem daar onder “Gekoppeld via”."
    ),
    "default.hourly_cost": "Uurkosten, {country}",
    "default.minutes_floor": "Toetsaanslagbodem per record",
    "default.dead_letter": "Minuten per open mislukte levering",
    "default.rate": "Euro naar Deense kroon",
    "math.volume": "Hoeveel per week",
    "math.minutes": "Minuten per stuk",
    "math.typing": "Typtijd (wat u invulde)",
    "math.fields": "Velden per record",
    "math.chance": "Kans dat een record een fout bevat",
    "math.fix": "Minuten om een fout te vinden en te herstellen",
    "math.fixing": "Fouten herstellen (een schatting)",
    "math.hours": "Uren per week",
    "math.cost": "Kosten per jaar (EUR): uren × uurkosten × weken per jaar",
    "math.converted": "In {currency}",
    "math.share": "Deel van het werkjaar van één persoon",
    "math.errors": "Fouten per maand",
    "math.floor": "Toetsaanslagbodem per record",
    "math.headline": "Zo telt de kop op",
    "probably": "waarschijnlijk tussen {low} en {high}",
    "part.typing": "Typen",
    "part.typing_note": "wat u invulde: hoeveel per week × minuten per stuk",
    "part.fixing": "Fouten herstellen",
    "part.fixing_default": (
        "een schatting: ongeveer 1 op de 100 getypte velden is fout, en een fout record "
        "vinden en herstellen duurt 10 keer zo lang als het typen. Pas beide aan onder “Meer”"
        " bij een overdracht."
    ),
    "part.fixing_typed": (
        "een schatting uit uw cijfers onder “Meer”: typefouten per veld en minuten om er een "
        "te herstellen."
    ),
    "h_week": "{hours} u per week",
    "error.required": "vul dit in",
    "error_at": "Overdracht {n}: {question}",
    "q.source": "uit welk systeem?",
    "q.target": "naar welk systeem?",
    "q.volume": "hoeveel per week?",
    "q.minutes": "hoeveel minuten per stuk?",
    "q.record_type": "wat voor record?",
    "q.action": "wat gebeurt ermee?",
    "q.fields": "hoeveel velden per record?",
    "q.field_error_percent": "typefouten per veld?",
    "q.fix_minutes": "minuten om een fout te herstellen?",
    "q.hourly_cost": "uurkosten?",
    "q.chars_per_field": "tekens per veld?",
    "q.connected": "gekoppeld via?",
    "q.low": "{question} (laagste)",
    "q.high": "{question} (hoogste)",
    "f.source": "Van",
    "f.target": "Naar",
    "f.volume": "Hoeveel per week",
    "f.minutes": "Minuten per stuk",
    "f.fields_default": "leeg: {n} voor dit soort record",
    "f.spread": "Niet zeker? Geef ook een laagste en een hoogste cijfer:",
    "example_note": "Een voorbeeld om mee te beginnen: typ er uw eigen overdracht overheen.",
    "example.source": "Webwinkel",
    "example.target": "Boekhouding",
    "example.record_type": "bestellingen",
    "fields_default_shown": "{n} velden per record (standaard voor dit soort record)",
    "busy": (
        "De calculator is bezig met andere verzoeken: probeer het over een paar seconden "
        "opnieuw."
    ),
    "nav.label": "Handover",
    "nav.calculator": "Calculator",
    "nav.status": "Status",
    "nav.handoffs": "Overdrachten",
    "nav.audit": "Logboek",
    "nav.dead_letters": "Mislukte leveringen",
    "nav.log_out": "Uitloggen",
    "nav.log_in": "Inloggen",
    "action.upsert_contact": "contact opslaan",
    "action.create_task": "vervolgtaak maken",
    "action.upsert_person": "persoon opslaan",
    "action.create_activity": "activiteit maken",
    "action.create_sales_invoice": "verkoopfactuur maken",
    "action.send_email": "e-mail versturen",
    "action.send": "doorsturen",
    "action.archive_order": "bestelling archiveren",
    "action.save_contact": "contact opslaan",
    "event.contact.submitted": "er komt een contactformulier binnen",
    "event.order.created": "er wordt besteld",
    "event.customer.created": "er meldt zich een nieuwe klant",
    "event.payment.received": "er komt een betaling binnen",
    "connected_label": "{flow}: {action} ({target})",
    "n.deliveries.one": "{n} levering",
    "n.deliveries.other": "{n} leveringen",
    "n.dead.one": "{n} open mislukte levering",
    "n.dead.other": "{n} open mislukte leveringen",
    "n.weeks.one": "{n} week",
    "n.weeks.other": "{n} weken",
    "n.days.one": "{n} dag",
    "n.days.other": "{n} dagen",
    "n.hours.one": "{n} uur",
    "n.hours.other": "{n} uur",
    "n.minutes.one": "{n} minuut",
    "n.minutes.other": "{n} minuten",
    "n.seconds.one": "{n} seconde",
    "n.seconds.other": "{n} seconden",
    "n.attempts.one": "{n} poging",
    "n.attempts.other": "{n} pogingen",
    "notify.dead_letter.subject": "Handover kon {what} niet afleveren bij {target}",
    "notify.dead_letter.text": (
        "Handover heeft het afleveren van {what} bij {target} (flow “{flow}”) opgegeven na "
        "{attempts}.\n"
        "\n"
        "Wat {target} antwoordde: {error}\n"
        "\n"
        "Los de oorzaak op (een verkeerd veld, een ingetrokken sleutel) en verstuur het "
        "daarna opnieuw; niets gaat twee keer:\n"
        "{link}"
    ),
    "notify.paused.subject": "{target} antwoordt niet: Handover heeft het gepauzeerd",
    "notify.paused.text": (
        "{target} mislukt al {duration}, dus Handover heeft het gepauzeerd en probeert het "
        "zelf opnieuw. Er gaat niets verloren: wat wacht, wordt afgeleverd zodra {target} "
        "weer antwoordt.\n"
        "\n"
        "Blijft het stil, kijk dan de dienst of de sleutel na:\n"
        "{link}"
    ),
    "notify.silent.subject": "Al {duration} niets van {source}",
    "notify.silent.text": (
        "{source} stuurt meestal elke {rhythm} iets, maar er is al {duration} niets "
        "binnengekomen. Kijk of de webhook nog aan staat (sommige winkels zetten een webhook "
        "uit na een paar mislukkingen).\n"
        "\n"
        "{link}"
    ),
    "notify.more.subject": "Handover: nog {n} dingen om na te kijken",
    "notify.more.text": "Om uw inbox niet te overspoelen, zijn deze {n} samengevoegd:\n{link}",
    "notify.digest.subject": "Handover deze week: {deliveries}, ongeveer {hours} u bespaard",
    "notify.digest.done": (
        "Vorige week deed Handover {deliveries} voor u, ongeveer {hours} uur die niemand "
        "hoefde te typen."
    ),
    "notify.digest.attention": "Heeft uw aandacht nodig:",
    "notify.digest.all_well": "Niets heeft uw aandacht nodig.",
    "notify.digest.dead_letters": "{dead} bij Mislukte leveringen: {link}",
    "notify.digest.paused": "{target} is gepauzeerd (het blijft mislukken)",
    "notify.digest.silent": "al {duration} niets van {source}",
    "notify.digest.footer": "Alles in één oogopslag: {link}",
    "ops.status": "Status",
    "ops.sources": "Waar gebeurtenissen vandaan komen",
    "ops.source": "Bron",
    "ops.last_event": "Laatste gebeurtenis",
    "ops.today": "Vandaag",
    "ops.turned_away": "Geweigerd",
    "ops.rhythm": "Ritme",
    "ops.nothing_yet": "nog niets",
    "ops.none": "geen",
    "ops.unusually_quiet": "Ongewoon stil: al {quiet} niets; meestal stuurt het elke {usual}.",
    "ops.normal": "Normaal: meestal elke {usual}",
    "ops.learning": "Leert zijn ritme nog",
    "ops.woocommerce": (
        "WooCommerce zet een webhook zelf uit na 5 mislukte leveringen: kijk de status na "
        "onder WooCommerce → Instellingen → Geavanceerd → Webhooks"
    ),
    "ops.targets": "Waar gebeurtenissen heen gaan",
    "ops.target": "Doel",
    "ops.delivered": "Afgeleverd",
    "ops.waiting": "Wachtend",
    "ops.state": "Toestand",
    "ops.dead_letters": "Mislukte leveringen",
    "ops.behind": "Achter met",
    "ops.paused": "Gepauzeerd: het bleef mislukken; Handover probeert het zelf opnieuw",
    "ops.working": "Werkt",
    "ops.up_to_date": "bij",
    "ops.flows": "Flows",
    "ops.flow": "Flow",
    "ops.when": "Wanneer",
    "ops.to": "Naar",
    "ops.actions_delivered": "Handelingen afgeleverd",
    "ops.not_handed_over": "Niet overgedragen na {after}",
    "ops.events.one": "{n} gebeurtenis",
    "ops.events.other": "{n} gebeurtenissen",
    "ops.per_process": (
        "Geweigerde webhooks en gepauzeerde doelen telt het proces dat ze zag; met aparte "
        "gateway- en syncprocessen staan ze in Grafana."
    ),
    "ops.ago": "{duration} geleden",
    "ops.never": "nooit",
    "ops.handoffs_title": "Onafgemaakte overdrachten",
    "ops.handoffs_note": (
        "Gebeurtenissen waarvan niet alle handelingen zijn afgeleverd {after} na aankomst."
    ),
    "ops.all_clear": "Alles is overgedragen. Niets wacht langer dan {after}.",
    "ops.why.not_started": (
        "Nog niet begonnen: {target} heeft het nog niet opgepakt (draait de syncdienst?)."
    ),
    "ops.why.answered": " — {target} antwoordde: {error}",
    "ops.why.gave_up": (
        "Opgegeven na {attempts}{said}. Los de oorzaak op en verstuur het opnieuw onder "
        "Mislukte leveringen."
    ),
    "ops.why.paused": (
        "{target} is gepauzeerd na herhaalde mislukkingen; Handover blijft het "
        "proberen{said}."
    ),
    "ops.why.retry": "Wacht op een nieuwe poging om {at}{said}.",
    "ops.why.trying": "Wordt nu geprobeerd (poging {n}){said}.",
    "ops.why.queued": "In de rij: wacht op zijn beurt.",
    "ops.audit_title": "Logboek",
    "ops.audit_search": "Bestelnummer, e-mail of naam",
    "ops.search": "Zoeken",
    "ops.nothing_found": "Niets gevonden voor “{q}”.",
    "ops.dead_letters_note": (
        "Handelingen die Handover heeft opgegeven. Los de oorzaak op (een verkeerd veld, een "
        "ingetrokken sleutel) en verstuur ze opnieuw: het doel herkent ze als dezelfde "
        "handeling, dus niets gebeurt twee keer."
    ),
    "nothing_by_hand": "er gaat niets meer met de hand",
    "error.unknown_field": "onbekend veld",
    "error.no_handovers": "voeg minstens één overdracht toe",
    "error.too_many_handovers": "hoogstens {cap} overdrachten",
    "error.numbering": "overdrachten moeten genummerd zijn 0, 1, 2, ...",
    "error.duplicate": "zelfde bron, doel, soort record en handeling als {other}",
    "error.not_a_number_type": "moet een getal zijn",
    "error.not_a_number": "{value} is geen getal",
    "error.thousands": (
        "{value} is geen getal; schrijf {plain} zonder scheidingsteken voor duizendtallen"
    ),
    "error.decimal_comma": "{value} is geen getal; gebruik een punt als decimaalteken",
    "error.nan": "moet een getal zijn, geen NaN",
    "error.infinite": "moet een eindig getal zijn",
    "error.negative": "mag niet negatief zijn",
    "error.out_of_range": "{value} valt buiten het bereik",
    "error.not_an_object": "verwachtte een object met velden",
    "error.field_name_text": "veldnamen moeten tekst zijn",
    "error.text_or_number": "moet tekst of een getal zijn",
    "error.choose_one": "kies een van {choices}",
    "error.at_most": "hoogstens {cap} {unit}",
    "error.positive_at_most": "moet meer dan 0 en hoogstens {cap} zijn",
    "error.too_long": "hoogstens {cap} tekens",
    "error.over_a_week": (
        "aan de hoge kant kost deze overdracht {hours} uur per week, meer dan de 168 uur in "
        "een week; kijk het aantal en de minuten na"
    ),
    "error.whole": "moet een heel getal zijn",
    "error.between": "moet tussen {low} en {high} liggen",
    "error.likely_required": "verplicht als laag of hoog is ingevuld",
    "error.low_above_likely": "laag mag niet meer zijn dan waarschijnlijk",
    "error.high_below_likely": "hoog mag niet minder zijn dan waarschijnlijk",
    "error.below_floor": (
        "{typed} min is minder dan de toetsaanslagbodem van {floor} min voor {n} veld(en); "
        "aanvaard, maar kijk het na."
    ),
    "error.link_not_scenario": "deze link is geen calculatorscenario",
    "error.link_damaged_or_large": "deze link is beschadigd of te groot",
    "error.link_damaged": "deze link is beschadigd",
    "source.hourly.NL": (
        "Eurostat, uurloonkosten 2024 (hele economie zonder landbouw en openbaar bestuur), "
        "Nederland: €45,2 per uur."
    ),
    "source.hourly.DK": (
        "Eurostat, uurloonkosten 2024 (hele economie zonder landbouw en openbaar bestuur), "
        "Denemarken: €50,1 per uur."
    ),
    "source.hourly.EU": (
        "Eurostat, uurloonkosten 2024 (hele economie zonder landbouw en openbaar bestuur), "
        "EU-gemiddelde: €33,5 per uur."
    ),
    "source.field_error": (
        "Handmatige invoer: ongeveer 1% van de velden wordt verkeerd getypt (waargenomen "
        "bereik 0,55%–3,6%), Barchard e.a. 2020."
    ),
    "source.fix_factor": (
        "Een fout vinden en herstellen kost ongeveer 10× de tijd van het record meteen goed "
        "invoeren, naar de 1-10-100-regel van Labovitz & Chang. Dit is een vuistregel, geen "
        "meting."
    ),
    "source.dead_letter": (
        "Elke open mislukte levering kost de minuten van de overdracht om een fout te vinden "
        "en te herstellen (standaard 10× de minuten per record, de vuistregel hierboven) tot "
        "ze opnieuw verstuurd en afgeleverd is; een opnieuw verstuurde telt als levering. "
        "Stel uw eigen minuten per mislukte levering in onder Instellingen."
    ),
    "source.chars": "Aanname: ongeveer 8 tekens per veld (een naam, een getal, een datum).",
    "source.klm": (
        "Keystroke-Level Model (Card, Moran & Newell 1980): per veld 1,35 s voorbereiden, 0,4"
        " s om de hand erheen te bewegen en 0,28 s per toetsaanslag voor een gemiddelde "
        "typist. Een ondergrens: het lezen van het bronsysteem en wisselen van venster telt "
        "niet mee."
    ),
    "source.weeks": (
        "Aanname: 46 werkweken per jaar (52 min ongeveer 6 weken verlof en feestdagen)."
    ),
    "source.hours_week": "Aanname: een voltijdse werkweek van 40 uur.",
    "source.rate": "ECB-referentiekoers (ongeveer): 1 EUR = 7,46 DKK.",
    "source.eur": "Berekend in EUR.",
    "ops.what_was_sent": "Wat er is verstuurd",
    "ops.answer": "Wat {target} antwoordde:",
    "ops.col.when": "Wanneer",
    "ops.col.action": "Handeling",
    "ops.col.error": "Fout",
    "ops.col.status": "Status",
    "ops.col.attempts": "Pogingen",
    "ops.col.id_there": "Id daar",
    "ops.col.what_happened": "Wat er gebeurde",
    "ops.replay": "Opnieuw versturen",
    "ops.replay_all": "Alles van {target} opnieuw versturen",
    "ops.inspect": "bekijken",
    "ops.all": "alle",
    "ops.show": "Toon",
    "ops.all_dead_letters": "Alle mislukte leveringen",
    "ops.open": "open",
    "ops.delivered_since": "sindsdien afgeleverd",
    "ops.no_dead_letters": "Geen mislukte leveringen.",
    "ops.no_flow": "Geen flow reageert op deze gebeurtenis.",
    "ops.st.delivered": "afgeleverd",
    "ops.st.deadlettered": "opgegeven (mislukte levering)",
    "ops.st.retrying": "wacht op nieuwe poging",
    "ops.st.failed": "mislukt, wordt opnieuw geprobeerd",
    "ops.st.sending": "wordt verstuurd",
    "ops.st.pending": "wacht",
    "ops.st.deadlettering": "wordt opgegeven",
    "ops.st.not_started": "niet begonnen",
    "ops.did.delivered": "afgeleverd{got} om {at}",
    "ops.did.dead": "opgegeven na {attempts}: {error}",
    "ops.did.retrying": "nieuwe poging om {at} ({attempts} tot nu toe): {error}",
    "ops.did.other": "{status} ({attempts})",
    "ops.did.not_started": "nog niet begonnen",
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
    "range_note": (
        "Tallet regnes ud fra det, du skrev, og standardværdierne, præcis som “Vis "
        "udregningen” gør. “Sandsynligvis mellem” er, hvor 8 ud af 10 af {samples} simulerede"
        " uger lander, med hvert tal varieret mellem laveste og højeste."
    ),
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
    "status.waiting.estimate": (
        "forbundet; {delivered} leveret indtil nu, under en uge målt: dit skøn bruges indtil da"
    ),
    "status.waiting.zero": (
        "forbundet; {delivered} leveret indtil nu, under en uge målt: tæller som 0 om ugen "
        "indtil da"
    ),
    "status.new.estimate": "forbundet, intet leveret endnu: dit skøn bruges, indtil en uge er målt",
    "status.new.zero": (
        "forbundet, intet leveret endnu: tæller som 0 om ugen, indtil en uge er målt"
    ),
    "status.manual": "i hånden",
    "connector.ready": "Handover har en færdig forbindelse: {kind}",
    "connector.none": "Ingen færdig forbindelse endnu",
    "measured_over": "median af de sidste {weeks}",
    "show_math": "Vis udregningen",
    "saved": "Allerede sparet",
    "saved_text": (
        "{deliveries}: {gross_hours} t ({gross_money}) brutto, {net_hours} t ({net_money}) "
        "efter {dead_hours} t ({dead_money}) med at rette {dead_letters}."
    ),
    "saved_text_clean": (
        "{deliveries}: {gross_hours} t ({gross_money}); ingen åbne fejlede leveringer."
    ),
    "saved_costs_more": (
        "Fejlede overleveringer koster indtil nu mere tid, end Handover har sparet: "
        "{deliveries} sparede {gross_hours} t ({gross_money}), men at rette {dead_letters} "
        "koster {dead_hours} t ({dead_money}), {short_hours} t ({short_money}) mere. Ret "
        "årsagen under Fejlede leveringer, og send dem så igen."
    ),
    "saved_none": "Intet forbundet er leveret endnu.",
    "saved_note": "Kun vellykkede leveringer uden dubletter tæller; testbeskeder aldrig.",
    "saved_dead_note": (
        "Hver åben fejlet levering koster de minutter, der står under Indstillinger (tomt: "
        "overleveringens minutter til at finde og rette en fejl); sendt igen og leveret tæller "
        "den som en levering."
    ),
    "dead_letters_link": "Se de åbne fejlede leveringer",
    "chart.ranked": (
        "Timer om ugen pr. overlevering, største først (søjle: det viste tal; streg: "
        "sandsynligvis mellem)"
    ),
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
    "dead_letter_minutes": (
        "Minutter til at rette én åben fejlet levering (tomt: hver overleverings minutter til at "
        "rette en fejl)"
    ),
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
    "not_saved": "Dine resultater bliver ikke gemt.",
    "log_in_to_keep": "Ejer? Log ind for at gemme dem til næste gang.",
    "log_in_to_see_measured": "Ejeren kan logge ind for at se, hvad Handover har målt og sparet.",
    "calculate_only": "Beregn",
    "math_note": (
        "Hver linje regner med det afrundede resultat af linjerne over den, så din egen "
        "lommeregner giver de samme tal."
    ),
    "try": "Prøv demoformularen",
    "nothing": "Tilføj en overlevering for at se, hvad den koster.",
    "country.NL": "Holland",
    "country.DK": "Danmark",
    "country.EU": "EU-gennemsnit",
    "connected_by": "Forbundet via",
    "not_connected": "ikke forbundet endnu",
    "connection": "{flow}: {action} → {target}",
    "connected_via": "via {action} i flowet “{flow}”",
    "link_suggest": (
        "Overlevering {n} ({label}) er måske denne: vælg den under “Forbundet via” dér."
    ),
    "default.hourly_cost": "Timepris, {country}",
    "default.minutes_floor": "Tastegulv pr. post",
    "default.dead_letter": "Minutter pr. åben fejlet levering",
    "default.rate": "Euro til danske kroner",
    "math.volume": "Hvor mange om ugen",
    "math.minutes": "Minutter pr. stk.",
    "math.typing": "Indtastningstid (det, du skrev)",
    "math.fields": "Felter pr. post",
    "math.chance": "Chance for at en post har en fejl",
    "math.fix": "Minutter til at finde og rette en fejl",
    "math.fixing": "Rette fejl (et skøn)",
    "math.hours": "Timer om ugen",
    "math.cost": "Omkostning om året (EUR): timer × timepris × uger om året",
    "math.converted": "I {currency}",
    "math.share": "Andel af én persons arbejdsår",
    "math.errors": "Fejl om måneden",
    "math.floor": "Tastegulv pr. post",
    "math.headline": "Sådan bliver overskriften til",
    "probably": "sandsynligvis mellem {low} og {high}",
    "part.typing": "Indtastning",
    "part.typing_note": "det, du skrev: hvor mange om ugen × minutter pr. stk.",
    "part.fixing": "Rette fejl",
    "part.fixing_default": (
        "et skøn: omkring 1 ud af 100 indtastede felter er forkert, og at finde og rette en "
        "forkert post tager 10 gange så lang tid som at indtaste den. Ret begge under “Mere” "
        "ved en overlevering."
    ),
    "part.fixing_typed": (
        "et skøn ud fra dine tal under “Mere”: tastefejl pr. felt og minutter til at rette "
        "en."
    ),
    "h_week": "{hours} t om ugen",
    "error.required": "udfyld venligst",
    "error_at": "Overlevering {n}: {question}",
    "q.source": "fra hvilket system?",
    "q.target": "til hvilket system?",
    "q.volume": "hvor mange om ugen?",
    "q.minutes": "hvor mange minutter pr. stk.?",
    "q.record_type": "hvilken slags post?",
    "q.action": "hvad sker der med den?",
    "q.fields": "hvor mange felter pr. post?",
    "q.field_error_percent": "tastefejl pr. felt?",
    "q.fix_minutes": "minutter til at rette en fejl?",
    "q.hourly_cost": "timepris?",
    "q.chars_per_field": "tegn pr. felt?",
    "q.connected": "forbundet via?",
    "q.low": "{question} (laveste)",
    "q.high": "{question} (højeste)",
    "f.source": "Fra",
    "f.target": "Til",
    "f.volume": "Hvor mange om ugen",
    "f.minutes": "Minutter pr. stk.",
    "f.fields_default": "tom: {n} for denne slags post",
    "f.spread": "Usikker? Angiv også et laveste og et højeste tal:",
    "example_note": "Et eksempel at starte fra: skriv din egen overlevering hen over det.",
    "example.source": "Webshop",
    "example.target": "Regnskab",
    "example.record_type": "ordrer",
    "fields_default_shown": "{n} felter pr. post (standard for denne slags post)",
    "busy": "Beregneren er optaget af andre forespørgsler: prøv igen om et par sekunder.",
    "nav.label": "Handover",
    "nav.calculator": "Beregner",
    "nav.status": "Status",
    "nav.handoffs": "Overleveringer",
    "nav.audit": "Log",
    "nav.dead_letters": "Fejlede leveringer",
    "nav.log_out": "Log ud",
    "nav.log_in": "Log ind",
    "action.upsert_contact": "gem kontakten",
    "action.create_task": "opret en opfølgningsopgave",
    "action.upsert_person": "gem personen",
    "action.create_activity": "opret en aktivitet",
    "action.create_sales_invoice": "lav salgsfakturaen",
    "action.send_email": "send e-mailen",
    "action.send": "send den videre",
    "action.archive_order": "arkivér ordren",
    "action.save_contact": "gem kontakten",
    "event.contact.submitted": "der kommer en kontaktformular",
    "event.order.created": "der kommer en ordre",
    "event.customer.created": "en ny kunde tilmelder sig",
    "event.payment.received": "der kommer en betaling",
    "connected_label": "{flow}: {action} ({target})",
    "n.deliveries.one": "{n} levering",
    "n.deliveries.other": "{n} leveringer",
    "n.dead.one": "{n} åben fejlet levering",
    "n.dead.other": "{n} åbne fejlede leveringer",
    "n.weeks.one": "{n} uge",
    "n.weeks.other": "{n} uger",
    "n.days.one": "{n} dag",
    "n.days.other": "{n} dage",
    "n.hours.one": "{n} time",
    "n.hours.other": "{n} timer",
    "n.minutes.one": "{n} minut",
    "n.minutes.other": "{n} minutter",
    "n.seconds.one": "{n} sekund",
    "n.seconds.other": "{n} sekunder",
    "n.attempts.one": "{n} forsøg",
    "n.attempts.other": "{n} forsøg",
    "notify.dead_letter.subject": "Handover kunne ikke levere {what} til {target}",
    "notify.dead_letter.text": (
        "Handover opgav at levere {what} til {target} (flowet “{flow}”) efter {attempts}.\n"
        "\n"
        "Hvad {target} svarede: {error}\n"
        "\n"
        "Ret årsagen (et forkert felt, en tilbagekaldt nøgle), og send det så igen; intet "
        "sendes to gange:\n"
        "{link}"
    ),
    "notify.paused.subject": "{target} svarer ikke: Handover har sat den på pause",
    "notify.paused.text": (
        "{target} har fejlet i {duration}, så Handover har sat den på pause og prøver selv "
        "igen. Intet går tabt: det, der venter, leveres, så snart {target} svarer igen.\n"
        "\n"
        "Hvis den bliver ved med at være nede, så tjek tjenesten eller dens nøgle:\n"
        "{link}"
    ),
    "notify.silent.subject": "Intet fra {source} i {duration}",
    "notify.silent.text": (
        "{source} sender normalt noget hver {rhythm}, men der er ikke kommet noget i "
        "{duration}. Tjek, at dens webhook stadig er slået til (nogle butikker slår en "
        "webhook fra efter et par fejl).\n"
        "\n"
        "{link}"
    ),
    "notify.more.subject": "Handover: {n} ting mere skal ses efter",
    "notify.more.text": "For ikke at oversvømme din indbakke er disse {n} samlet her:\n{link}",
    "notify.digest.subject": "Handover denne uge: {deliveries}, omkring {hours} t sparet",
    "notify.digest.done": (
        "Sidste uge klarede Handover {deliveries} for dig, omkring {hours} timer, som ingen "
        "skulle taste."
    ),
    "notify.digest.attention": "Kræver din opmærksomhed:",
    "notify.digest.all_well": "Intet kræver din opmærksomhed.",
    "notify.digest.dead_letters": "{dead} under Fejlede leveringer: {link}",
    "notify.digest.paused": "{target} er sat på pause (den bliver ved med at fejle)",
    "notify.digest.silent": "intet fra {source} i {duration}",
    "notify.digest.footer": "Overblik over det hele: {link}",
    "ops.status": "Status",
    "ops.sources": "Hvor hændelser kommer fra",
    "ops.source": "Kilde",
    "ops.last_event": "Seneste hændelse",
    "ops.today": "I dag",
    "ops.turned_away": "Afvist",
    "ops.rhythm": "Rytme",
    "ops.nothing_yet": "intet endnu",
    "ops.none": "ingen",
    "ops.unusually_quiet": "Usædvanligt stille: intet i {quiet}; normalt sender den hver {usual}.",
    "ops.normal": "Normal: normalt hver {usual}",
    "ops.learning": "Lærer stadig sin rytme",
    "ops.woocommerce": (
        "WooCommerce slår selv en webhook fra efter 5 fejlede leveringer: tjek dens status "
        "under WooCommerce → Indstillinger → Avanceret → Webhooks"
    ),
    "ops.targets": "Hvor hændelser går hen",
    "ops.target": "Mål",
    "ops.delivered": "Leveret",
    "ops.waiting": "Venter",
    "ops.state": "Tilstand",
    "ops.dead_letters": "Fejlede leveringer",
    "ops.behind": "Bagud med",
    "ops.paused": "På pause: den blev ved med at fejle; Handover prøver selv igen",
    "ops.working": "Virker",
    "ops.up_to_date": "ajour",
    "ops.flows": "Flows",
    "ops.flow": "Flow",
    "ops.when": "Hvornår",
    "ops.to": "Til",
    "ops.actions_delivered": "Handlinger leveret",
    "ops.not_handed_over": "Ikke overleveret efter {after}",
    "ops.events.one": "{n} hændelse",
    "ops.events.other": "{n} hændelser",
    "ops.per_process": (
        "Afviste webhooks og mål på pause tælles af den proces, der så dem; med separate "
        "gateway- og sync-processer kan de ses i Grafana."
    ),
    "ops.ago": "for {duration} siden",
    "ops.never": "aldrig",
    "ops.handoffs_title": "Ufærdige overleveringer",
    "ops.handoffs_note": "Hændelser, hvor ikke alle handlinger er leveret {after} efter ankomst.",
    "ops.all_clear": "Alt er overleveret. Intet venter længere end {after}.",
    "ops.why.not_started": (
        "Ikke startet endnu: {target} har ikke taget den (kører sync-tjenesten?)."
    ),
    "ops.why.answered": " — {target} svarede: {error}",
    "ops.why.gave_up": (
        "Opgivet efter {attempts}{said}. Ret årsagen, og send den så igen under Fejlede "
        "leveringer."
    ),
    "ops.why.paused": (
        "{target} er sat på pause efter gentagne fejl; Handover bliver ved med at "
        "prøve{said}."
    ),
    "ops.why.retry": "Venter på nyt forsøg kl. {at}{said}.",
    "ops.why.trying": "Forsøges nu (forsøg {n}){said}.",
    "ops.why.queued": "I kø: venter på sin tur.",
    "ops.audit_title": "Log",
    "ops.audit_search": "Ordrenummer, e-mail eller navn",
    "ops.search": "Søg",
    "ops.nothing_found": "Intet fundet for “{q}”.",
    "ops.dead_letters_note": (
        "Handlinger, Handover har opgivet. Ret årsagen (et forkert felt, en tilbagekaldt "
        "nøgle), og send dem igen: målet genkender dem som den samme handling, så intet sker "
        "to gange."
    ),
    "nothing_by_hand": "intet laves længere i hånden",
    "error.unknown_field": "ukendt felt",
    "error.no_handovers": "tilføj mindst én overlevering",
    "error.too_many_handovers": "højst {cap} overleveringer",
    "error.numbering": "overleveringer skal nummereres 0, 1, 2, ...",
    "error.duplicate": "samme kilde, mål, posttype og handling som {other}",
    "error.not_a_number_type": "skal være et tal",
    "error.not_a_number": "{value} er ikke et tal",
    "error.thousands": "{value} er ikke et tal; skriv {plain} uden tusindtalsseparator",
    "error.decimal_comma": "{value} er ikke et tal; brug punktum som decimaltegn",
    "error.nan": "skal være et tal, ikke NaN",
    "error.infinite": "skal være et endeligt tal",
    "error.negative": "må ikke være negativ",
    "error.out_of_range": "{value} er uden for det tilladte område",
    "error.not_an_object": "forventede et objekt med felter",
    "error.field_name_text": "feltnavne skal være tekst",
    "error.text_or_number": "skal være tekst eller et tal",
    "error.choose_one": "vælg en af {choices}",
    "error.at_most": "højst {cap} {unit}",
    "error.positive_at_most": "skal være mere end 0 og højst {cap}",
    "error.too_long": "højst {cap} tegn",
    "error.over_a_week": (
        "i den høje ende tager denne overlevering {hours} timer om ugen, mere end ugens 168 "
        "timer; tjek antallet og minutterne"
    ),
    "error.whole": "skal være et helt tal",
    "error.between": "skal være mellem {low} og {high}",
    "error.likely_required": "skal udfyldes, når lav eller høj er udfyldt",
    "error.low_above_likely": "lav må ikke være mere end sandsynlig",
    "error.high_below_likely": "høj må ikke være mindre end sandsynlig",
    "error.below_floor": (
        "{typed} min er under tastegulvet på {floor} min for {n} felt(er); godtaget, men tjek"
        " det."
    ),
    "error.link_not_scenario": "dette link er ikke et beregnerscenarie",
    "error.link_damaged_or_large": "dette link er beskadiget eller for stort",
    "error.link_damaged": "dette link er beskadiget",
    "source.hourly.NL": (
        "Eurostat, timelønomkostninger 2024 (hele økonomien uden landbrug og offentlig "
        "administration), Nederlandene: €45,2 i timen."
    ),
    "source.hourly.DK": (
        "Eurostat, timelønomkostninger 2024 (hele økonomien uden landbrug og offentlig "
        "administration), Danmark: €50,1 i timen."
    ),
    "source.hourly.EU": (
        "Eurostat, timelønomkostninger 2024 (hele økonomien uden landbrug og offentlig "
        "administration), EU-gennemsnit: €33,5 i timen."
    ),
    "source.field_error": (
        "Manuel indtastning: omkring 1% af felterne tastes forkert (observeret interval "
        "0,55%–3,6%), Barchard m.fl. 2020."
    ),
    "source.fix_factor": (
        "At finde og rette en fejl tager omkring 10× tiden for at indtaste posten rigtigt, "
        "efter Labovitz & Changs 1-10-100-regel. Det er en tommelfingerregel, ikke en måling."
    ),
    "source.dead_letter": (
        "Hver åben fejlet levering koster overleveringens minutter til at finde og rette en "
        "fejl (som standard 10× minutterne pr. post, tommelfingerreglen ovenfor), indtil den "
        "er sendt igen og leveret; en gensendt tæller som en levering. Angiv dine egne "
        "minutter pr. fejlet levering under Indstillinger."
    ),
    "source.chars": "Antagelse: omkring 8 tegn pr. felt (et navn, et tal, en dato).",
    "source.klm": (
        "Keystroke-Level Model (Card, Moran & Newell 1980): pr. felt 1,35 s til at forberede,"
        " 0,4 s til at flytte hånden derhen og 0,28 s pr. tastetryk for en gennemsnitlig "
        "maskinskriver. En nedre grænse: at læse kildesystemet og skifte vindue er ikke med."
    ),
    "source.weeks": (
        "Antagelse: 46 arbejdsuger om året (52 minus omkring 6 ugers ferie og helligdage)."
    ),
    "source.hours_week": "Antagelse: en fuldtidsuge på 40 timer.",
    "source.rate": "ECB-referencekurs (ca.): 1 EUR = 7,46 DKK.",
    "source.eur": "Beregnet i EUR.",
    "ops.what_was_sent": "Hvad der blev sendt",
    "ops.answer": "Hvad {target} svarede:",
    "ops.col.when": "Hvornår",
    "ops.col.action": "Handling",
    "ops.col.error": "Fejl",
    "ops.col.status": "Status",
    "ops.col.attempts": "Forsøg",
    "ops.col.id_there": "Id dér",
    "ops.col.what_happened": "Hvad der skete",
    "ops.replay": "Send igen",
    "ops.replay_all": "Send alt til {target} igen",
    "ops.inspect": "se",
    "ops.all": "alle",
    "ops.show": "Vis",
    "ops.all_dead_letters": "Alle fejlede leveringer",
    "ops.open": "åben",
    "ops.delivered_since": "leveret siden",
    "ops.no_dead_letters": "Ingen fejlede leveringer.",
    "ops.no_flow": "Intet flow reagerer på denne hændelse.",
    "ops.st.delivered": "leveret",
    "ops.st.deadlettered": "opgivet (fejlet levering)",
    "ops.st.retrying": "venter på nyt forsøg",
    "ops.st.failed": "fejlede, prøves igen",
    "ops.st.sending": "sendes",
    "ops.st.pending": "venter",
    "ops.st.deadlettering": "opgives",
    "ops.st.not_started": "ikke startet",
    "ops.did.delivered": "leveret{got} kl. {at}",
    "ops.did.dead": "opgivet efter {attempts}: {error}",
    "ops.did.retrying": "nyt forsøg kl. {at} ({attempts} indtil nu): {error}",
    "ops.did.other": "{status} ({attempts})",
    "ops.did.not_started": "ikke startet endnu",
}

CATALOGS = {"en": EN, "nl": NL, "da": DA}

# The CSV's columns named for people, per language (calculator.share.to_csv `labels`; the web
# export writes only the stable ids of CSV_HEADER, one header row), then the names of its three
# closing rows.
CSV_LABELS: dict[str, tuple[str, ...]] = {
    "en": (
        "Rank", "Handover", "From system", "To system", "Record type", "Action", "Status",
        "Records per week", "Records per week: badge", "Minutes per record",
        "Minutes per record: badge", "Chance of an error per record", "Hours per week P10",
        "Hours per week P50", "Hours per week P90", "Cost per year EUR P10",
        "Cost per year EUR P50", "Cost per year EUR P90", "Errors per month P50",
        "Tie with a neighbour",
    ),
    "nl": (
        "Plaats", "Overdracht", "Van systeem", "Naar systeem", "Soort record", "Handeling",
        "Status", "Records per week", "Records per week: label", "Minuten per record",
        "Minuten per record: label", "Kans op een fout per record", "Uren per week P10",
        "Uren per week P50", "Uren per week P90", "Kosten per jaar EUR P10",
        "Kosten per jaar EUR P50", "Kosten per jaar EUR P90", "Fouten per maand P50",
        "Gelijk met een buur",
    ),
    "da": (
        "Plads", "Overlevering", "Fra system", "Til system", "Posttype", "Handling", "Status",
        "Poster om ugen", "Poster om ugen: mærke", "Minutter pr. post",
        "Minutter pr. post: mærke", "Chance for en fejl pr. post", "Timer om ugen P10",
        "Timer om ugen P50", "Timer om ugen P90", "Omkostning om året EUR P10",
        "Omkostning om året EUR P50", "Omkostning om året EUR P90", "Fejl om måneden P50",
        "Uafgjort med en nabo",
    ),
}  # fmt: skip
CSV_GROUPS: dict[str, tuple[str, str, str]] = {
    "en": ("total", "already automated", "remaining"),
    "nl": ("totaal", "al geautomatiseerd", "resterend"),
    "da": ("i alt", "allerede automatiseret", "tilbage"),
}

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


# Messages with values inside: the English text as the model (or this package) writes it, with
# {name} where a value goes, and its translations. Values are carried over: plain numbers get the
# language's decimal comma, known unit words are translated, anything else (a quoted input, a
# label) stays as it was. Longer templates first, so the most specific one matches.
TEMPLATES: dict[str, dict[str, str]] = {
    "{value} is not a number; write {plain} without a thousands separator": {
        "nl": "{value} is geen getal; schrijf {plain} zonder scheidingsteken voor duizendtallen",
        "da": "{value} er ikke et tal; skriv {plain} uden tusindtalsseparator",
    },
    "{value} is not a number; use a dot as the decimal separator": {
        "nl": "{value} is geen getal; gebruik een punt als decimaalteken",
        "da": "{value} er ikke et tal; brug punktum som decimaltegn",
    },
    "{value} is not a number": {"nl": "{value} is geen getal", "da": "{value} er ikke et tal"},
    "{value} is out of range": {
        "nl": "{value} valt buiten het bereik",
        "da": "{value} er uden for det tilladte område",
    },
    "must be more than 0 and at most {cap}": {
        "nl": "moet meer dan 0 en hoogstens {cap} zijn",
        "da": "skal være mere end 0 og højst {cap}",
    },
    "must be between {low} and {high}": {
        "nl": "moet tussen {low} en {high} liggen",
        "da": "skal være mellem {low} og {high}",
    },
    "at most {cap} characters": {"nl": "hoogstens {cap} tekens", "da": "højst {cap} tegn"},
    "at most {cap} handovers": {"nl": "hoogstens {cap} overdrachten", "da": "højst {cap} overleveringer"},
    "at most {cap} {unit}": {"nl": "hoogstens {cap} {unit}", "da": "højst {cap} {unit}"},
    "choose one of {choices}": {"nl": "kies een van {choices}", "da": "vælg en af {choices}"},
    "handovers must be numbered 0, 1, 2, ...": {
        "nl": "overdrachten moeten genummerd zijn 0, 1, 2, ...",
        "da": "overleveringer skal nummereres 0, 1, 2, ...",
    },
    "same source, target, record type and action as {other}": {
        "nl": "zelfde bron, doel, soort record en handeling als {other}",
        "da": "samme kilde, mål, posttype og handling som {other}",
    },
    "at the high end this handover takes {hours} hours a week, more than the 168 hours in a "
    "week; check the volume and minutes": {
        "nl": "aan de hoge kant kost deze overdracht {hours} uur per week, meer dan de 168 uur "
        "in een week; kijk het aantal en de minuten na",
        "da": "i den høje ende tager denne overlevering {hours} timer om ugen, mere end ugens "
        "168 timer; tjek antallet og minutterne",
    },
    "{value} is not a connected flow action": {
        "nl": "{value} is geen gekoppelde flowhandeling",
        "da": "{value} er ikke en forbundet flowhandling",
    },
    "{value} is already linked to {other}": {
        "nl": "{value} is al gekoppeld aan {other}",
        "da": "{value} er allerede forbundet med {other}",
    },
    "{typed} min is below the keystroke floor of {floor} min for {n} field(s); accepted, but "
    "check it.": {
        "nl": "{typed} min is minder dan de toetsaanslagbodem van {floor} min voor {n} veld(en); "
        "aanvaard, maar kijk het na.",
        "da": "{typed} min er under tastegulvet på {floor} min for {n} felt(er); godtaget, men "
        "tjek det.",
    },
    "unknown field": {"nl": "onbekend veld", "da": "ukendt felt"},
    "must be text or a number": {"nl": "moet tekst of een getal zijn", "da": "skal være tekst eller et tal"},
    "this link is not a calculator scenario": {
        "nl": "deze link is geen calculatorscenario",
        "da": "dette link er ikke et beregnerscenarie",
    },
    "this link is damaged or too large": {
        "nl": "deze link is beschadigd of te groot",
        "da": "dette link er beskadiget eller for stort",
    },
    "this link is damaged": {"nl": "deze link is beschadigd", "da": "dette link er beskadiget"},
    # show-the-math labels; {badge} is a provenance ("typed", "default", "measured")
    "Volume per week ({badge})": {"nl": "Aantal per week ({badge})", "da": "Antal om ugen ({badge})"},
    "Minutes per retype ({badge})": {
        "nl": "Minuten per keer overtypen ({badge})",
        "da": "Minutter pr. genindtastning ({badge})",
    },
    "Chance a record has an error ({badge} rate per field)": {
        "nl": "Kans dat een record een fout heeft (foutkans per veld: {badge})",
        "da": "Chance for at en post har en fejl (fejlrate pr. felt: {badge})",
    },
    "Minutes to find and fix an error ({badge})": {
        "nl": "Minuten om een fout te vinden en te herstellen ({badge})",
        "da": "Minutter til at finde og rette en fejl ({badge})",
    },
    "Cost per year ({badge} hourly cost)": {
        "nl": "Kosten per jaar (uurkosten: {badge})",
        "da": "Omkostning om året (timepris: {badge})",
    },
    "Retyping": {"nl": "Overtypen", "da": "Genindtastning"},
    "Fixing errors": {"nl": "Fouten herstellen", "da": "Rette fejl"},
    "Hours per week": {"nl": "Uren per week", "da": "Timer om ugen"},
    "Share of one person's working year": {
        "nl": "Deel van het werkjaar van één persoon",
        "da": "Andel af én persons arbejdsår",
    },
    "Errors per month": {"nl": "Fouten per maand", "da": "Fejl om måneden"},
    "Keystroke floor per record": {
        "nl": "Toetsaanslagbodem per record",
        "da": "Tastegulv pr. post",
    },
    # sources the web layer writes for connected handovers
    "Median of the last {n} week(s) of successful, de-duplicated deliveries in the ledger.": {
        "nl": "Mediaan van de laatste {n} week/weken aan geslaagde, ontdubbelde leveringen in "
        "het logboek.",
        "da": "Median af de sidste {n} uge(r) med vellykkede leveringer uden dubletter i loggen.",
    },
    "Connected; no full week measured yet: counted as 0 a week until one is.": {
        "nl": "Gekoppeld; nog geen volle week gemeten: telt als 0 per week tot die er is.",
        "da": "Forbundet; endnu ingen hel uge målt: tæller som 0 om ugen, indtil der er en.",
    },
    "Minutes saved per delivery, as set in the flow “{flow}”.": {
        "nl": "Minuten bespaard per levering, zoals ingesteld in de flow “{flow}”.",
        "da": "Minutter sparet pr. levering, som sat i flowet “{flow}”.",
    },
}

# Words inside values and formulas (units, provenances, the formula's named terms).
WORDS: dict[str, dict[str, str]] = {
    "nl": {
        "records per week": "records per week",
        "minutes": "minuten",
        "EUR per hour": "EUR per uur",
        "typed": "ingevuld",
        "default": "standaard",
        "measured": "gemeten",
        "records/week": "records/week",
        "records/month": "records/maand",
        "h/week": "u/week",
        "EUR/year": "EUR/jaar",
        "of a person-year": "van een persoonsjaar",
        "retyping": "overtypen",
        "fixing": "herstellen",
        "hours": "uren",
    },
    "da": {
        "records per week": "poster om ugen",
        "minutes": "minutter",
        "EUR per hour": "EUR i timen",
        "typed": "indtastet",
        "default": "standard",
        "measured": "målt",
        "records/week": "poster/uge",
        "records/month": "poster/måned",
        "h/week": "t/uge",
        "EUR/year": "EUR/år",
        "of a person-year": "af et personår",
        "retyping": "genindtastning",
        "fixing": "rettelse",
        "hours": "timer",
    },
}


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    out = "".join(
        re.escape(part) if n % 2 == 0 else f"(?P<{part}>.+?)" for n, part in enumerate(parts)
    )
    return re.compile(out, re.S)


_PATTERNS = [(_pattern(t), t) for t in TEMPLATES]


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
    """Return "{n} thing" or "{n} things" from key.one / key.other (en, nl, da: one is n == 1)."""
    form = "one" if n == 1 else "other"
    return translate(lang, f"{key}.{form}", n=shown if shown is not None else n)


def translate(lang: str, key: str, **values: object) -> str:
    """Return the text for key in lang (English if missing there), with values filled in."""
    text = CATALOGS.get(lang, EN).get(key) or EN[key]
    return text.format(**values) if values else text


def translate_message(lang: str, message: str) -> str:
    """Return a message (validation, warning, show-the-math) in lang, else unchanged."""
    exact = MESSAGES.get(lang, {}).get(message)
    if exact is not None or lang not in WORDS:
        return exact or message
    for pattern, template in _PATTERNS:
        m = pattern.fullmatch(message)
        if m and lang in TEMPLATES[template]:
            values = {k: localize_value(lang, v) for k, v in m.groupdict().items()}
            return TEMPLATES[template][lang].format(**values)
    return message


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
THOUSANDS_MESSAGE = "{value} is not a number; write {plain} without a thousands separator"


def read_decimal_input(text: str, lang: str) -> tuple[str, str | None]:
    """Read a number typed on a page in lang: (text for the model, None) or (text, an error).

    Dutch and Danish write a decimal comma ("1,5" -> "1.5") and group thousands with a dot:
    "1.000" and "1.000,50" are refused (in English, for translate_message) rather than read as
    1 and 1.0005. English "1,000" is refused by the model itself (calculator.parse_decimal).
    """
    stripped = text.strip()
    if lang in ("nl", "da") and _DOT_THOUSANDS.fullmatch(stripped):
        shown = repr(stripped if len(stripped) <= 20 else stripped[:20] + "…")
        return text, THOUSANDS_MESSAGE.format(value=shown, plain=stripped.replace(".", ""))
    return normalize_decimal_input(text, lang), None
