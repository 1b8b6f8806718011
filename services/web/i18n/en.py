"""The English texts of the owner's pages: data only (the code is in services.web.i18n).

A table, exempt from the 500-line module limit.
"""

CATALOG: dict[str, str] = {
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
    "try.intro": "Handover carries information between your systems so nobody has to retype it.",
    "try.connected": "What is connected",
    "try.col.flow": "Flow",
    "try.col.when": "When",
    "try.col.does": "Does",
    "try.form": "Try the form “{name}”",
    "try.no_gateway": (
        "The gateway that receives this form runs as a separate process. Set {setting} (for "
        "example {example}) to try the form from this page."
    ),
    "try.name": "Name",
    "try.email": "E-mail",
    "try.phone": "Phone",
    "try.message": "Message",
    "try.leave_empty": "Leave this empty",
    "try.send": "Send",
    "try.metrics": "Metrics",
    "login.not_configured": "No admin password is set. Set {setting} (or {token}) in the config and restart.",
    "login.password_file": (
        "Handover made an admin password when it first started and keeps it in {file} (only the "
        "account that runs Handover can read it): {command}. To choose your own, set {setting} in"
        " the config."
    ),
    "login.password": "Admin password",
    "login.too_many.one": "Too many wrong passwords. Try again in {n} second.",
    "login.too_many.other": "Too many wrong passwords. Try again in {n} seconds.",
    "login.wrong": "That password is not right.",
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
    "error.not_connected": "{value} is not a connected flow action",
    "error.already_linked": "{value} is already linked to {other}",
    "error.body_not_json": "the body is not valid JSON",
    "error.body_not_object": "the body must be a JSON object",
    "error.busy": "The calculator is busy with other requests: try again in a few seconds.",
    "error.measured_median": "Median of the last {n} week(s) of successful, de-duplicated deliveries in the ledger.",
    "error.unmeasured": "Connected; no full week measured yet: counted as 0 a week until one is.",
    "error.flow_minutes": "Minutes saved per delivery, as set in the flow “{flow}”.",
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
    "ops.inspect_line": "{action} at {target} ({flow}), dead-lettered {when} after {attempts}.",
    "ops.inspect_event": "Event: {summary}",
    "ops.audit_trail": "audit trail",
    "ops.headers": "Headers",
    "ops.event": "Event",
    "ops.test_event": "test",
    "ops.replayed": "Replayed: {what} was delivered.",
    "ops.replay_nothing": "Nothing to do: {what} had already been delivered.",
    "ops.replay_failed": "Replay of {what} did not go through ({status}): {detail}",
    "ops.replay_what": "{action} at {target}",
    "ops.replayed_all.one": "Replayed {n} dead letter of {target}: {good} delivered.",
    "ops.replayed_all.other": "Replayed {n} dead letters of {target}: {good} delivered.",
    "ops.no_such_letter": "No such dead letter.",
    "ops.letter_gone": "No such dead letter (maybe the topic was cleaned up).",
    "ops.choose_target": "Choose a target to replay.",
    "ops.letter_headline": "{type} from {source}",
    "ops.unreadable": "an unreadable record",
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

# The CSV's columns named for people (calculator.share.to_csv `labels`).
CSV_LABELS: tuple[str, ...] = (
    'Rank', 'Handover', 'From system', 'To system', 'Record type', 'Action', 'Status',
    'Records per week', 'Records per week: badge', 'Minutes per record',
    'Minutes per record: badge', 'Chance of an error per record', 'Hours per week P10',
    'Hours per week P50', 'Hours per week P90', 'Cost per year EUR P10', 'Cost per year EUR P50',
    'Cost per year EUR P90', 'Errors per month P50', 'Tie with a neighbour',
)
# The names of the CSV's three closing rows.
CSV_GROUPS: tuple[str, str, str] = ('total', 'already automated', 'remaining')

# Words inside values and formulas (units, provenances, the formula's named terms).
WORDS: dict[str, str] = {}
