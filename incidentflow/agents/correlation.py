"""Agent 2, correlation (rules engine): collapse detections into incidents over the graph.

Duplicates and noise are dropped with a reason, alerts near an open incident join it, and the
rest are grouped by topology and time into new incidents whose origin is the deepest failing
dependency. Pure and deterministic: ids come from hashes of the inputs, times from the alerts.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from datetime import timedelta
from itertools import pairwise

from incidentflow.agents.common import ago, short_hash, utc
from incidentflow.agents.joining import (
    Joined,
    Nearest,
    add_update,
    incident_update,
    join_nearest,
    join_through_new_members,
    nearest_open_incident,
)
from incidentflow.agents.memo_graph import distance, memo_graph
from incidentflow.agents.rules import CorrelationRules
from incidentflow.agents.topology import downstream_of, hops
from incidentflow.models import (
    AlertStatus,
    CorrelationInput,
    CorrelationResult,
    Detection,
    Duplicate,
    Incident,
    ServiceGraph,
    Severity,
)

# Two hops reach a caller's caller or a shared dependency: far enough to catch a cascade
# through one intermediate service, near enough to keep unrelated corners of a shop apart.
GROUP_HOPS = 2
JOIN_HOPS = 2
# Alerts of one cascade start within minutes of each other (their `for:` clauses differ).
GROUP_WINDOW = timedelta(minutes=10)
DEFAULT_RULES = CorrelationRules(
    group_window_seconds=int(GROUP_WINDOW.total_seconds()),
    group_hops=GROUP_HOPS,
    join_hops=JOIN_HOPS,
)
# Alertmanager's spelling of "group by every label".
ALL_LABELS = "..."
# Grouping reasons kept per incident: a storm must not put 20,000 sentences in one artifact.
MAX_GROUP_REASONS = 20


def correlate(
    inp: CorrelationInput, graph: ServiceGraph, rules: CorrelationRules = DEFAULT_RULES
) -> CorrelationResult:
    """New incidents, alerts joined to open incidents, and what was dropped (with reasons)."""
    graph = memo_graph(graph)
    dropped: list[Detection] = []
    representatives, duplicates = _collapse_deliveries(inp.detections, dropped)
    # An alert that fired and resolved within this round is still part of what happened: it
    # groups and joins like a firing one, though alone it opens nothing (below).
    fired_here = {
        d.alert.fingerprint for d in inp.detections if d.alert.status is AlertStatus.FIRING
    }
    known = {fp: inc.id for inc in inp.open_incidents for fp in inc.fingerprints}
    resolved = {fp for inc in inp.open_incidents for fp in inc.resolved}
    updates: dict[str, Joined] = {}
    by_id = {inc.id: inc for inc in inp.open_incidents}
    pending: list[Detection] = []
    # Every alert on one service is nearest to the same open incident: walk once per service.
    by_age = sorted(inp.open_incidents, key=lambda i: (utc(i.opened_at), i.id))
    nearest: dict[str, Nearest | None] = {}

    for det in representatives:
        fp = det.alert.fingerprint
        if fp in known:
            if det.alert.status is AlertStatus.RESOLVED:
                add_update(updates, known[fp], det, f"{det.alert.name} resolved")
            elif fp in resolved:
                add_update(updates, known[fp], det, f"{det.alert.name} fired again")
            elif det.alert.acknowledged:
                add_update(updates, known[fp], det, f"{det.alert.name} acknowledged at source")
            else:
                reason = f"already part of {known[fp]}; delivered again (repeat or HA peer)"
                dropped.append(_note(det, reason))
                joined_to = updates.setdefault(known[fp], Joined())
                joined_to.duplicates.append(
                    Duplicate(fingerprint=fp, duplicate_of=fp, reason=reason)
                )
                joined_to.reasons.append(f"{det.alert.name}: {reason}")
            continue
        if det.noise:
            dropped.append(_note(det, "detection marked it noise"))
            continue
        if det.alert.status is AlertStatus.RESOLVED and fp not in fired_here:
            dropped.append(_note(det, "resolved before any incident included it"))
            continue
        if det.service is not None and det.service not in nearest:
            nearest[det.service] = nearest_open_incident(
                det.service, by_age, graph, rules.join_hops
            )
        joined = nearest.get(det.service) if det.service is not None else None
        if joined is not None:
            join_nearest(det, joined, updates, graph)
            continue
        pending.append(det)
    pending = join_through_new_members(pending, by_age, updates, graph, rules.join_hops)

    new_incidents: list[Incident] = []
    quiet: list[str] = []
    for group, group_reasons in _group(pending, graph, rules):
        severity = Severity.most_urgent([d.severity for d in group])
        if all(d.alert.status is AlertStatus.RESOLVED for d in group):
            dropped.extend(_note(d, "resolved before any incident included it") for d in group)
            continue
        too_quiet = _below_threshold(group, severity)
        if too_quiet is not None:
            dropped.extend(_note(d, too_quiet) for d in group)
            quiet.extend(d.alert.fingerprint for d in group)
            continue
        group_fps = {d.alert.fingerprint for d in group}
        dups = [d for fp in sorted(group_fps) for d in duplicates.get(fp, [])]
        new_incidents.append(
            _build_incident(group, graph, inp.environment, dups, severity, group_reasons)
        )

    return CorrelationResult(
        new_incidents=sorted(new_incidents, key=lambda i: (i.opened_at, i.id)),
        updates=[
            incident_update(by_id[inc_id], j, graph)
            for inc_id, j in sorted(updates.items())
            if inc_id in by_id
        ],
        dropped=dropped,
        quiet=sorted(quiet),
    )


def _note(det: Detection, reason: str) -> Detection:
    # Detections are immutable; a copy carries correlation's verdict next to detection's.
    return det.model_copy(update={"reasons": [*det.reasons, f"correlation: {reason}"]})


def _collapse_deliveries(
    detections: list[Detection], dropped: list[Detection]
) -> tuple[list[Detection], dict[str, list[Duplicate]]]:
    """One detection per fingerprint (its latest delivery); the others become duplicates."""
    by_fp: dict[str, list[Detection]] = defaultdict(list)
    for det in detections:
        by_fp[det.alert.fingerprint].append(det)
    representatives: list[Detection] = []
    duplicates: dict[str, list[Duplicate]] = {}
    for fp, deliveries in by_fp.items():
        latest = deliveries[-1]
        representatives.append(latest)
        if len(deliveries) == 1:
            continue
        statuses = " -> ".join(d.alert.status.value for d in deliveries)
        reason = (
            f"same fingerprint delivered {len(deliveries)} times in one batch ({statuses}); "
            "kept the latest"
        )
        if latest.flapping:
            reason += "; the alert is flapping"
        duplicates[fp] = [
            Duplicate(fingerprint=fp, duplicate_of=fp, reason=reason) for _ in deliveries[:-1]
        ]
        dropped.extend(_note(d, f"duplicate: {reason}") for d in deliveries[:-1])
    return representatives, duplicates


def _group(
    pending: list[Detection], graph: ServiceGraph, rules: CorrelationRules
) -> list[tuple[list[Detection], list[str]]]:
    """Union alerts whose services are close in the graph and that started close in time.

    Pairwise in effect, but near-linear: within one bucket (a service, or a group_by key)
    alerts chain in time order; across two buckets each alert links to its nearest-in-time
    neighbours on either side, which connects exactly what all pairs would.
    """
    parent = list(range(len(pending)))
    reasons: dict[int, list[str]] = defaultdict(list)
    times = [utc(d.alert.starts_at) for d in pending]

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri == rj:
            return
        link = _link_reason(pending[i], pending[j], graph, rules)
        if link is None:
            return
        parent[rj] = ri
        merged = [*reasons[ri], link, *reasons.pop(rj, [])]
        reasons[ri] = merged[:MAX_GROUP_REASONS]

    buckets: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for i, det in enumerate(pending):
        if rules.group_by:
            buckets[("labels", group_key(det.alert.labels, rules.group_by))].append(i)
        if rules.topology and det.service is not None:
            buckets[("service", det.service)].append(i)
    ordered = {key: sorted(ids, key=lambda i: (times[i], i)) for key, ids in buckets.items()}
    for ids in ordered.values():
        for a, b in pairwise(ids):
            union(a, b)
    services = sorted(str(k[1]) for k in ordered if k[0] == "service")
    for x, sa in enumerate(services):
        for sb in services[x + 1 :]:
            if distance(graph, str(sa), str(sb), rules.group_hops) is None:
                continue
            ids_a, ids_b = ordered[("service", sa)], ordered[("service", sb)]
            keys_b = [times[j] for j in ids_b]
            for i in ids_a:
                at = bisect_left(keys_b, times[i])
                for k in (at - 1, at):
                    if 0 <= k < len(ids_b):
                        union(i, ids_b[k])

    groups: dict[int, list[Detection]] = defaultdict(list)
    for i, det in enumerate(pending):
        groups[find(i)].append(det)
    return [(members, reasons.get(root, [])) for root, members in groups.items()]


def group_key(labels: dict[str, str], group_by: list[str]) -> tuple[tuple[str, str], ...]:
    """Alertmanager's group key: the group_by labels' values (all labels for `...`)."""
    if ALL_LABELS in group_by:
        return tuple(sorted(labels.items()))
    return tuple((k, labels.get(k, "")) for k in group_by)


def _link_reason(
    a: Detection, b: Detection, graph: ServiceGraph, rules: CorrelationRules
) -> str | None:
    gap = abs(utc(a.alert.starts_at) - utc(b.alert.starts_at))
    if gap > timedelta(seconds=rules.group_window_seconds):
        return None
    if rules.group_by and group_key(a.alert.labels, rules.group_by) == group_key(
        b.alert.labels, rules.group_by
    ):
        shown = "all labels" if ALL_LABELS in rules.group_by else ", ".join(rules.group_by)
        return (
            f"grouped {a.alert.name} and {b.alert.name}: same group_by labels ({shown}), "
            f"{ago(gap)} apart"
        )
    if not rules.topology or a.service is None or b.service is None:
        return None
    if a.service == b.service:
        return f"grouped {a.alert.name} and {b.alert.name}: both on {a.service}, {ago(gap)} apart"
    dist = distance(graph, a.service, b.service, rules.group_hops)
    if dist is None:
        return None
    return (
        f"grouped {a.alert.name} and {b.alert.name}: {a.service} and {b.service} are "
        f"{hops(dist)} apart in the graph and started {ago(gap)} apart"
    )


def _below_threshold(group: list[Detection], severity: Severity) -> str | None:
    """Why this group should not page anyone, or None when it opens an incident."""
    if severity is Severity.INFO:
        return "info alerts alone do not open an incident"
    warnings = [d for d in group if d.severity is not Severity.INFO]
    if severity is Severity.WARNING and len(warnings) == 1:
        # One warning with nothing failing around it is ticket work, not an incident.
        return "a lone warning with no related alert does not open an incident"
    return None


def _origin(group: list[Detection], graph: ServiceGraph) -> tuple[str | None, str]:
    """The deepest failing dependency: the alerting service the others depend on."""
    alerting = sorted({d.service for d in group if d.service and graph.get(d.service)})
    if not alerting:
        first = min(group, key=lambda d: (d.severity.rank, utc(d.alert.starts_at)))
        return first.service, "origin: no alerting service is in the graph; took the most urgent"

    def key(svc: str) -> tuple[int, bool, int, str]:
        callers = sum(1 for o in alerting if o != svc and graph.path(o, svc) is not None)
        calls_failing = any(o != svc and graph.path(svc, o) is not None for o in alerting)
        rank = min(d.severity.rank for d in group if d.service == svc)
        return (-callers, calls_failing, rank, svc)

    origin = min(alerting, key=key)
    callers = -key(origin)[0]
    return origin, (
        f"origin: {origin}: {callers} other alerting service(s) depend on it and it depends "
        "on no other alerting service"
        if not key(origin)[1]
        else f"origin: {origin}: {callers} other alerting service(s) depend on it"
    )


def _build_incident(
    group: list[Detection],
    graph: ServiceGraph,
    environment: str,
    duplicates: list[Duplicate],
    severity: Severity,
    group_reasons: list[str],
) -> Incident:
    group = sorted(group, key=lambda d: (utc(d.alert.starts_at), d.alert.fingerprint))
    alerts = [d.alert for d in group]
    opened_at = utc(alerts[0].starts_at)
    fingerprints = sorted(a.fingerprint for a in alerts)
    # The first alert's start is in the id: an alert that fires again after its incident
    # ended (a new startsAt) opens a new incident instead of colliding with the ended one's id.
    digest = short_hash(environment, opened_at.isoformat(), *fingerprints)
    incident_id = f"INC-{opened_at:%Y%m%d}-{digest}"
    origin, origin_reason = _origin(group, graph)

    downstream = [
        symptom for det in group if (symptom := downstream_of(det, origin, graph)) is not None
    ]

    lead = min(
        (d for d in group if d.service == origin) if origin else group,
        key=lambda d: (d.severity.rank, utc(d.alert.starts_at)),
        default=group[0],
    )
    extras = []
    if downstream:
        extras.append(f"+{len(downstream)} downstream")
    related = len(alerts) - 1 - len(downstream)
    if related:
        extras.append(f"+{related} related")
    title = f"{lead.alert.name} on {origin or 'unknown service'}"
    if extras:
        title += f" ({', '.join(extras)})"

    services = sorted({d.service for d in group if d.service}, key=lambda s: (s != origin, s))
    worst = min(group, key=lambda d: d.severity.rank)
    reasons = [
        *group_reasons,
        origin_reason,
        f"severity: {severity.value}, the most urgent of its alerts ({worst.alert.name})",
        *(f"downstream: {d.explanation}" for d in downstream),
        *(
            f"duplicate {fp}: {reason}"
            for fp, reason in {d.fingerprint: d.reason for d in duplicates}.items()
        ),
        f"id: {incident_id} from environment {environment}, the first start and "
        f"{len(fingerprints)} fingerprints",
    ]
    return Incident(
        id=incident_id,
        environment=environment,
        title=title,
        severity=severity,
        origin_service=origin,
        services=services,
        alerts=alerts,
        downstream=downstream,
        duplicates=duplicates,
        opened_at=opened_at,
        reasons=reasons,
    )
