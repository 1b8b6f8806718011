"""The Nederlands texts of the owner's pages: data only (the code is in services.web.i18n).

A table, exempt from the 500-line module limit.
"""

CATALOG: dict[str, str] = {
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
    "try.intro": "Handover brengt gegevens over tussen uw systemen, zodat niemand ze hoeft over te typen.",
    "try.connected": "Wat is gekoppeld",
    "try.col.flow": "Flow",
    "try.col.when": "Wanneer",
    "try.col.does": "Doet",
    "try.form": "Probeer het formulier “{name}”",
    "try.no_gateway": (
        "De gateway die dit formulier ontvangt, draait als apart proces. Zet {setting} "
        "(bijvoorbeeld {example}) om het formulier vanaf deze pagina te proberen."
    ),
    "try.name": "Naam",
    "try.email": "E-mail",
    "try.phone": "Telefoon",
    "try.message": "Bericht",
    "try.leave_empty": "Laat dit leeg",
    "try.send": "Versturen",
    "try.metrics": "Meetgegevens",
    "login.not_configured": (
        "Er is geen beheerderswachtwoord ingesteld. Zet {setting} (of {token}) in de configuratie"
        " en start opnieuw."
    ),
    "login.password_file": (
        "Handover heeft bij de eerste start een beheerderswachtwoord gemaakt en bewaart het in "
        "{file} (alleen het account waaronder Handover draait kan het lezen): {command}. Wilt u "
        "een eigen wachtwoord, zet dan {setting} in de configuratie."
    ),
    "login.password": "Beheerderswachtwoord",
    "login.too_many.one": "Te veel verkeerde wachtwoorden. Probeer het over {n} seconde opnieuw.",
    "login.too_many.other": "Te veel verkeerde wachtwoorden. Probeer het over {n} seconden opnieuw.",
    "login.wrong": "Dat wachtwoord klopt niet.",
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
    "error.not_connected": "{value} is geen gekoppelde flowhandeling",
    "error.already_linked": "{value} is al gekoppeld aan {other}",
    "error.body_not_json": "de body is geen geldige JSON",
    "error.body_not_object": "de body moet een JSON-object zijn",
    'error.busy': (
        "De calculator is bezig met andere verzoeken: probeer het over een paar seconden opnieuw."
    ),
    'error.measured_median': (
        "Mediaan van de laatste {n} week/weken aan geslaagde, ontdubbelde leveringen in het logboek."
    ),
    "error.unmeasured": "Gekoppeld; nog geen volle week gemeten: telt als 0 per week tot die er is.",
    "error.flow_minutes": "Minuten bespaard per levering, zoals ingesteld in de flow “{flow}”.",
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
    "ops.inspect_line": "{action} bij {target} ({flow}), mislukt op {when} na {attempts}.",
    "ops.inspect_event": "Gebeurtenis: {summary}",
    "ops.audit_trail": "logboek",
    "ops.headers": "Kopregels",
    "ops.event": "Gebeurtenis",
    "ops.test_event": "test",
    "ops.replayed": "Opnieuw verstuurd: {what} is afgeleverd.",
    "ops.replay_nothing": "Niets te doen: {what} was al afgeleverd.",
    "ops.replay_failed": "Opnieuw versturen van {what} is niet gelukt ({status}): {detail}",
    "ops.replay_what": "{action} bij {target}",
    "ops.replayed_all.one": "{n} mislukte levering van {target} opnieuw verstuurd: {good} afgeleverd.",
    "ops.replayed_all.other": "{n} mislukte leveringen van {target} opnieuw verstuurd: {good} afgeleverd.",
    "ops.no_such_letter": "Deze mislukte levering bestaat niet.",
    "ops.letter_gone": "Deze mislukte levering bestaat niet (misschien is het topic opgeruimd).",
    "ops.choose_target": "Kies een doel om opnieuw te versturen.",
    "ops.letter_headline": "{type} van {source}",
    "ops.unreadable": "een onleesbaar record",
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

# The CSV's columns named for people (calculator.share.to_csv `labels`).
CSV_LABELS: tuple[str, ...] = (
    'Plaats', 'Overdracht', 'Van systeem', 'Naar systeem', 'Soort record', 'Handeling', 'Status',
    'Records per week', 'Records per week: label', 'Minuten per record',
    'Minuten per record: label', 'Kans op een fout per record', 'Uren per week P10',
    'Uren per week P50', 'Uren per week P90', 'Kosten per jaar EUR P10', 'Kosten per jaar EUR P50',
    'Kosten per jaar EUR P90', 'Fouten per maand P50', 'Gelijk met een buur',
)
# The names of the CSV's three closing rows.
CSV_GROUPS: tuple[str, str, str] = ('totaal', 'al geautomatiseerd', 'resterend')

# Words inside values and formulas (units, provenances, the formula's named terms).
WORDS: dict[str, str] = {
    'records per week': 'records per week',
    'minutes': 'minuten',
    'EUR per hour': 'EUR per uur',
    'typed': 'ingevuld',
    'default': 'standaard',
    'measured': 'gemeten',
    'records/week': 'records/week',
    'records/month': 'records/maand',
    'h/week': 'u/week',
    'EUR/year': 'EUR/jaar',
    'of a person-year': 'van een persoonsjaar',
    'retyping': 'overtypen',
    'fixing': 'herstellen',
    'hours': 'uren',
}
