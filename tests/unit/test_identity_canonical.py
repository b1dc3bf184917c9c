"""Canonical identities (issue 19 item 3): one spelling per person, look-alikes refused.

Each bypass tried against `incidentflow up` has a test: `alice` then `Alice`, `alice` then
`alice` + zero-width space (the two-person rule), a Cyrillic `\u0430` in `\u0430lice`, and a
trailing space; plus the neighbours an attacker would try next.
"""

from __future__ import annotations

import pytest

from incidentflow.identity.canonical import (
    NotAnIdentity,
    canonical,
    canonical_or_none,
    same_person,
)
from incidentflow.models import ApprovalPolicy, Risk

ZWSP, ZWJ, ZWNJ, WJ, BOM, SHY = "\u200b", "\u200d", "\u200c", "\u2060", "\ufeff", "\u00ad"
CYRILLIC_A = "\u0430"


@pytest.mark.parametrize(
    "spelling",
    [
        "Alice",
        "ALICE",
        "alice ",
        " alice\t",
        f"alice{ZWSP}",
        f"al{ZWJ}ice",
        f"{BOM}alice",
        f"ali{ZWNJ}ce{WJ}",
        f"al{SHY}ice",
        "a l i c e",
        "\uff41\uff4c\uff49\uff43\uff45",  # full-width
        "\U0001d41a\U0001d425\U0001d422\U0001d41c\U0001d41e",  # mathematical bold
        "alice\u202e",  # a bidi override
    ],
)
def test_every_spelling_of_alice_is_alice(spelling: str) -> None:
    assert canonical(spelling) == "alice"
    assert same_person(spelling, "alice")


@pytest.mark.parametrize(
    "look_alike",
    [
        f"{CYRILLIC_A}lice",  # the one tried: Cyrillic a
        "\u0430\u0441\u0435",  # all-Cyrillic "ace"
        "b\u03bfb",  # Greek omicron in bob
        "ali\u0307ce",  # a combining dot on the i
        "ALİCE",  # Turkish dotted capital I folds to i + combining dot
    ],
)
def test_look_alikes_are_refused(look_alike: str) -> None:
    with pytest.raises(NotAnIdentity, match="look-alike"):
        canonical(look_alike)
    assert canonical_or_none(look_alike) is None
    assert not same_person(look_alike, "alice")


@pytest.mark.parametrize("empty", ["", "   ", ZWSP * 3, f"{BOM}{SHY}"])
def test_a_name_with_nothing_visible_is_no_one(empty: str) -> None:
    with pytest.raises(NotAnIdentity, match="no visible"):
        canonical(empty)


def test_names_in_other_scripts_and_accents_are_kept() -> None:
    assert canonical("\u0430\u043b\u0438\u0441\u0430") == "\u0430\u043b\u0438\u0441\u0430"
    assert canonical("José") == canonical("Jose\u0301") == "josé"
    assert canonical("Alice@Example.COM") == "alice@example.com"
    assert not same_person("alice", "alicia")


def test_two_person_rule_compares_canonical_identities() -> None:
    policy = ApprovalPolicy(approvers={Risk.HIGH: ["alice", "bob"]}, two_person=[Risk.HIGH])
    # The bypasses: the same person twice under another spelling.
    assert policy.refusal("Alice", Risk.HIGH, ["alice"]) is not None
    assert policy.refusal(f"alice{ZWSP}", Risk.HIGH, ["alice"]) is not None
    assert policy.refusal("alice", Risk.HIGH, [" ALICE "]) is not None
    # A look-alike is nobody, and an outsider is refused.
    assert "may not approve" in (policy.refusal(f"{CYRILLIC_A}lice", Risk.HIGH, []) or "")
    assert "may not approve" in (policy.refusal("mallory", Risk.HIGH, []) or "")
    # A different listed person counts.
    assert policy.refusal("Bob", Risk.HIGH, ["alice"]) is None


def test_anyone_policy_still_refuses_look_alikes_and_repeats() -> None:
    policy = ApprovalPolicy()  # "*" for every risk
    assert policy.refusal("anyone", Risk.LOW, []) is None
    assert policy.refusal(f"{CYRILLIC_A}lice", Risk.LOW, []) is not None
    assert policy.refusal("ALICE", Risk.HIGH, ["alice"]) is not None
