"""A recorded change (deploy, config, flag, infra) read back into the params that revert it.

The change log's `before` and `after` are the two sides of the change (docs/remediation.md,
"What a change record must say"):

- deploy: versions (`v4.1.3` -> `v4.2.0`), or a Helm release / Argo CD application revision
  (`helm/<release>@<revision>`, `argocd/<application>@<revision>`: `helm/checkout@41` ->
  `helm/checkout@42`), which is rolled back by that tool rather than by `kubectl`;
- config: `[configmap/<name>:|secret/<name>:|env:]<key>=<value>` on each side;
- feature_flag: `<flag>=<true|false|on|off|1|0>` on each side;
- infra: `absent` or a manifest (YAML or JSON with `kind` and `metadata.name`) on each side
  (a bare `<Kind>/<name>` names the object but cannot be restored or re-created).

A record that does not say what to put back yields None and a reason: the plan then proposes
nothing rather than guess. Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml
from pydantic import ValidationError

from incidentflow.models import (
    ActionParams,
    ConfigRevertParams,
    Evidence,
    EvidenceKind,
    FeatureFlagParams,
    Hypothesis,
    InfraRevertParams,
    Investigation,
    ReleaseRollbackParams,
    RollbackParams,
)

ABSENT = frozenset({"", "absent", "none", "-", "null"})
_TRUE = frozenset({"true", "on", "1", "enabled", "yes"})
_FALSE = frozenset({"false", "off", "0", "disabled", "no"})
_CONFIG = re.compile(
    r"^(?:(?P<source>configmap|secret)/(?P<name>[a-z0-9][-a-z0-9.]*):|(?P<env>env):)?"
    r"(?P<key>[-._a-zA-Z0-9]+)=(?P<value>.*)$",
    re.DOTALL,
)
_RELEASE = re.compile(
    r"^(?P<tool>helm|argocd)/(?P<release>[a-z0-9][-a-z0-9.]{0,251}[a-z0-9]|[a-z0-9])"
    r"@(?P<revision>[0-9]{1,9})$"
)
_OBJECT = re.compile(r"^(?P<kind>[A-Za-z][A-Za-z0-9]*)/(?P<name>[a-z0-9][-a-z0-9.]*)$")


@dataclass(frozen=True)
class Change:
    """A change item's facts as the investigation recorded them."""

    evidence_id: str
    change_id: str
    service: str
    kind: str
    before: str
    after: str


def cited_change(top: Hypothesis, investigation: Investigation) -> Change | None:
    """The change the top hypothesis blames; else a change item it cites as evidence."""
    items = [
        e
        for e in investigation.evidence
        if e.kind is EvidenceKind.CHANGE and "before" in e.attributes and "after" in e.attributes
    ]
    for item in items:
        if top.change_id is not None and item.attributes.get("change_id") == top.change_id:
            return _change(item)
    cited = set(top.evidence_ids)
    for item in items:
        if item.id in cited and item.service == top.service:
            return _change(item)
    return None


def nearby_change(
    top: Hypothesis, investigation: Investigation, dependencies: set[str]
) -> Change | None:
    """The latest infra or config change on the top service or what it calls, if any.

    A network fault or a dependency that went away is often explained by a change on the
    other side of the call (a NetworkPolicy on the database, a changed endpoint).
    """
    near = {top.service} | dependencies
    items = [
        e
        for e in investigation.evidence
        if e.kind is EvidenceKind.CHANGE
        and e.service in near
        and e.attributes.get("kind") in ("infra", "config")
        and "before" in e.attributes
        and "after" in e.attributes
    ]
    latest = max(items, key=lambda e: (e.start, e.id), default=None)
    return _change(latest) if latest is not None else None


def _change(item: Evidence) -> Change:
    a = item.attributes
    return Change(
        evidence_id=item.id,
        change_id=a.get("change_id", item.id),
        service=item.service or "",
        kind=a.get("kind", ""),
        before=a["before"],
        after=a["after"],
    )


def revert(change: Change) -> tuple[ActionParams | None, str]:
    """The params that take `change` back, or None and why the record does not allow it."""
    try:
        match change.kind:
            case "deploy":
                return _deploy(change)
            case "config":
                return _config(change)
            case "feature_flag":
                return _flag(change)
            case "infra":
                return _infra(change)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        return None, f"change {change.change_id} names an invalid {where}: {first['msg']}"
    return None, f"change {change.change_id} is of kind {change.kind!r}, which nothing reverts"


def _deploy(c: Change) -> tuple[ActionParams | None, str]:
    if c.before.lower() in ABSENT:
        return None, f"change {c.change_id} is a first deploy of {c.service}: no version before it"
    before, after = _RELEASE.match(c.before.strip()), _RELEASE.match(c.after.strip())
    if before is not None or after is not None:
        return _release(c, before, after)
    params = RollbackParams(service=c.service, from_version=c.after, to_version=c.before)
    return params, f"deploy {c.change_id} moved {c.service} from {c.before} to {c.after}"


