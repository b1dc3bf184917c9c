"""From the top hypothesis to catalog params: the evidence -> action table of docs/remediation.md.

The plan follows the hypothesis's fault type and the change it cites. A change is reverted the
way it was made (deploy -> rollback, config -> the old value, flag -> the old state, an
infrastructure object -> its recorded state). Saturation scales out when load grew and restarts
only on a leak; a restart is proposed only where the evidence says a fresh process helps
(a leak, a stuck or wedged process, a certificate reloaded on start). When nothing fits,
`choose` returns no options and the reasons: no action is better than a wrong one. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from incidentflow.agents.remediation.capacity import (
    Capacity,
    at_limit,
    bad_node,
    capacity_of,
    raise_limit,
    scale_out,
    traffic_rose,
    widen_hpa,
)
from incidentflow.agents.remediation.changes import Change, cited_change, nearby_change, revert
from incidentflow.models import (
    ActionParams,
    EvidenceKind,
    FaultType,
    Hypothesis,
    Investigation,
    RestartParams,
    ScaleParams,
)

# Below this the ranking is a guess: a person decides (the calibrated engine's 0.3 is "weak").
MIN_CONFIDENCE = 0.3
# Scaling out buys headroom while someone looks: double, modestly. The evidence rarely carries
# the replica count; the kubectl executor reads it first and the approver sees both numbers.
SCALE_FROM, SCALE_TO = 3, 6

# Signatures in the cited evidence (findings, attributes) that say what a fresh process fixes.
SIGNS: dict[str, re.Pattern[str]] = {
    "leak": re.compile(
        r"outofmemory|out of memory|oom|leak|heap space|memory_usage|gc overhead", re.I
    ),
    "stuck": re.compile(
        r"deadlock|stuck|wedged|hung|pool exhausted|pool is pinned|leaks? (db )?connections|"
        r"too many connections|connections?_|"
        r"no (free|available) connection|thread starvation",
        re.I,
    ),
    "certificate": re.compile(r"certificate|x509|tls handshake|ssl|cert", re.I),
    "down": re.compile(r"connection refused|\bup\b|unreachable|no route|not running|crash", re.I),
    "traffic": re.compile(r"request_rate|rps|throughput|traffic|requests per", re.I),
    "cpu": re.compile(r"cpu", re.I),
    "disk": re.compile(r"disk|no space left|filesystem", re.I),
}


@dataclass(frozen=True)
class Option:
    """One proposal: the params and why, in the words of the evidence."""

    params: ActionParams
    reason: str
    # Evidence the proposal rests on besides the hypothesis's own (a capacity or node item).
    cites: tuple[str, ...] = ()


@dataclass
class Choice:
    """Ranked options (best first), or none with the reasons and what to check."""

    options: list[Option] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    change: Change | None = None


def signs(top: Hypothesis, investigation: Investigation) -> set[str]:
    """Which signatures the top hypothesis and its own evidence show (not another service's)."""
    cited = set(top.evidence_ids)
    text = (
        top.cause
        + " "
        + " ".join(
            " ".join([e.finding, *e.attributes.values()])
            for e in investigation.evidence
            if e.id in cited
            and e.kind is not EvidenceKind.CHANGE
            and e.service in (top.service, None)
        )
    )
    return {name for name, pattern in SIGNS.items() if pattern.search(text)}


def _restart(svc: str, why: str) -> Option:
    return Option(RestartParams(service=svc), why)


def _scale(svc: str, why: str, cap: Capacity | None = None) -> Option:
    if cap is None:
        return Option(ScaleParams(service=svc, from_replicas=SCALE_FROM, to_replicas=SCALE_TO), why)
    return Option(scale_out(cap), why, (cap.evidence.id,))


def _grow(svc: str, why: str, cap: Capacity | None) -> Option:
    """More replicas for load: the HPA's maximum when one scales it and stands there (scaling
    the Deployment would be undone by it), else the Deployment's replicas."""
    if cap is not None and cap.hpa_at_max and (hpa := widen_hpa(cap)) is not None:
        return Option(
            hpa,
            f"{why}; its HPA already runs {hpa.from_max} replicas, its maximum",
            (cap.evidence.id,),
        )
    return _scale(svc, why, cap)


def _raise(cap: Capacity, resource: str, why: str) -> Option | None:
    params = raise_limit(cap, resource)
    if params is None:
        return None
    return Option(
        params,
        f"{why}: raise the {resource} limit from {params.from_limit} to {params.to_limit}",
        (cap.evidence.id,),
    )


def choose(
    top: Hypothesis, investigation: Investigation, dependencies: frozenset[str] = frozenset()
) -> Choice:
    """The options for the top hypothesis, best first; none (with reasons) when nothing fits.

    `dependencies` are what the top service calls: for a network fault or a dependency down,
    a change on the other side of the call is the one that explains it.
    """
    if top.confidence < MIN_CONFIDENCE:
        return Choice(
            reasons=[
                f"the top hypothesis ({top.service}, {top.fault_type.value}) has confidence "
                f"{top.confidence:.2f}, below {MIN_CONFIDENCE}: too weak to act on"
            ]
        )
    svc, ft = top.service, top.fault_type
    found = signs(top, investigation)
    cap = capacity_of(investigation, svc)
    rose = traffic_rose(investigation, svc)
    if rose is not None:
        # The request-rate series itself says whether load grew, not a word in a finding.
        found = (found | {"traffic"}) if rose else (found - {"traffic"})
    change = cited_change(top, investigation)
    if change is None and ft in (FaultType.NETWORK, FaultType.DEPENDENCY_DOWN):
        change = nearby_change(top, investigation, set(dependencies))
    choice = Choice(change=change)
    node = bad_node(investigation, svc)
    if node is not None:
        drain, why = node
        choice.options.append(Option(drain, why, (f"ev-node-{drain.node}",)))
    if change is not None:
        params, why = revert(change)
        if params is not None:
            choice.options.append(Option(params, f"{why}, just before the failures began"))
        else:
            choice.reasons.append(why)
    if ft in (FaultType.BAD_DEPLOY, FaultType.CONFIG_CHANGE) and change is None:
        choice.reasons.append(
            f"the hypothesis blames a {ft.value.replace('_', ' ')} of {svc} but cites no "
            "recorded change to take back"
        )
    if ft is FaultType.TRAFFIC_SURGE or (
        ft is FaultType.RESOURCE_EXHAUSTION and "traffic" in found
    ):
        choice.options.append(_grow(svc, "load grew: more replicas absorb it while it lasts", cap))
    if ft is FaultType.RESOURCE_EXHAUSTION:
        _saturation(svc, found, cap, investigation, choice, steady=rose is False)
    if ft is FaultType.CODE_EXCEPTION and not choice.options:
        if "stuck" in found or "leak" in found:
            choice.options.append(_restart(svc, "the errors come from a wedged process"))
        else:
            choice.reasons.append(
                f"{svc} raises errors with no recent change to revert: the fix is in its code"
            )
    if ft is FaultType.DEPENDENCY_DOWN and not choice.options:
        if "down" in found or "stuck" in found:
            choice.options.append(
                _restart(
                    svc,
                    f"{svc} itself is down or wedged (its callers only notice it); "
                    "restarting the dependency, not its callers",
                )
            )
        else:
            choice.reasons.append(f"{svc} is down for a reason the evidence does not show")
    if ft is FaultType.EXPIRY and not choice.options:
        if "certificate" in found:
            choice.options.append(
                _restart(
                    svc,
                    "a certificate expired: the process loads its certificate at "
                    "start, so a restart picks up a renewed one (renew it first)",
                )
            )
        else:
            choice.reasons.append(f"something of {svc} expired; the evidence does not say what")
    if ft is FaultType.NETWORK and not choice.options:
        choice.reasons.append(
            "a network fault with no recorded change that explains it: nothing in the catalog "
            "repairs a network; a person should look at the path"
        )
    if ft is FaultType.UNKNOWN and not choice.options:
        choice.reasons.append(f"the evidence does not say what kind of fault {svc} has")
    # Keep the first proposal of each kind and target: ranked, no duplicates.
    seen: set[str] = set()
    unique = []
    for option in choice.options:
        key = option.params.model_dump_json()
        if key not in seen:
            seen.add(key)
            unique.append(option)
    choice.options = unique
    return choice


def _saturation(
    svc: str,
    found: set[str],
    cap: Capacity | None,
    investigation: Investigation,
    choice: Choice,
    *,
    steady: bool,
) -> None:
    """Resource exhaustion: a leak or a stuck pool -> restart (a raised memory limit as the
    alternative to a leak); usage at the container's limit with steady load -> raise the limit;
    every replica saturated with the HPA at its maximum -> widen it; CPU without a known limit
    -> scale out. Nothing when the evidence says none of these would free the resource.
    `steady`: the request-rate series was read and did not rise (else only no sign it did)."""
    cpu_full = at_limit(investigation, cap, "cpu") if cap is not None else None
    memory_full = at_limit(investigation, cap, "memory") if cap is not None else None
    if "leak" in found:
        choice.options.append(
            _restart(svc, "the evidence shows a leak: a fresh process returns the memory")
        )
        if cap is not None and memory_full and (more := _raise(cap, "memory", memory_full)):
            choice.options.append(
                replace(
                    more,
                    reason=f"{more.reason}, if the growth is the load's and not a leak's (a "
                    "restart only buys time against a leak)",
                )
            )
    elif "stuck" in found:
        choice.options.append(
            _restart(
                svc,
                "the evidence shows exhausted or stuck connections/threads: a "
                "fresh process releases them",
            )
        )
    elif (
        cap is not None and "traffic" not in found and (full := _first_full(cpu_full, memory_full))
    ):
        resource, why = full
        if cap.hpa_at_max and (hpa := widen_hpa(cap)) is not None:
            # Every replica the HPA may run is at the limit: more of them, then bigger ones.
            choice.options.append(
                Option(
                    hpa,
                    f"{why} on every replica and the HPA stands at its maximum "
                    f"{hpa.from_max}: allow it more replicas",
                    (cap.evidence.id,),
                )
            )
        more = _raise(
            cap,
            resource,
            f"{why} "
            + (
                "while its request rate stayed at its baseline"
                if steady
                else "and nothing in the evidence shows more requests"
            )
            + " (per-pod saturation: the container's limit, not the load, is the bottleneck)",
        )
        if more is not None:
            choice.options.append(more)
        choice.options.append(
            _scale(svc, f"{resource} is saturated: more replicas spread the work", cap)
        )
    elif "cpu" in found and "traffic" not in found:
        choice.options.append(
            _scale(
                svc,
                "CPU is saturated: more replicas spread the work (no limit is known to raise)"
                if cap is None or cap.get("cpu_limit") is None
                else "CPU is saturated below its limit: more replicas spread the work",
                cap,
            )
        )
    elif not choice.options:
        what = "disk" if "disk" in found else "a resource"
        choice.reasons.append(
            f"{svc} exhausted {what}, but nothing in the evidence says a restart or more "
            "replicas would free it"
        )


def _first_full(cpu: str | None, memory: str | None) -> tuple[str, str] | None:
    """The resource at its limit (CPU first: throttling shows before a kill) and why."""
    if cpu:
        return "cpu", cpu
    if memory:
        return "memory", memory
    return None
