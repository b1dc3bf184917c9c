"""The baseline of bench/pipeline.py: a bare workflow with as many no-op activities as the
pipeline runs before its plan awaits approval (detect, correlate, investigate, plan)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

NOOP_ACTIVITIES = 4


@activity.defn(name="bench_noop")
async def noop(step: int) -> int:
    """Does nothing; returns its input."""
    return step


@workflow.defn(name="BenchBareWorkflow")
class BareWorkflow:
    """Started by signal-with-start like the alert stream; runs no-op activities in a row.

    Its input names the task queue of the activities: the workflow's own (where the SDK may
    dispatch them eagerly) or a separate one, as IncidentFlow's credential split requires.
    """

    def __init__(self) -> None:
        self._signalled = False

    @workflow.signal(name="go")
    def go(self, _: str) -> None:
        self._signalled = True

    @workflow.run
    async def run(self, activity_queue: str) -> int:
        await workflow.wait_condition(lambda: self._signalled)
        for step in range(NOOP_ACTIVITIES):
            await workflow.execute_activity(
                noop,
                step,
                task_queue=activity_queue or None,
                start_to_close_timeout=timedelta(seconds=30),
            )
        return NOOP_ACTIVITIES