def _release(
    c: Change, before: re.Match[str] | None, after: re.Match[str] | None
) -> tuple[ActionParams | None, str]:
    """A Helm or Argo CD revision change: back to the revision before it, by that tool."""
    if (
        before is None
        or after is None
        or (before["tool"], before["release"]) != (after["tool"], after["release"])
        or before["revision"] == after["revision"]
    ):
        return None, (
            f"deploy {c.change_id} names a release revision on one side only, or two different "
            f"releases ({c.before!r} -> {c.after!r}): nothing to roll back to"
        )
    tool = "helm" if before["tool"] == "helm" else "argocd"
    params = ReleaseRollbackParams(
        service=c.service,
        tool=tool,
        release=before["release"],
        from_revision=int(after["revision"]),
        to_revision=int(before["revision"]),
    )
    return params, (
        f"deploy {c.change_id} moved {tool} release {before['release']} ({c.service}) from "
        f"revision {before['revision']} to {after['revision']}"
    )


def _config(c: Change) -> tuple[ActionParams | None, str]:
    before, after = _CONFIG.match(c.before.strip()), _CONFIG.match(c.after.strip())
    if before is None or after is None:
        return None, (
            f"config change {c.change_id} does not record `key=value` on both sides "
            f"({c.before!r} -> {c.after!r})"
        )
    where = (before["source"], before["name"], before["env"], before["key"])
    if where != (after["source"], after["name"], after["env"], after["key"]):
        return None, f"config change {c.change_id} names a different key on each side"
    if before["env"]:
        source, name = "env", c.service
    elif before["source"]:
        source, name = before["source"], before["name"]
    else:
        return None, (
            f"config change {c.change_id} sets {before['key']} but does not say where it "
            "lives (configmap/<name>:, secret/<name>: or env:)"
        )
    params = ConfigRevertParams(
        service=c.service,
        source=source,
        name=name,
        key=before["key"],
        from_value=after["value"],
        to_value=before["value"],
    )
    return params, f"config change {c.change_id} set {before['key']} on {c.service}"


def _flag_value(text: str) -> bool | None:
    low = text.strip().lower()
    return True if low in _TRUE else False if low in _FALSE else None


def _flag(c: Change) -> tuple[ActionParams | None, str]:
    before, after = _CONFIG.match(c.before.strip()), _CONFIG.match(c.after.strip())
    if before is None or after is None or before["key"] != after["key"]:
        return None, f"flag change {c.change_id} does not record `flag=value` on both sides"
    old, new = _flag_value(before["value"]), _flag_value(after["value"])
    if old is None or new is None or old == new:
        return None, f"flag change {c.change_id} is not a switch between on and off"
    params = FeatureFlagParams(flag=before["key"], from_value=new, to_value=old)
    return params, f"flag change {c.change_id} turned {before['key']} {'on' if new else 'off'}"


def _object(text: str) -> tuple[str, str, str | None, str | None] | None:
    """(kind, name, namespace, manifest) from `Kind/name` or a manifest; None if neither."""
    named = _OBJECT.match(text.strip())
    if named:
        return named["kind"], named["name"], None, None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("metadata"), dict):
        return None
    kind, meta = doc.get("kind"), doc["metadata"]
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(kind, str) or not isinstance(name, str):
        return None
    return kind, name, namespace if isinstance(namespace, str) else None, text


def _infra(c: Change) -> tuple[ActionParams | None, str]:
    sides: list[tuple[str, str, str | None, str | None] | None] = []
    for text in (c.before, c.after):
        if text.strip().lower() in ABSENT:
            sides.append(None)
            continue
        found = _object(text)
        if found is None:
            return None, f"infra change {c.change_id} names no object ({text[:60]!r})"
        sides.append(found)
    before, after = sides
    obj = after or before
    if obj is None:
        return None, f"infra change {c.change_id} has no object on either side"
    if before is not None and before[3] is None:
        # Restoring needs the old content, not just its name.
        return None, (
            f"infra change {c.change_id} modified {before[0]}/{before[1]} but the record holds "
            "no manifest of it before the change"
        )
    if before is None and after is not None and after[3] is None:
        # Deleting is only reversible when the record holds what to re-create.
        return None, (
            f"infra change {c.change_id} created {after[0]}/{after[1]} but the record holds no "
            "manifest of it, so deleting it could not be undone"
        )
    params = InfraRevertParams(
        object_kind=obj[0],
        name=obj[1],
        namespace=obj[2],
        service=c.service or None,
        from_manifest=after[3] if after is not None else None,
        to_manifest=before[3] if before is not None else None,
    )
    verb = "created" if before is None else "deleted" if after is None else "modified"
    return params, f"infra change {c.change_id} {verb} {obj[0]}/{obj[1]}"
