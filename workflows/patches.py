"""The one registry of workflow patches: every `patched` id the workflows use is listed here.

Version 0.1 restarts the versioning discipline: no deployment held open incidents, so the
four patches of the 0.0 line were removed with their recordings and the replay corpus was
recorded afresh (tests/histories/). From here on a change that would break the replay of an
open workflow goes through three stages, each its own release (docs/production.md):

1. patch: `if patches.patched(ID): new else: old`, with ID added to PATCHES below;
2. deprecate: once no open workflow started before stage 1, `patches.deprecated(ID)` and
   only the new code (the marker is still written, so histories from stage 1 replay);
3. remove: once no open workflow started before stage 2, drop the call and the entry.

tests/unit/test_patches.py fails when a workflow calls `workflow.patched` or
`workflow.deprecate_patch` directly, or names an id this registry does not hold.

Deterministic module: constants and thin wrappers over the SDK.
"""

from __future__ import annotations

from temporalio import workflow

# id -> what the patch changes, and the release that added it. Empty: 0.1 starts from zero.
PATCHES: dict[str, str] = {}


class UnregisteredPatch(KeyError):
    """A patch id that is not in PATCHES (a programming error, caught by the unit test)."""


def _known(patch_id: str) -> str:
    if patch_id not in PATCHES:
        raise UnregisteredPatch(f"patch {patch_id!r} is not registered in workflows/patches.py")
    return patch_id


def patched(patch_id: str) -> bool:
    """Stage 1: True on new runs (and replays of them), False on runs started before."""
    return workflow.patched(_known(patch_id))


def deprecated(patch_id: str) -> None:
    """Stage 2: the old branch is gone; histories written in stage 1 still replay."""
    workflow.deprecate_patch(_known(patch_id))
