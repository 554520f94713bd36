"""Prometheus metrics: what sarvbot counts and times, and the ``/metrics`` answer.

Counts only, never a secret or a name people typed beyond an action's name. Under
gunicorn every worker writes its samples to ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's
multiprocess mode, which ``sarvbot serve`` sets up when ``SARVBOT_METRICS`` is on) and any
worker answers a scrape with the sum over all of them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "DELIVERIES",
    "HOUSEKEEPING",
    "QUEUE_DEPTH",
    "REFUSALS",
    "REQUESTS",
    "SARV_CALLS",
    "observe_sarv_call",
    "process_exited",
    "scrape",
]

logger = logging.getLogger("sarvbot.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST
_MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "sarvbot_requests",
    "Commands, clicks and form submissions handled after their ack, by how they ended",
    ["kind", "action", "outcome"],
)
REFUSALS = Counter(
    "sarvbot_refusals", "Work turned away before it was queued (busy, restarting)", ["reason"]
)
QUEUE_DEPTH = Gauge(
    "sarvbot_work_queue_depth",
    "Jobs admitted to the work queue and not finished yet",
    multiprocess_mode="livesum",
)
SARV_CALLS = Histogram(
    "sarvbot_sarv_call_seconds",
    "Sarv API calls by call and outcome (ok, or the error's class)",
    ["call", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0),
)
DELIVERIES = Counter(
    "sarvbot_password_deliveries",
    "Passwords sent by ephemeral DM, by outcome (delivered, undelivered)",
    ["outcome"],
)
HOUSEKEEPING = Gauge(
    "sarvbot_housekeeping_last_run_timestamp_seconds",
    "When a process last ran the periodic work (expiry, lost work, leases)",
    multiprocess_mode="max",
)


def observe_sarv_call(path: str, outcome: str, seconds: float) -> None:
    """The Sarv client's call observer: one sample per call."""
    SARV_CALLS.labels(path.rsplit("/", 1)[-1], outcome).observe(seconds)


class _StateCounts(Collector):
    """Approval requests by state, counted in the database at scrape time."""

    def __init__(self, counts: Callable[[], Mapping[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "sarvbot_approval_requests", "Approval requests by state", labels=["state"]
        )
        for state, count in sorted(self._counts().items()):
            family.add_metric([state], count)
        yield family


def scrape(request_counts: Callable[[], Mapping[str, int]]) -> bytes:
    """The text a scrape gets: this process's (or every worker's) samples and the states."""
    if os.environ.get(_MULTIPROCESS_DIR):
        samples = CollectorRegistry()
        MultiProcessCollector(samples)  # type: ignore[no-untyped-call]
    else:
        samples = PROCESS_REGISTRY
    states = CollectorRegistry()
    states.register(_StateCounts(request_counts))
    try:
        counted = bytes(generate_latest(states))
    except Exception as exc:
        # The database is down: the process's own samples are what an operator needs
        # most now, so they are still answered, without the states.
        logger.warning("metrics: approval requests not counted: %s", type(exc).__name__)
        counted = b""
    return bytes(generate_latest(samples)) + counted


def process_exited(pid: int) -> None:
    """gunicorn's child_exit: a dead worker's live gauges no longer count."""
    if os.environ.get(_MULTIPROCESS_DIR):
        mark_process_dead(pid)  # type: ignore[no-untyped-call]
