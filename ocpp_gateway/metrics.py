"""EV_OCPP's metrics and probes (``--metrics-port``; docs/operations.md).

Read at scrape time: the chargers and their Central links (one per connector) from the
gateway's chargers and points (copies of the dicts' values, read as the event loop left them), the calls counted on the event loop
(``Gateway.calls``). Charger ids are not labels: a site may have thousands.

Ready: the WebSocket server listens and Kafka is reachable.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric

from ocpp_gateway.gateway import Gateway
from wire.metrics import MetricsServer, Readiness, gauge, readiness, serve_metrics


def gateway_metrics(gateway: Gateway) -> Iterator[Metric]:
    points = list(gateway.points.values())  # one per connector: a CP at Central each
    yield gauge(
        "evc_ocpp_chargers_connected",
        "OCPP chargers with an open WebSocket",
        sum(1 for c in list(gateway.chargers.values()) if c.cp is not None),
    )
    yield gauge(
        "evc_ocpp_central_links_up",
        "Charge points authenticated at Central through this gateway",
        sum(1 for p in points if p.link is not None and p.link.up),
    )
    calls = CounterMetricFamily(
        "evc_ocpp_calls_total",
        "OCPP calls received from chargers or sent to them, by action and result (ok, a "
        "CALLERROR's code, the answer's status, no_answer)",
        labels=["direction", "action", "result"],
    )
    for key, n in sorted(gateway.calls.snapshot().items()):
        calls.add_metric(key.split(" ", 2), n)
    yield calls
    kafka = gateway.kafka
    if kafka is not None:
        yield gauge(
            "evc_ocpp_kafka_up", "1 while Kafka is reachable", float(kafka.producer.broker_up)
        )
        yield gauge(
            "evc_ocpp_kafka_producer_queue_events",
            "Events the gateway has not delivered to Kafka yet",
            kafka.producer.pending,
        )


def gateway_readiness(gateway: Gateway) -> Readiness:
    problems = []
    if not gateway.serving:
        problems.append("the WebSocket server is not listening yet")
    if gateway.kafka is None or not gateway.kafka.producer.broker_up:
        problems.append("Kafka not reachable")
    return readiness(problems, "ready")


def serve_gateway(args: argparse.Namespace, gateway: Gateway) -> MetricsServer | None:
    return serve_metrics(
        args, "EV_OCPP", lambda: gateway_metrics(gateway), lambda: gateway_readiness(gateway)
    )
