"""Prometheus metrics, on a registry of the app's own (tests build many apps in one process).

Label values are bounded: document types and departments are those of the configuration
(anything else is reported as ``other``), reasons are problem slugs, outcomes a fixed set.
Never a message id, case id or anything personal.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
)

from gateway.problems import GatewayError

OTHER = "other"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 300, 3600, 86400)


class Metrics:
    """Every metric of one gateway instance, on its own registry.

    ``departments`` is either a fixed collection or a callable giving the departments in
    force now, so a department added through the admin API or a configuration reload is
    labelled by its id from the next sample on, not as ``other``.
    """

    def __init__(
        self,
        types: Iterable[str] = (),
        departments: Iterable[str] | Callable[[], Container[str]] = (),
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._types = frozenset(types)
        if callable(departments):
            self._departments = departments
        else:
            fixed = frozenset(departments)
            self._departments = lambda: fixed
        self._messages(self.registry)
        self._deliveries(self.registry)
        self._cases(self.registry)
        self._service(self.registry)
        self._transport(self.registry)
        self.http_requests = Counter(
            "zjx_http_requests",
            "HTTP requests by route and status class.",
            ["route", "status"],
            registry=self.registry,
        )

    def _service(self, r: CollectorRegistry) -> None:
        """The process, the store, the audit chain and the cases' deadlines, as monitoring
        alerts on them (deploy/alerts.yml)."""
        # process_* (CPU, memory, file descriptors, start time) from /proc, and the Python
        # runtime's own (python_info, python_gc_*), as prometheus-client's default registry has
        ProcessCollector(registry=r)
        r.register(PLATFORM_COLLECTOR)
        r.register(GC_COLLECTOR)
        self.cases_by_deadline = Gauge(
            "zjx_cases_deadline",
            "Open cases by deadline flag: near (within the definition's warn_before) or "
            "overdue (past the deadline).",
            ["flag"],
            registry=r,
        )
        self.store_up = Gauge(
            "zjx_store_up",
            "1 when the store answered its last ping (read at every scrape), else 0.",
            registry=r,
        )
        self.audit_chain_intact = Gauge(
            "zjx_audit_chain_intact",
            "1 while every audit entry verified so far links and hashes correctly, else 0.",
            registry=r,
        )
        self.audit_verified = Gauge(
            "zjx_audit_verified_entries",
            "Audit entries this instance has verified (hash and link), from the first on.",
            registry=r,
        )

    def _messages(self, r: CollectorRegistry) -> None:
        """The way in (gateway/intake.py)."""
        self.messages_received = Counter(
            "zjx_messages_received",
            "Messages submitted: POST /v1/messages and the hosted case service's own.",
            registry=r,
        )
        self.messages_accepted = Counter(
            "zjx_messages_accepted",
            "New messages accepted (not repeats), by type and source: departments' over"
            " POST /v1/messages and the hosted case service's own (source 330784.onething);"
            " never more than zjx_messages_received.",
            ["type", "source"],
            registry=r,
        )
        self.messages_duplicate = Counter(
            "zjx_messages_duplicate",
            "Resubmissions answered with the original receipt.",
            ["source"],
            registry=r,
        )
        self.messages_rejected = Counter(
            "zjx_messages_rejected",
            "Messages refused, by problem type slug.",
            ["reason"],
            registry=r,
        )
        self.signature_failures = Counter(
            "zjx_signature_failures",
            "Signature or key refusals, by problem type slug.",
            ["reason"],
            registry=r,
        )
        self.validation_failures = Counter(
            "zjx_validation_failures",
            "Documents failing schema or semantic checks, by type.",
            ["type"],
            registry=r,
        )
        self.accept_latency = Histogram(
            "zjx_accept_latency_seconds",
            "Time from request body read to receipt.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    def _deliveries(self, r: CollectorRegistry) -> None:
        """Delivery (gateway/delivery) and the gauges read from the store at scrape time."""
        self.delivery_attempts = Counter(
            "zjx_delivery_attempts",
            "Push delivery attempts, by recipient and outcome.",
            ["recipient", "outcome"],
            registry=r,
        )
        self.deliveries = Counter(
            "zjx_deliveries",
            "Deliveries completed (push 2xx or pull ack), by recipient.",
            ["recipient", "mode"],
            registry=r,
        )
        self.delivery_latency = Histogram(
            "zjx_delivery_latency_seconds",
            "Acceptance to delivery, end to end.",
            ["mode"],
            buckets=_DELIVERY_BUCKETS,
            registry=r,
        )
        self.dead_letters = Counter(
            "zjx_dead_letters",
            "Deliveries dead-lettered, by recipient.",
            ["recipient"],
            registry=r,
        )
        self.pending = Gauge(
            "zjx_deliveries_pending",
            "Deliveries not yet delivered, by recipient.",
            ["recipient"],
            registry=r,
        )
        self.oldest_pending = Gauge(
            "zjx_deliveries_oldest_pending_age_seconds",
            "Age of the oldest undelivered message, by recipient.",
            ["recipient"],
            registry=r,
        )
        self.breaker_open = Gauge(
            "zjx_breaker_open",
            "1 while the recipient's push breaker is open.",
            ["recipient"],
            registry=r,
        )
        self.endpoint_gone = Gauge(
            "zjx_endpoint_gone",
            "1 while the recipient's push endpoint is disabled after HTTP 410 (until enabled).",
            ["recipient"],
            registry=r,
        )

    def _cases(self, r: CollectorRegistry) -> None:
        """Fed by the case layer (gateway/cases)."""
        self.cases_open = Gauge(
            "zjx_cases_open", "Open work-injury cases, by stage.", ["stage"], registry=r
        )
        self.case_duration = Histogram(
            "zjx_case_duration_seconds",
            "Application to payment, for closed cases.",
            buckets=(3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 60 * 86400),
            registry=r,
        )
        self.case_deadline_breaches = Counter(
            "zjx_case_deadline_breaches",
            "Cases that passed their 30-day deadline.",
            ["stage"],
            registry=r,
        )
        self.case_clock_events = Counter(
            "zjx_case_clock_events",
            "Time limits of the law (case definition [[clocks]]) warned of or breached.",
            ["clock", "event"],
            registry=r,
        )
        self.case_errors = Counter(
            "zjx_case_errors",
            "Accepted messages the case layer could not apply (logged; the message stands).",
            registry=r,
        )

    def _transport(self, r: CollectorRegistry) -> None:
        self.http_refused = Counter(
            "zjx_http_refused",
            "Requests refused below the app (unparsable HTTP, timeouts, too many connections),"
            " by problem type slug.",
            ["reason"],
            registry=r,
        )
        self.streams_ended = Counter(
            "zjx_streams_ended",
            "SSE inbox streams ended, by reason (client-gone, write-timeout, shutdown).",
            ["reason"],
            registry=r,
        )

    def count_refusal(self, error: GatewayError) -> None:
        """A refused message: by problem type, and as a signature or document failure when
        its problem type says so (``ProblemType.counted_as``, gateway/problem_types.py)."""
        problem = error.problem
        self.messages_rejected.labels(problem.slug).inc()
        if problem.counted_as == "signature":
            self.signature_failures.labels(problem.slug).inc()
        elif problem.counted_as == "document":
            self.validation_failures.labels(self.type_label(error.extra.get("document_type"))).inc()

    def type_label(self, value: object) -> str:
        return value if isinstance(value, str) and value in self._types else OTHER

    def dept_label(self, value: object) -> str:
        return value if isinstance(value, str) and value in self._departments() else OTHER
