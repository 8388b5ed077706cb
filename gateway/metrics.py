"""Prometheus metrics, on a registry of their own (one per gateway instance, none module-level)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.submissions = Counter(
            "tsw_submissions",
            "Submissions by document type and outcome (accepted, rejected, replayed, conflict).",
            ["document_type", "outcome"],
            registry=self.registry,
        )
        self.validation_seconds = Histogram(
            "tsw_validation_seconds",
            "Time to validate one document (parse, schema, business rules).",
            ["document_type"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "tsw_outbox_backlog", "Outbox events not yet published to Kafka.", registry=self.registry
        )
        self.events_published = Counter(
            "tsw_events_published", "Events published to Kafka, by topic.", ["topic"], registry=self.registry
        )
        self.relay_failures = Counter(
            "tsw_relay_failures", "Outbox relay publish attempts that failed.", registry=self.registry
        )

        self.answers = Counter(
            "tsw_agency_answers",
            "Agency answers by outcome (applied, duplicate, refused, malformed).",
            ["outcome"],
            registry=self.registry,
        )
        self.webhook_attempts = Counter(
            "tsw_webhook_attempts",
            "Webhook delivery attempts by result "
            "(delivered, http_error, timeout, connection_error, refused).",
            ["result"],
            registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "tsw_webhook_deliveries",
            "Webhook deliveries settled, by outcome (delivered, failed).",
            ["outcome"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
