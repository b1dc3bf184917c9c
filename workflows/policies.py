"""Named timeouts and retry policies for the activities the workflows run, each with its reason.

Deterministic module: constants only.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# Detection and correlation are CPU-only over one batch: seconds, never minutes.
STREAM_AGENT_TIMEOUT = timedelta(seconds=60)
# Investigation reads evidence sources that may be slow (Prometheus, Loki range queries).
INVESTIGATION_TIMEOUT = timedelta(minutes=10)
# A live investigation heartbeats; a worker that died is noticed within this.
INVESTIGATION_HEARTBEAT = timedelta(seconds=10)
# Planning and drafting are local computations over one artifact.
PLANNING_TIMEOUT = timedelta(minutes=2)
POSTMORTEM_TIMEOUT = timedelta(minutes=5)
# Executing waits for a rollout to finish; `kubectl rollout status` defaults to minutes.
EXECUTE_TIMEOUT = timedelta(minutes=15)

# The remediation worker heartbeats while acting; a crashed one is noticed within this and the
# retry finds the ledger entry instead of acting twice.
EXECUTE_HEARTBEAT = timedelta(seconds=10)

# Agents are retried a few times with backoff; after that the incident parks for a person.
AGENT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
)
# The stream must not lose a batch: retry detection and correlation until they succeed.
STREAM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
)
# Executing is idempotent through the ledger, so retries are safe; cap them to park for a person.
EXECUTE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=10,
)

# A PromQL verification is one instant query; a slow Prometheus is retried on the next poll.
VERIFY_CHECK_TIMEOUT = timedelta(seconds=30)
VERIFY_CHECK_RETRY = RetryPolicy(maximum_attempts=2)
# Notifications are best effort: a few tries, then the timeline says it was not sent.
NOTIFY_TIMEOUT = timedelta(seconds=30)
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
)
# Reading the approval policy and notifier settings is a local computation in the worker.
CONFIG_TIMEOUT = timedelta(seconds=30)
