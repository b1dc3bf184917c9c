"""Who may do what for a service: roles from configuration, teams from the catalog. Pure.

INCIDENTFLOW_DECISION_ROLES maps a service name, a team (the catalog's `owner` of a service)
or `*` to the people holding each role there:

    {"team-payments": {"approvers": ["alice", "bob"], "owners": ["carol"]},
     "checkout": {"approvers": ["dave"]}, "*": {"owners": ["sre-lead"]}}

An incident's roles are those of its service, of that service's team and of `*`; the person an
incident is assigned to (`incidentflow assign`) is its owner too. Approving needs `approver`;
rejecting needs `approver` or `owner`; the takeover verbs that change what runs need `owner`.
"""

from __future__ import annotations

from collections.abc import Mapping

from incidentflow.identity.canonical import NotAnIdentity, canonical, canonical_or_none
from incidentflow.models.decisions import Role

# Which roles each verb accepts.
NEEDS: dict[str, frozenset[Role]] = {
    "approve": frozenset({Role.APPROVER}),
    "reject": frozenset({Role.APPROVER, Role.OWNER}),
    **{
        verb: frozenset({Role.OWNER})
        for verb in ("pause", "resume", "override", "retry", "skip", "resolve", "assign")
    },
}
# The configuration keys of each role.
KEYS = {"approvers": Role.APPROVER, "owners": Role.OWNER}


class RoleTable:
    """Canonical members per scope (service, team or `*`) and role."""

    def __init__(self, grants: Mapping[str, Mapping[str, list[str]]]) -> None:
        self._members: dict[tuple[str, Role], frozenset[str]] = {}
        for scope, roles in grants.items():
            for key, names in roles.items():
                role = KEYS.get(key)
                if role is None:
                    raise ValueError(
                        f"INCIDENTFLOW_DECISION_ROLES[{scope!r}]: {key!r} is not a role "
                        f"(one of {', '.join(KEYS)})"
                    )
                try:
                    members = frozenset(canonical(n) for n in names)
                except NotAnIdentity as err:
                    raise ValueError(f"INCIDENTFLOW_DECISION_ROLES[{scope!r}]: {err}") from err
                self._members[(scope, role)] = members

    def roles(
        self,
        identity: str,
        *,
        service: str | None,
        team: str | None,
        assigned_owner: str | None = None,
    ) -> list[Role]:
        """The roles `identity` holds on an incident of `service` (owned by `team`)."""
        who = canonical_or_none(identity)
        if who is None:
            return []
        scopes = [s for s in (service, team, "*") if s]
        found = {
            role
            for (scope, role), members in self._members.items()
            if scope in scopes and who in members
        }
        if assigned_owner and canonical_or_none(assigned_owner) == who:
            found.add(Role.OWNER)
        return sorted(found)

    def scopes(self) -> list[str]:
        """Every configured scope (for messages)."""
        return sorted({scope for scope, _ in self._members})


def allowed(verb: str, roles: list[Role]) -> bool:
    """True when one of `roles` lets its holder do `verb`."""
    return bool(NEEDS.get(verb, frozenset()) & set(roles))


def refusal(verb: str, who: str, roles: list[Role], service: str | None) -> str | None:
    """Why `who` may not `verb` an incident of `service`, or None."""
    if allowed(verb, roles):
        return None
    needed = " or ".join(sorted(r.value for r in NEEDS.get(verb, frozenset()))) or "a role"
    where = service or "an incident with no known service"
    return (
        f"{who} may not {verb} for {where}: it needs the {needed} role "
        "(INCIDENTFLOW_DECISION_ROLES)"
    )
