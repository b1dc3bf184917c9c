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
from dataclasses import dataclass, field

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


def _scale(svc: str, why: str) -> Option:
    return Option(ScaleParams(service=svc, from_replicas=SCALE_FROM, to_replicas=SCALE_TO), why)


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
    change = cited_change(top, investigation)
    if change is None and ft in (FaultType.NETWORK, FaultType.DEPENDENCY_DOWN):
        change = nearby_change(top, investigation, set(dependencies))
    choice = Choice(change=change)
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
        choice.options.append(_scale(svc, "load grew: more replicas absorb it while it lasts"))
    if ft is FaultType.RESOURCE_EXHAUSTION:
        if "leak" in found:
            choice.options.append(
                _restart(svc, "the evidence shows a leak: a fresh process returns the memory")
            )
        elif "stuck" in found:
            choice.options.append(
                _restart(
                    svc,
                    "the evidence shows exhausted or stuck connections/threads: a "
                    "fresh process releases them",
                )
            )
        elif "cpu" in found and "traffic" not in found:
            choice.options.append(
                _scale(
                    svc,
                    "CPU is saturated: more replicas spread the work (no limit is known to raise)",
                )
            )
        elif not choice.options:
            what = "disk" if "disk" in found else "a resource"
            choice.reasons.append(
                f"{svc} exhausted {what}, but nothing in the evidence says a restart or more "
                "replicas would free it"
            )
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
