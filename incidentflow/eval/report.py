"""Totals over cases, and the table `incidentflow eval` prints."""

from __future__ import annotations

import statistics
from typing import Any

from incidentflow.eval.score import CaseScore


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def totals(cases: list[CaseScore]) -> dict[str, Any]:
    """Micro-averaged figures over every case (pairs and expected incidents pooled)."""
    tp = sum(c.pairs["both"] for c in cases)
    got = sum(c.pairs["predicted"] for c in cases)
    want = sum(c.pairs["expected"] for c in cases)
    precision = tp / got if got else None
    recall = tp / want if want else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision and recall
        else (0.0 if precision is not None and recall is not None else None)
    )
    flags = {
        key: [f for c in cases for f in getattr(c, key)]
        for key in ("rc_at_1", "rc_at_3", "fault_type_ok", "action_ok")
    }
    times = [t for c in cases for t in c.seconds_to_proposal]
    controls = [c for c in cases if c.control]
    return {
        "cases": len(cases),
        "errors": sum(1 for c in cases if c.error),
        "grouping": {"precision": precision, "recall": recall, "f1": f1},
        "root_cause_at_1": _share(flags["rc_at_1"]),
        "root_cause_at_3": _share(flags["rc_at_3"]),
        "fault_type_accuracy": _share(flags["fault_type_ok"]),
        "action_match": _share(flags["action_ok"]),
        "expected_incidents": len(flags["rc_at_1"]),
        "controls": len(controls),
        "incidents_opened_on_controls": sum(c.incidents_opened for c in controls),
        "seconds_to_proposal": {
            "median": statistics.median(times) if times else None,
            "max": max(times) if times else None,
        },
        "engines": _engines(cases),
    }


def _engines(cases: list[CaseScore]) -> dict[str, Any]:
    """Answers per agent and engine, fallbacks to rules, and what the model cost."""
    answers: dict[str, int] = {}
    for c in cases:
        for key, n in c.engines.items():
            answers[key] = answers.get(key, 0) + n
    return {
        "answers": dict(sorted(answers.items())),
        "fallbacks": sum(len(c.fallbacks) for c in cases),
        "llm_calls": sum(c.llm_calls for c in cases),
        "llm_tokens": sum(c.llm_tokens for c in cases),
        "llm_seconds": round(sum(c.llm_ms for c in cases) / 1000, 2),
    }


def _pct(value: float | None) -> str:
    return "   -" if value is None else f"{value * 100:3.0f}%"


def _flags(flags: list[bool]) -> str:
    return "-" if not flags else f"{sum(flags)}/{len(flags)}"


def table(cases: list[CaseScore], total: dict[str, Any]) -> str:
    """Per case, then in total, as a person reads it in a terminal."""
    head = f"{'bundle':34} {'inc':>3} {'P':>5} {'R':>5} {'F1':>5} {'rc@1':>5} {'rc@3':>5} "
    head += f"{'type':>5} {'act':>5} {'t(s)':>6}"
    lines = [head, "-" * len(head)]
    for c in cases:
        t = f"{max(c.seconds_to_proposal):6.1f}" if c.seconds_to_proposal else "     -"
        name = c.bundle + (" (control)" if c.control else "")
        lines.append(
            f"{name[:34]:34} {c.incidents_opened:>3} {_pct(c.precision):>5} {_pct(c.recall):>5} "
            f"{_pct(c.f1):>5} {_flags(c.rc_at_1):>5} {_flags(c.rc_at_3):>5} "
            f"{_flags(c.fault_type_ok):>5} {_flags(c.action_ok):>5} {t}"
        )
        for d in c.detail:
            lines.append(f"    {d}")
        if c.llm_calls or c.fallbacks:
            lines.append(f"    llm: {c.llm_calls} call(s), {c.llm_tokens} tokens")
        for f in c.fallbacks:
            lines.append(f"    rules answered: {f}")
        if c.error:
            lines.append(f"    error: {c.error}")
    g = total["grouping"]
    ttp = total["seconds_to_proposal"]
    lines += [
        "-" * len(head),
        f"cases {total['cases']} ({total['controls']} controls, {total['errors']} errors); "
        f"expected incidents {total['expected_incidents']}",
        f"alert grouping (pairwise): precision {_pct(g['precision'])}, recall "
        f"{_pct(g['recall'])}, F1 {_pct(g['f1'])}",
        f"root cause service: @1 {_pct(total['root_cause_at_1'])}, @3 "
        f"{_pct(total['root_cause_at_3'])}; fault type {_pct(total['fault_type_accuracy'])}; "
        f"proposed action matches {_pct(total['action_match'])}",
        f"incidents opened on controls: {total['incidents_opened_on_controls']}",
        *_engine_lines(total["engines"]),
        "time to proposal (s): "
        + (
            f"median {ttp['median']:.1f}, max {ttp['max']:.1f}"
            if ttp["median"] is not None
            else "-"
        ),
    ]
    return "\n".join(lines)


def _engine_lines(engines: dict[str, Any]) -> list[str]:
    if not engines["llm_calls"] and not engines["fallbacks"]:
        return []
    answered = ", ".join(f"{k} {n}" for k, n in engines["answers"].items())
    return [
        f"engines: {answered}; {engines['fallbacks']} fallback(s) to rules",
        f"llm: {engines['llm_calls']} call(s), {engines['llm_tokens']} tokens, "
        f"{engines['llm_seconds']:.1f} s",
    ]
