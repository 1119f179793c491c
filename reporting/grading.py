"""Severity grading, pure (SPEC rule 9, Regulation 493 Art. 3 — 《生产安全事故报告和调查处理条例》第三条).

特别重大 (I): ≥30 deaths, or ≥100 serious injuries, or ≥ ¥100M direct loss;
重大 (II): ≥10 deaths, ≥50 serious injuries, ≥ ¥50M; 较大 (III): ≥3 deaths, ≥10 serious injuries, ≥ ¥10M;
一般 (IV): any casualty or loss below that; otherwise 未达分级 (below grading). The grade is the highest any measure
reaches. A human may raise the grade, never set it lower than the computed one.

Only serious injuries (重伤, ``serious_injuries``) count toward the injury thresholds; every injured person
(受伤, ``injuries``, the seriously injured among them) is a casualty, so light injuries alone grade IV at most.
"""

from __future__ import annotations

GRADES_LOW_TO_HIGH = ("below", "IV", "III", "II", "I")

# (grade, deaths, serious injuries, direct loss in yuan): the lower bound of each grade, highest first.
THRESHOLDS = (
    ("I", 30, 100, 100_000_000),
    ("II", 10, 50, 50_000_000),
    ("III", 3, 10, 10_000_000),
)


def compute_grade(*, deaths: int, injuries: int, serious_injuries: int, direct_loss_yuan: int, missing: int = 0) -> str:
    """The grade the figures reach. ``serious_injuries`` (重伤) are Art. 3's measure; ``injuries`` (受伤, all the
    injured) and ``missing`` only make it a casualty (IV)."""
    for grade, min_deaths, min_serious, min_loss in THRESHOLDS:
        if deaths >= min_deaths or serious_injuries >= min_serious or direct_loss_yuan >= min_loss:
            return grade
    if deaths or injuries or serious_injuries or missing or direct_loss_yuan:
        return "IV"
    return "below"


def rank(grade: str) -> int:
    """0 for 'below' up to 4 for I; raises ValueError on an unknown grade."""
    return GRADES_LOW_TO_HIGH.index(grade)


def is_lower(grade: str, than: str) -> bool:
    return rank(grade) < rank(than)


def at_least(grade: str, threshold: str) -> bool:
    return rank(grade) >= rank(threshold)


def effective_grade(
    *, requested: str | None, computed: str, current: str | None = None, current_computed: str | None = None
) -> str:
    """The grade to store: ``requested`` (a human's choice, never lower than ``computed``), else the computed one,
    else — when the figures change — the stored ``current`` grade if a human had raised it (it was above the grade
    computed when it was set, ``current_computed``) and it is still not lower than the new computed grade. A grade
    that merely followed the figures follows them down as well as up (SPEC rule 9: recomputed when the figures change).

    Raises ValueError when ``requested`` is lower than ``computed``.
    """
    if requested is not None:
        if is_lower(requested, computed):
            raise ValueError(f"grade {requested} is lower than the computed grade {computed}")
        return requested
    if current is None or current_computed is None:
        return computed
    raised_by_hand = is_lower(current_computed, current)
    return current if raised_by_hand and not is_lower(current, computed) else computed
