"""The Dansk texts of the owner's pages: data only (the code is in services.web.i18n).

A table, exempt from the 500-line module limit.
"""

CATALOG: dict[str, str] = {
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
    "try.intro": "Handover flytter oplysninger mellem dine systemer, så ingen skal indtaste dem igen.",
    "try.connected": "Hvad er forbundet",
    "try.col.flow": "Flow",
    "try.col.when": "Hvornår",
    "try.col.does": "Gør",
    "try.form": "Prøv formularen “{name}”",
    "try.no_gateway": (
        "Gatewayen, der modtager denne formular, kører som en separat proces. Sæt {setting} (for "
        "eksempel {example}) for at prøve formularen fra denne side."
    ),
    "try.name": "Navn",
    "try.email": "E-mail",
    "try.phone": "Telefon",
    "try.message": "Besked",
    "try.leave_empty": "Lad dette felt være tomt",
    "try.send": "Send",
    "try.metrics": "Målinger",
    "login.not_configured": (
        "Der er ikke sat nogen administratoradgangskode. Sæt {setting} (eller {token}) i "
        "konfigurationen, og genstart."
    ),
    "login.password_file": (
        "Handover lavede en administratoradgangskode, da den startede første gang, og gemmer den "
        "i {file} (kun den konto, Handover kører under, kan læse den): {command}. Vil du vælge "
        "din egen, så sæt {setting} i konfigurationen."
    ),
    "login.password": "Administratoradgangskode",
    "login.too_many.one": "For mange forkerte adgangskoder. Prøv igen om {n} sekund.",
    "login.too_many.other": "For mange forkerte adgangskoder. Prøv igen om {n} sekunder.",
    "login.wrong": "Den adgangskode er ikke rigtig.",
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
    "error.not_connected": "{value} er ikke en forbundet flowhandling",
    "error.already_linked": "{value} er allerede forbundet med {other}",
    "error.body_not_json": "indholdet er ikke gyldig JSON",
    "error.body_not_object": "indholdet skal være et JSON-objekt",
    "error.busy": "Beregneren er optaget af andre forespørgsler: prøv igen om et par sekunder.",
    "error.measured_median": "Median af de sidste {n} uge(r) med vellykkede leveringer uden dubletter i loggen.",
    "error.unmeasured": "Forbundet; endnu ingen hel uge målt: tæller som 0 om ugen, indtil der er en.",
    "error.flow_minutes": "Minutter sparet pr. levering, som sat i flowet “{flow}”.",
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
    "ops.inspect_line": "{action} hos {target} ({flow}), fejlet {when} efter {attempts}.",
    "ops.inspect_event": "Hændelse: {summary}",
    "ops.audit_trail": "revisionsspor",
    "ops.headers": "Overskrifter",
    "ops.event": "Hændelse",
    "ops.test_event": "test",
    "ops.replayed": "Sendt igen: {what} blev leveret.",
    "ops.replay_nothing": "Intet at gøre: {what} var allerede leveret.",
    "ops.replay_failed": "Genafsendelse af {what} lykkedes ikke ({status}): {detail}",
    "ops.replay_what": "{action} hos {target}",
    "ops.replayed_all.one": "{n} fejlet levering til {target} sendt igen: {good} leveret.",
    "ops.replayed_all.other": "{n} fejlede leveringer til {target} sendt igen: {good} leveret.",
    "ops.no_such_letter": "Den fejlede levering findes ikke.",
    "ops.letter_gone": "Den fejlede levering findes ikke (måske er emnet ryddet op).",
    "ops.choose_target": "Vælg et mål at sende igen til.",
    "ops.letter_headline": "{type} fra {source}",
    "ops.unreadable": "en ulæselig post",
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

# The CSV's columns named for people (calculator.share.to_csv `labels`).
CSV_LABELS: tuple[str, ...] = (
    'Plads', 'Overlevering', 'Fra system', 'Til system', 'Posttype', 'Handling', 'Status',
    'Poster om ugen', 'Poster om ugen: mærke', 'Minutter pr. post', 'Minutter pr. post: mærke',
    'Chance for en fejl pr. post', 'Timer om ugen P10', 'Timer om ugen P50', 'Timer om ugen P90',
    'Omkostning om året EUR P10', 'Omkostning om året EUR P50', 'Omkostning om året EUR P90',
    'Fejl om måneden P50', 'Uafgjort med en nabo',
)
# The names of the CSV's three closing rows.
CSV_GROUPS: tuple[str, str, str] = ('i alt', 'allerede automatiseret', 'tilbage')

# Words inside values and formulas (units, provenances, the formula's named terms).
WORDS: dict[str, str] = {
    'records per week': 'poster om ugen',
    'minutes': 'minutter',
    'EUR per hour': 'EUR i timen',
    'typed': 'indtastet',
    'default': 'standard',
    'measured': 'målt',
    'records/week': 'poster/uge',
    'records/month': 'poster/måned',
    'h/week': 't/uge',
    'EUR/year': 'EUR/år',
    'of a person-year': 'af et personår',
    'retyping': 'genindtastning',
    'fixing': 'rettelse',
    'hours': 'timer',
}
