"""Scraping a program's ``--metrics-port`` in tests (docs/operations.md): the text format
parsed by ``prometheus_client``'s own parser, the probes' status and body."""

from __future__ import annotations

import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

Families = dict[str, tuple[str, list[Sample]]]  # family name -> (type, samples)

# What each program exports (name -> type), as docs/operations.md lists it
CENTRAL_SERIES = {
    "evc_central_info": "gauge",
    "evc_central_role": "gauge",
    "evc_central_cps": "gauge",
    "evc_central_monitors_connected": "gauge",
    "evc_central_sessions": "gauge",
    "evc_central_heartbeats_total": "counter",
    "evc_central_heartbeat_handling_seconds": "histogram",
    "evc_central_charge_requests_total": "counter",
    "evc_central_authorization_seconds": "histogram",
    "evc_central_tickets_total": "counter",
    "evc_central_billed_energy_kwh_total": "counter",
    "evc_central_billed_eur_total": "counter",
    "evc_central_credited_energy_kwh_total": "counter",
    "evc_central_credited_eur_total": "counter",
    "evc_central_tickets_amended_total": "counter",
    "evc_central_refused_values_total": "counter",
    "evc_central_kafka_up": "gauge",
    "evc_central_kafka_producer_queue_events": "gauge",
    "evc_central_db_up": "gauge",
    "evc_central_db_writer_queue_jobs": "gauge",
    "evc_central_db_job_seconds": "histogram",
    "process_cpu_seconds_total": "counter",
}
ENGINE_SERIES = {
    "evc_engine_info": "gauge",
    "evc_engine_health_checks_total": "counter",
    "evc_engine_state": "gauge",
    "evc_engine_fault": "gauge",
    "evc_engine_monitor_link_up": "gauge",
    "evc_engine_central_link_up": "gauge",
    "evc_engine_kafka_up": "gauge",
    "evc_engine_kafka_producer_queue_events": "gauge",
    "evc_engine_supply_energy_kwh": "gauge",
}
MONITOR_SERIES = {
    "evc_monitor_info": "gauge",
    "evc_monitor_health_checks_total": "counter",
    "evc_monitor_engine_health": "gauge",
    "evc_monitor_central_link_up": "gauge",
    "evc_monitor_central_sessions_total": "counter",
    "evc_monitor_heartbeat_rtt_seconds": "histogram",
}
OCPP_SERIES = {
    "evc_ocpp_chargers_connected": "gauge",
    "evc_ocpp_central_links_up": "gauge",
    "evc_ocpp_calls_total": "counter",
    "evc_ocpp_kafka_up": "gauge",
    "evc_ocpp_kafka_producer_queue_events": "gauge",
}

# Exported only when known: a pair's lease, the consumer's lag, a monitor's last check
SOMETIMES = {
    "evc_central_lease_age_seconds": "gauge",
    "evc_central_kafka_consumer_lag_events": "gauge",
    "evc_engine_last_health_check_age_seconds": "gauge",
}
ALL_SERIES = {**CENTRAL_SERIES, **ENGINE_SERIES, **MONITOR_SERIES, **OCPP_SERIES, **SOMETIMES}


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, str]:
    """(HTTP status, body) of ``path``; (0, why) when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return 0, str(exc)


def scrape(port: int) -> Families:
    status, text = get(port, "/metrics")
    assert status == 200, (status, text)
    return {f.name: (f.type, f.samples) for f in text_string_to_metric_families(text)}


def value(families: Families, sample: str, **labels: str) -> float | None:
    """The value of the sample named ``sample`` with these labels (None: not there)."""
    for _, samples in families.values():
        for s in samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


def check_types(families: Families, expected: dict[str, str]) -> None:
    """Each family exists with its type (a counter's family name has no ``_total``)."""
    for name, kind in expected.items():
        family = name.removesuffix("_total") if kind == "counter" else name
        assert family in families, f"{family} not exported; got {sorted(families)}"
        assert families[family][0] == kind, (family, families[family][0], kind)


def label_values(families: Families) -> set[str]:
    return {v for _, samples in families.values() for s in samples for v in s.labels.values()}
