"""Totals over cases, the per fault type breakdown, the spread over repeats, and the table."""

from __future__ import annotations

import statistics
from typing import Any

from incidentflow.eval.score import CaseScore, ExpectedScore

# The figures `--repeat` reports the spread of (keys of `totals`).
HEADLINE = (
    "root_cause_at_1",
    "root_cause_at_3",
    "root_cause_at_5",
    "mrr",
    "fault_type_accuracy",
    "action_match",
)


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _ranks(verdicts: list[ExpectedScore]) -> dict[str, Any]:
    n = len(verdicts)

    def at(k: int) -> float | None:
        return sum(1 for v in verdicts if v.rank is not None and v.rank <= k) / n if n else None

    return {
        "incidents": n,
        "at_1": at(1),
        "at_3": at(3),
        "at_5": at(5),
        "mrr": sum(1 / v.rank for v in verdicts if v.rank) / n if n else None,
        "fault_type_accuracy": _share([v.fault_type_ok for v in verdicts]),
    }


def totals(cases: list[CaseScore]) -> dict[str, Any]:
    """Micro-averaged figures: pairs pooled over fault cases, expected incidents pooled."""
    faults = [c for c in cases if not c.control and c.grouping_scored]
    tp = sum(c.pairs["both"] for c in faults)
    got = sum(c.pairs["predicted"] for c in faults)
    want = sum(c.pairs["expected"] for c in faults)
    precision = tp / got if got else None
    recall = tp / want if want else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision and recall
        else (0.0 if precision is not None and recall is not None else None)
    )
    verdicts = [v for c in cases for v in c.expected]
    ranks = _ranks(verdicts)
    actions = [f for c in cases for f in c.action_ok]
    times = [t for c in cases for t in c.seconds_to_proposal]
    controls = [c for c in cases if c.control]
    return {
        "cases": len(cases),
        "errors": sum(1 for c in cases if c.error),
        "grouping": {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "cases_scored": len(faults),
        },
        "root_cause_at_1": ranks["at_1"],
        "root_cause_at_3": ranks["at_3"],
        "root_cause_at_5": ranks["at_5"],
        "mrr": ranks["mrr"],
        "fault_type_accuracy": ranks["fault_type_accuracy"],
        "action_match": _share(actions),
        "action_scored": len(actions),
        "expected_incidents": len(verdicts),
        "no_incident_for_fault": sum(1 for v in verdicts if v.matched is None),
        "controls": len(controls),
        "incidents_opened_on_controls": sum(c.incidents_opened for c in controls),
        "control_pairs_grouped": sum(c.pairs["predicted"] for c in controls),
        "seconds_to_proposal": {
            "median": statistics.median(times) if times else None,
            "max": max(times) if times else None,
        },
        "by_fault_type": by_fault_type(verdicts),
        "engines": _engines(cases),
    }


def by_fault_type(verdicts: list[ExpectedScore]) -> dict[str, dict[str, Any]]:
    """@1/@3/@5, MRR and type accuracy per fault type (the data set's own label if it has one)."""
    groups: dict[str, list[ExpectedScore]] = {}
    for v in verdicts:
        groups.setdefault(v.source_fault_type or v.fault_type, []).append(v)
    return {name: _ranks(group) for name, group in sorted(groups.items())}


