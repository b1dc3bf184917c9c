"""How many stream partitions the edge may create: each is a never-ending workflow.

Issue 14: one POST with 500 distinct `environment` labels started 500 stream workflows. An
ingest process routes to at most INCIDENTFLOW_MAX_PARTITIONS partitions (the default partition
included), first come first served; an alert naming one more goes to the default partition,
with a warning naming the partition it asked for. The count is per ingest process: replicas and
restarts may each admit different names, so with several replicas keep the limit small.
"""

from __future__ import annotations

import logging

log = logging.getLogger("incidentflow.partitions")

# Refused partition names remembered so each is warned about once (bounded memory).
WARNED_KEPT = 1_000


class PartitionLimit:
    """Routes partition names: known ones as asked, new ones while there is room."""

    def __init__(self, *, limit: int, default: str) -> None:
        self._limit = limit
        self._default = default
        self._known: set[str] = {default}
        self._warned: set[str] = set()

    def route(self, wanted: str) -> str:
        """The partition an alert that asks for `wanted` goes to."""
        if wanted in self._known:
            return wanted
        if len(self._known) < self._limit:
            self._known.add(wanted)
            return wanted
        if wanted not in self._warned and len(self._warned) < WARNED_KEPT:
            self._warned.add(wanted)
            log.warning(
                "partition %r refused: already %d partitions (INCIDENTFLOW_MAX_PARTITIONS); its "
                "alerts go to the default partition %r",
                wanted,
                self._limit,
                self._default,
            )
        return self._default
