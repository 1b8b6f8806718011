"""The time-wasters calculator page (`/`), its JSON API (`/api/calculator`) and CSV export.

Two kinds of handover meet here. *Connected* ones are the flow actions in the config that have
`minutes_saved`: their weekly volume is measured from the ledger (through a `CalculatorStore`).
*Typed* ones are what the owner still does by hand, with volumes typed in; for the logged-in
owner (services.web.auth.is_admin) they are saved in the store so nobody retypes them, and the whole typed
scenario also travels in a `?share=` link (which is how anyone else keeps a scenario: `/` is
public, so an anonymous visitor's scenario is never saved, nor the saved one shown to them).
Everything taken from the ledger or the config's flows (connected rows, measured volumes,
"already saved", flow names) is the owner's too: an anonymous visitor computes typed handovers
only, and any "Connected by" link they send (or a share link carries) is dropped, the row
counted as typed (see visible_connections).
A typed row says which connected flow action carries it through its "Connected by" field
(`handovers[i].connected`, a link id `<flow name>/<action key>`): the two are then one
handover, shown under the owner's labels, with the typed volume standing in until the ledger
has measured a week, and the measured volume replacing it after that (never both). Nobody is
expected to type the internal key, so a fuzzy match (same system name, or the connector kind
the typed target would use) is only suggested on the page, never merged by itself; a typed row
whose source, target, record type and action equal the connected key exactly still merges.


Modules, in the order a request meets them: form (clean the typed fields), scenario (merge
the connected flow actions), compute (run the model on bounded threads), present and words
(what is shown, in the owner's language), handlers (routes); store keeps the typed scenario.
"""
