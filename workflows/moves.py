"""Merge, split and "all alerts resolved": the incident workflow's handlers for moving alerts.

A person merges or splits incidents with validated updates; each side records the move in its
own timeline. The alert stream says when every alert of an incident resolved at its source; if
that happens before an action was approved and no alert fires again within the settle time,
the plan is withdrawn and the incident ends `resolved` (issue 13).

Deterministic module: no I/O, no clock but workflow.now(), no randomness.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from incidentflow.models import (
        Alert,
        AlertsResolved,
        AlertStatus,
        Incident,
        IncidentInput,
        IncidentMoved,
        IncidentState,
        SplitRequest,
        TimelineKind,
    )
    from workflows.takeover import ACTING, TakeoverHandlers


class MoveHandlers(TakeoverHandlers):
    """Handlers that move alerts between incidents; mixed into IncidentWorkflow (the timeline
    helpers come from TakeoverHandlers)."""

    _inp: IncidentInput
    _incident: Incident
    _alerts: dict[str, Alert]
    _services: list[str]
    # Splits done, by their sorted fingerprints: the same split asked again gets the same answer.
    _splits: dict[str, IncidentMoved]
    _closing: bool

    def _init_moves(self) -> None:
        self._splits = {}
        # Why the plan was withdrawn because the alerts resolved on their own; None until then.
        self._withdrawn: str | None = None
        # The incident this one was merged into: it ends `merged`, and nothing of it runs.
        self._merged_into: str | None = None

    # -- alerts that resolve on their own before anything was approved ---------------------

    def _alerts_clear(self) -> bool:
        return bool(self._alerts) and all(
            a.status is AlertStatus.RESOLVED for a in self._alerts.values()
        )

    def _may_withdraw(self) -> bool:
        # Any final decision (approved, rejected, expired) settles the plan's fate already.
        decided = self._approval is not None
        late = (*ACTING, IncidentState.DRAFTING_POSTMORTEM)
        return not (
            decided
            or self._state in late
            or self._state.terminal
            or self._resolved_by
            or self._merged_into
        )

    async def _watch_resolution(self) -> None:
        """Withdraw the plan once every alert has stayed resolved for the settle time.

        A re-fire within it (the stream joins the firing alert back here) keeps the incident
        going; after the incident ended, a re-fire opens a new one.
        """
        while True:
            await workflow.wait_condition(
                lambda: self._closing or (self._alerts_clear() and self._may_withdraw())
            )
            if self._closing:
                return
            settle = self._config.resolved_settle_seconds
            try:
                await workflow.wait_condition(
                    lambda: self._closing or not self._alerts_clear() or not self._may_withdraw(),
                    timeout=timedelta(seconds=settle),
                    timeout_summary="alerts resolved: settle window",
                )
            except TimeoutError:
                self._withdrawn = (
                    f"every alert ({len(self._alerts)}) resolved before an action was approved "
                    f"and none fired again within {settle} s"
                )
                self._event(TimelineKind.PLAN, "system", f"plan withdrawn: {self._withdrawn}")
                return

    def _record_split_from(self) -> None:
        """An incident a person split off another says so first, with who and why."""
        came = self._inp.split_from
        if came is not None:
            self._event(
                TimelineKind.CORRELATION,
                came.by,
                f"split from {came.other_id} by {came.by}"
                + (f": {came.reason}" if came.reason else ""),
            )

    @workflow.signal(name="alerts_resolved")
    def alerts_resolved(self, msg: AlertsResolved) -> None:
        """The stream saw every alert of this incident resolve: mark the incident so."""
        if self._incident.resolved_at is None:
            self._incident = self._incident.model_copy(update={"resolved_at": msg.at})
            self._event(
                TimelineKind.ALERT,
                "correlation",
                f"all {len(msg.fingerprints)} alert(s) resolved at their source",
            )

    # -- people: merge and split (issue 3); each side records the move in its timeline ----

    @workflow.update(name="merge_into")
    def merge_into(self, msg: IncidentMoved) -> IncidentMoved:
        """This incident is merged into `msg.other_id`: hand over its alerts and services.

        The incident then ends `merged`: a pending decision is cancelled and nothing of it
        runs. Asked again for the same target (a command re-run), it answers the same.
        """
        if self._merged_into == msg.other_id:
            return msg.model_copy(
                update={"alerts": list(self._alerts.values()), "services": list(self._services)}
            )
        self._merged_into = msg.other_id
        self._event(
            TimelineKind.CORRELATION,
            msg.by,
            f"merged into {msg.other_id}" + (f": {msg.reason}" if msg.reason else ""),
        )
        return msg.model_copy(
            update={"alerts": list(self._alerts.values()), "services": list(self._services)}
        )

    @merge_into.validator
    def _validate_merge_into(self, msg: IncidentMoved) -> None:
        me = self._incident.id
        if msg.other_id == me:
            raise ValueError("an incident cannot be merged into itself")
        if self._merged_into is not None:
            if self._merged_into == msg.other_id:
                return  # the same merge again: answered with what it handed over
            raise ValueError(f"{me} was already merged into {self._merged_into}")
        if self._state in ACTING:
            raise ValueError(
                f"{me} is {self._state.value}: its action is under way and cannot be cancelled; "
                "merge once it is verified or undone"
            )
        if self._state.terminal or self._state is IncidentState.DRAFTING_POSTMORTEM:
            raise ValueError(f"{me} has ended ({self._state.value}); there is nothing to merge")

    @workflow.update(name="absorb")
    def absorb(self, msg: IncidentMoved) -> int:
        """Take alerts merged or split into this incident; returns its alert count."""
        for alert in msg.alerts:
            self._alerts.setdefault(alert.fingerprint, alert)
        self._services += [s for s in msg.services if s not in self._services]
        self._show_details()
        verb = "merged in from" if msg.kind == "merged_from" else "split out of"
        self._event(
            TimelineKind.CORRELATION,
            msg.by,
            f"{len(msg.alerts)} alert(s) {verb} {msg.other_id}"
            + (f": {msg.reason}" if msg.reason else ""),
        )
        return len(self._alerts)

    @workflow.update(name="split_out")
    def split_out(self, req: SplitRequest) -> IncidentMoved:
        """Move alerts out of this incident; the caller opens the new incident with them.

        The same split asked again (a command re-run after a crash) returns the alerts it moved
        and records nothing new, so the caller can finish opening the new incident.
        """
        key = split_key(req.fingerprints)
        done = self._splits.get(key)
        if done is not None and not any(fp in self._alerts for fp in req.fingerprints):
            return done
        moved = [
            self._alerts.pop(fp) for fp in dict.fromkeys(req.fingerprints) if fp in self._alerts
        ]
        into = f" into {req.into}" if req.into else ""
        self._event(
            TimelineKind.CORRELATION,
            req.by,
            f"split {len(moved)} alert(s) out{into} ({', '.join(a.name for a in moved)})"
            + (f": {req.reason}" if req.reason else ""),
        )
        self._splits[key] = IncidentMoved(
            incident_id=self._incident.id,
            other_id=req.into,
            alerts=moved,
            by=req.by,
            reason=req.reason,
            kind="split_out",
        )
        return self._splits[key]

    @split_out.validator
    def _validate_split_out(self, req: SplitRequest) -> None:
        me = self._incident.id
        if req.into == me:
            raise ValueError(f"{me} cannot be split into itself")
        if split_key(req.fingerprints) in self._splits and not any(
            fp in self._alerts for fp in req.fingerprints
        ):
            return  # the same split again: answered with what it moved the first time
        unknown = [fp for fp in req.fingerprints if fp not in self._alerts]
        if unknown:
            raise ValueError(
                f"not alerts of {me}: {', '.join(unknown)}; its alerts' fingerprints are in "
                f"`incidentflow show {me} --json` (incident.alerts[].fingerprint)"
            )
        if set(self._alerts) <= set(req.fingerprints):
            raise ValueError(
                f"a split must leave at least one alert in {me}: name fewer --alert "
                "fingerprints (to move every alert elsewhere, use `incidentflow merge`)"
            )


def split_key(fingerprints: list[str]) -> str:
    """One split's identity: its fingerprints, sorted and without repeats."""
    return ",".join(sorted(set(fingerprints)))
