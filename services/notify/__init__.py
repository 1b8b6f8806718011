"""Messages to the owner: right away when something needs a person, and a weekly digest.

Prometheus and Grafana are for whoever runs the servers; a shop owner reads mail (or a chat).
`Notifier.check` looks at the ledger and this process's metrics every `notify.check_interval_s`:

    new dead letter ───────┐
    target paused too long ├─▶ Incident ─▶ dedupe (ledger) ─▶ rate limit ─▶ message ─▶ mail / http
    source quiet too long ─┘                                               (owner's language)
    Monday morning ──────────▶ Digest (done, time saved, what needs attention)

Each incident has a stable key (the delivery's key, the pause's start, the last event before the
silence), kept in the ledger once sent, so a restart or a second check never sends it twice.
"""

from services.notify.notifier import NOTIFIER, Notifier, setup_notify

__all__ = ["NOTIFIER", "Notifier", "setup_notify"]
