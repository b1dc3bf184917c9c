"""Agent 1, detection (rules engine): what each alert is about and whether it matters.

Pure and deterministic: the same batch and graph always give the same detections.
"""

from __future__ import annotations

from collections import defaultdict

from incidentflow.models import (
    Alert,
    AlertBatch,
    AlertStatus,
    Detection,
    DetectionResult,
    ServiceGraph,
    Severity,
)

# Label conventions in the order people most often mean "the service": explicit first,
# Kubernetes recommended labels next, scrape job and container after, namespace last.
SERVICE_LABELS = ("service", "app", "app_kubernetes_io_name", "job", "container", "namespace")

SEVERITY_WORDS: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "error": Severity.HIGH,
    "high": Severity.HIGH,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "info": Severity.INFO,
    "none": Severity.INFO,
}

# Alerts that exist to prove the pipeline works or to inhibit others; never an incident.
HEARTBEAT_ALERTS = frozenset({"Watchdog", "InfoInhibitor", "DeadMansSwitch", "DeadMansSnitch"})


def detect(batch: AlertBatch, graph: ServiceGraph) -> DetectionResult:
    """Classify every alert of `batch`: severity, service, flapping and noise, with reasons."""
    statuses: dict[str, set[AlertStatus]] = defaultdict(set)
    for alert in batch.alerts:
        statuses[alert.fingerprint].add(alert.status)
    detections = [
        _detect_one(alert, graph, len(statuses[alert.fingerprint]) > 1) for alert in batch.alerts
    ]
    return DetectionResult(detections=detections)


def severity_of(alert: Alert) -> tuple[Severity, str]:
    """The alert's severity and the rule that decided it."""
    raw = alert.labels.get("severity")
    if raw is None:
        return Severity.WARNING, "severity: no `severity` label, assumed warning"
    mapped = SEVERITY_WORDS.get(raw.strip().lower())
    if mapped is None:
        return Severity.WARNING, f"severity: unknown label value {raw!r}, assumed warning"
    return mapped, f"severity: label severity={raw} maps to {mapped.value}"


def service_of(alert: Alert, graph: ServiceGraph) -> tuple[str | None, bool, str]:
    """(service, known to the graph, reason): the first label naming a known service wins.

    When no label names a service of the graph, the first conventional label present is kept
    so a person still sees what the alert is about.
    """
    present = [(key, alert.labels[key]) for key in SERVICE_LABELS if alert.labels.get(key)]
    for key, value in present:
        if graph.get(value) is not None:
            return value, True, f"service: label {key}={value} names a service in the graph"
    if present:
        key, value = present[0]
        return value, False, f"service: label {key}={value}, not a service in the graph"
    return None, False, "service: none of the labels " + ", ".join(SERVICE_LABELS) + " is set"


def _detect_one(alert: Alert, graph: ServiceGraph, toggles: bool) -> Detection:
    severity, severity_reason = severity_of(alert)
    service, known, service_reason = service_of(alert, graph)
    reasons = [severity_reason, service_reason]
    noise = False
    if alert.name in HEARTBEAT_ALERTS:
        noise = True
        reasons.append(f"noise: {alert.name} is a pipeline heartbeat, not a problem")
    elif severity is Severity.INFO and not known:
        noise = True
        reasons.append("noise: info severity on a service outside the graph")
    if toggles:
        reasons.append("flapping: the same fingerprint is both firing and resolved in this batch")
    return Detection(
        alert=alert,
        service=service,
        severity=severity,
        noise=noise,
        flapping=toggles,
        reasons=reasons,
    )
