"""Agent 1, detection (rules engine): what each alert is about and whether it matters.

Pure and deterministic: the same batch and graph always give the same detections.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from incidentflow.agents.common import utc
from incidentflow.agents.rules import DetectionRules
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


DEFAULT_RULES = DetectionRules()


def detect(
    batch: AlertBatch, graph: ServiceGraph, rules: DetectionRules = DEFAULT_RULES
) -> DetectionResult:
    """Classify every alert of `batch`: severity, service, flapping and noise, with reasons.

    Silences and maintenance windows are judged at the batch's receipt time, so the verdict
    is the same on every retry.
    """
    changes: dict[str, int] = defaultdict(int)
    last: dict[str, AlertStatus] = {}
    for alert in batch.alerts:
        fp = alert.fingerprint
        if fp in last and last[fp] is not alert.status:
            changes[fp] += 1
        last[fp] = alert.status
    detections = [
        _detect_one(
            alert,
            graph,
            rules,
            in_batch=changes[alert.fingerprint],
            before=batch.recent_transitions.get(alert.fingerprint, 0),
            at=utc(batch.received_at),
        )
        for alert in batch.alerts
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


def service_of(
    alert: Alert, graph: ServiceGraph, labels: tuple[str, ...] | list[str] = SERVICE_LABELS
) -> tuple[str | None, bool, str]:
    """(service, known to the graph, reason): the first label naming a known service wins.

    When no label names a service of the graph, the first conventional label present is kept
    so a person still sees what the alert is about.
    """
    present = [(key, alert.labels[key]) for key in labels if alert.labels.get(key)]
    for key, value in present:
        if graph.get(value) is not None:
            return value, True, f"service: label {key}={value} names a service in the graph"
    if present:
        key, value = present[0]
        return value, False, f"service: label {key}={value}, not a service in the graph"
    return None, False, "service: none of the labels " + ", ".join(labels) + " is set"


def suppression(alert: Alert, rules: DetectionRules, at: datetime) -> str | None:
    """Why a noise rule, silence or maintenance window suppresses `alert` at `at`, if one does."""
    for rule in rules.noise:
        if rule.applies(alert.labels):
            return f"noise: known-noise rule {rule.described}: {rule.reason}"
    for silence in rules.silences:
        if silence.applies(alert.labels) and silence.active(at):
            return (
                f"noise: silenced by {silence.created_by} until {silence.ends_at.isoformat()} "
                f"{silence.described}" + (f": {silence.comment}" if silence.comment else "")
            )
    for window in rules.maintenance:
        if window.applies(alert.labels) and window.active(at):
            return (
                f"noise: maintenance window {window.name!r} ({window.start:%H:%M}-"
                f"{window.end:%H:%M} {window.timezone}) {window.described}"
            )
    return None


def _detect_one(
    alert: Alert,
    graph: ServiceGraph,
    rules: DetectionRules,
    *,
    in_batch: int,
    before: int,
    at: datetime,
) -> Detection:
    severity, severity_reason = severity_of(alert)
    service, known, service_reason = service_of(alert, graph, rules.service_labels)
    reasons = [severity_reason, service_reason]
    noise = False
    suppressed = suppression(alert, rules, at)
    if alert.name in HEARTBEAT_ALERTS:
        noise = True
        reasons.append(f"noise: {alert.name} is a pipeline heartbeat, not a problem")
    elif suppressed is not None:
        noise = True
        reasons.append(suppressed)
    elif severity is Severity.INFO and not known:
        noise = True
        reasons.append("noise: info severity on a service outside the graph")
    toggles = in_batch > 0 or in_batch + before >= rules.flap_changes
    if in_batch:
        reasons.append("flapping: the same fingerprint is both firing and resolved in this batch")
    if in_batch + before >= rules.flap_changes:
        reasons.append(
            f"flapping: {in_batch + before} status changes within the flap window "
            f"(threshold {rules.flap_changes})"
        )
    return Detection(
        alert=alert,
        service=service,
        severity=severity,
        noise=noise,
        flapping=toggles,
        reasons=reasons,
    )
