"""Prometheus metrics: every metric Handover exports, on an injectable CollectorRegistry."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.common.config import Settings

WEBHOOK_OUTCOMES = (
    "accepted", "duplicate", "ignored", "invalid_signature", "missing_signature",
    "timestamp_out_of_tolerance", "invalid_body", "invalid_payload", "unsupported_media_type",
    "payload_too_large", "rate_limited", "broker_unavailable", "ledger_unavailable",
    "topic_mismatch", "vendor_unavailable",
    "captcha_failed", "captcha_unavailable", "request_timeout", "aborted", "error",
)
DELIVERY_OUTCOMES = ("delivered", "skipped_duplicate", "retried", "deadlettered")
# Latency buckets from 1 ms (the embedded path) to a minute (a slow SaaS with retries).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def handover_version() -> str:
    """The installed package version."""
    try:
        return version("handover-hub")
    except PackageNotFoundError:
        return "0+unknown"


class Metrics:
    """All metrics of one process; tests read them with `registry.get_sample_value`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.build_info = Gauge("handover_build_info", "Handover version", ["version"], registry=r)
        self.build_info.labels(handover_version()).set(1)
        self.webhooks = Counter(
            "handover_webhooks_received_total", "Webhook requests by source and outcome",
            ["source", "outcome"], registry=r,
        )
        self.webhook_duration = Histogram(
            "handover_webhook_duration_seconds", "Time from request to answer",
            ["source"], buckets=BUCKETS, registry=r,
        )
        self._webhook_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self.deliveries = Counter(
            "handover_deliveries_total", "Action deliveries by target, action and outcome",
            ["target", "action", "outcome"], registry=r,
        )
        self.delivery_duration = Histogram(
            "handover_delivery_duration_seconds", "Time one delivery call to a target took",
            ["target"], buckets=BUCKETS, registry=r,
        )
        self.delivery_lag = Histogram(
            "handover_delivery_lag_seconds", "Received by the gateway to delivered to the target",
            ["target"], buckets=BUCKETS, registry=r,
        )
        self.deadletters = Counter(
            "handover_deadletters_total", "Actions written to a dead-letter topic",
            ["target"], registry=r,
        )
        self.target_paused = Gauge(
            "handover_target_paused", "1 while a target's circuit breaker pauses it",
            ["target"], registry=r,
        )
        self.consumer_lag = Gauge(
            "handover_consumer_lag_messages", "Messages not yet processed, per consumer group",
            ["group"], registry=r,
        )
        self.ambiguous = Counter(
            "handover_delivery_ambiguous_total",
            "Deliveries interrupted between 'sending' and 'sent' at targets without idempotency",
            ["target"], registry=r,
        )
        self.events_recorded = Counter(
            "handover_events_recorded_total", "Events the recorder wrote to the ledger",
            ["type"], registry=r,
        )
        self.broker_restarts = Counter(
            "handover_embedded_broker_restarts_total",
            "Times the embedded broker was started again: it died (crash) or grew too large (rotation)",
            ["reason"], registry=r,
        )
        self.broker_up = Gauge(
            "handover_embedded_broker_up", "1 while the embedded broker runs and takes events", registry=r,
        )
        self.journal_rows = Gauge(
            "handover_journal_rows", "Accepted events kept in the intake journal (unfinished, or in dedupe window)",
            registry=r,
        )
        self.journal_redriven = Counter(
            "handover_journal_redriven_total", "Journaled events published again into a broker that lost them",
            registry=r,
        )
        # Refreshed from the ledger by the web process (services.web.ops.refresh_gauges).
        self.handoffs_incomplete = Gauge(
            "handover_handoffs_incomplete", "Events whose expected actions are not all delivered in time",
            ["flow"], registry=r,
        )
        self.source_silence = Gauge(
            "handover_source_silence_seconds", "Seconds since a source's last recorded event",
            ["source"], registry=r,
        )
        self.source_silence_limit = Gauge(
            "handover_source_silence_limit_seconds", "Silence longer than this is unusual for the source",
            ["source"], registry=r,
        )

    def init_labels(self, settings: Settings) -> None:
        """Pre-initialise every label value this config can produce, so series exist at 0."""
        for reason in ("crash", "rotation"):
            self.broker_restarts.labels(reason)
        for source in settings.sources:
            for outcome in WEBHOOK_OUTCOMES:
                self.webhooks.labels(source, outcome)
            self.webhook_duration.labels(source)
            self.source_silence.labels(source).set(0)
            self.source_silence_limit.labels(source).set(0)
        for flow in settings.flows:
            self.handoffs_incomplete.labels(flow.name).set(0)
            for action in flow.actions:
                for outcome in DELIVERY_OUTCOMES:
                    self.deliveries.labels(action.target, action.action, outcome)
        for target in settings.targets:
            self.delivery_duration.labels(target)
            self.delivery_lag.labels(target)
            self.deadletters.labels(target)
            self.target_paused.labels(target).set(0)
            self.ambiguous.labels(target)

    def webhook_answered(self, source: str, outcome: str, duration_s: float) -> None:
        """Count one webhook request by outcome and observe its time (the gateway's hot path:
        the label children are looked up once per source and outcome)."""
        children = self._webhook_children.get((source, outcome))
        if children is None:
            children = (self.webhooks.labels(source, outcome), self.webhook_duration.labels(source))
            self._webhook_children[(source, outcome)] = children
        children[0].inc()
        children[1].observe(duration_s)
