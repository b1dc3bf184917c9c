"""Edges from alert labels that name a peer: `peer_service`, Istio's and Tempo's edge labels.

An alert about a call carries both ends: Tempo's service-graph alerts `client`/`server`,
Istio's `source_workload`/`destination_workload`, OpenTelemetry's `peer.service` (exported
as `peer_service`). A callee label names the service the alert's service calls; a caller label
names the service that calls it. When both are present they are the two ends, whatever the
alert's own service is. The label lists are settings (INCIDENTFLOW_GRAPH_CALLEE_LABELS,
INCIDENTFLOW_GRAPH_CALLER_LABELS); the first label of a list that is present is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from incidentflow.graphs.edges import Edge, clean
from incidentflow.models import Alert

DEFAULT_CALLEE_LABELS = (
    "peer_service",
    "server",
    "destination_workload",
    "destination_service_name",
)
DEFAULT_CALLER_LABELS = ("client", "source_workload", "source_service_name")


@dataclass(frozen=True)
class PeerLabels:
    """Which labels name the other end of a call, and which name the alert's own service."""

    callee: tuple[str, ...] = DEFAULT_CALLEE_LABELS
    caller: tuple[str, ...] = DEFAULT_CALLER_LABELS
    service: tuple[str, ...] = ("service", "app", "app_kubernetes_io_name")
    ignore: tuple[str, ...] = ("unknown", "user")

    def edge(self, alert: Alert) -> Edge | None:
        """The call this alert names, or None when it names no peer."""
        labels = alert.labels
        callee = _first(labels, self.callee)
        caller = _first(labels, self.caller)
        if callee is None and caller is None:
            return None
        own = self.own_service(alert)
        edge = (caller or own or "", callee or own or "")
        return next(iter(clean([edge], self.ignore)), None)

    def own_service(self, alert: Alert) -> str | None:
        """The service the alert is about, by its first service label present."""
        found = _first(alert.labels, self.service)
        return None if found in self.ignore else found


def _first(labels: dict[str, str], names: Sequence[str]) -> str | None:
    return next((labels[n] for n in names if labels.get(n)), None)