def spread(runs: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Min, mean and max of each headline figure over repeated runs of the same bundles."""
    out: dict[str, dict[str, float | None]] = {}
    for key in (*HEADLINE, "grouping.f1", "incidents_opened_on_controls"):
        head, _, sub = key.partition(".")
        values = [r[head][sub] if sub else r[head] for r in runs]
        known = [float(v) for v in values if v is not None]
        out[key] = {
            "min": min(known) if known else None,
            "mean": statistics.fmean(known) if known else None,
            "max": max(known) if known else None,
        }
    return out


def disagreements(runs: list[list[CaseScore]]) -> list[str]:
    """Bundles whose incidents or ranked answers differ between repeated runs."""
    out: list[str] = []
    for same in zip(*runs, strict=True):
        answers = {_answer(c) for c in same}
        if len(answers) > 1:
            out.append(same[0].bundle)
    return out


def _answer(case: CaseScore) -> str:
    incidents = sorted(
        (tuple(sorted(o.fingerprints)), tuple((h.service, h.fault_type) for h in o.hypotheses))
        for o in case.observed
    )
    return repr(incidents)


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


def _rank(case: CaseScore) -> str:
    if not case.expected:
        return "-"
    return ",".join("-" if v.rank is None else str(v.rank) for v in case.expected)


def table(cases: list[CaseScore], total: dict[str, Any]) -> str:
    """Per case, then in total, as a person reads it in a terminal."""
    head = f"{'bundle':34} {'inc':>3} {'P':>5} {'R':>5} {'F1':>5} {'rank':>5} "
    head += f"{'type':>5} {'act':>5} {'t(s)':>6}"
    lines = [head, "-" * len(head)]
    for c in cases:
        t = f"{max(c.seconds_to_proposal):6.1f}" if c.seconds_to_proposal else "     -"
        name = c.bundle + (" (control)" if c.control else "")
        lines.append(
            f"{name[:34]:34} {c.incidents_opened:>3} {_pct(c.precision):>5} {_pct(c.recall):>5} "
            f"{_pct(c.f1):>5} {_rank(c):>5} "
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
    return "\n".join([*lines, "-" * len(head), summary(total)])


def summary(total: dict[str, Any]) -> str:
    """The totals in a few lines, with the per fault type breakdown."""
    g = total["grouping"]
    ttp = total["seconds_to_proposal"]
    lines = [
        f"cases {total['cases']} ({total['controls']} controls, {total['errors']} errors); "
        f"expected incidents {total['expected_incidents']} "
        f"({total['no_incident_for_fault']} with no incident holding their alerts)",
        f"alert grouping (pairwise, {g['cases_scored']} fault cases): precision "
        f"{_pct(g['precision'])}, recall {_pct(g['recall'])}, F1 {_pct(g['f1'])}",
        f"root cause service: @1 {_pct(total['root_cause_at_1'])}, @3 "
        f"{_pct(total['root_cause_at_3'])}, @5 {_pct(total['root_cause_at_5'])}, MRR "
        + ("-" if total["mrr"] is None else f"{total['mrr']:.2f}")
        + f"; fault type {_pct(total['fault_type_accuracy'])}",
        f"proposed action matches {_pct(total['action_match'])} "
        f"(of {total['action_scored']} incidents with accepted actions)",
        f"incidents opened on controls: {total['incidents_opened_on_controls']} "
        f"({total['control_pairs_grouped']} alert pairs grouped)",
        *_engine_lines(total["engines"]),
        "time to proposal (s): "
        + (
            f"median {ttp['median']:.1f}, max {ttp['max']:.1f}"
            if ttp["median"] is not None
            else "-"
        ),
    ]
    if len(total["by_fault_type"]) > 1:
        lines.append("by fault type:            n    @1    @3    @5   MRR  type")
        for name, r in total["by_fault_type"].items():
            mrr = "   -" if r["mrr"] is None else f"{r['mrr']:5.2f}"
            lines.append(
                f"  {name:22} {r['incidents']:>3} {_pct(r['at_1']):>5} {_pct(r['at_3']):>5} "
                f"{_pct(r['at_5']):>5} {mrr:>5} {_pct(r['fault_type_accuracy']):>5}"
            )
    return "\n".join(lines)


def spread_lines(spreads: dict[str, dict[str, float | None]], runs: int, differ: list[str]) -> str:
    """`--repeat`: each headline figure's min, mean and max, and the bundles that changed."""
    lines = [f"over {runs} runs:          min   mean    max"]
    for key, s in spreads.items():
        cells = " ".join("     -" if v is None else f"{v:6.3f}" for v in s.values())
        lines.append(f"  {key:22} {cells}")
    lines.append(
        f"bundles whose incidents or ranked answers changed: {len(differ)}"
        + (f" ({', '.join(differ[:10])}{', ...' if len(differ) > 10 else ''})" if differ else "")
    )
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
