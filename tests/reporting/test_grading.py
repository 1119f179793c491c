"""Severity grading (Regulation 493 Art. 3, SPEC rule 9), pure and table-driven."""

import pytest

from reporting import grading


def grade(deaths=0, injuries=0, serious=0, loss=0, missing=0):
    """``serious`` are of the ``injuries``: the injured count at least the seriously injured, as the services keep."""
    return grading.compute_grade(
        deaths=deaths,
        injuries=max(injuries, serious),
        serious_injuries=serious,
        direct_loss_yuan=loss,
        missing=missing,
    )


@pytest.mark.parametrize(
    ("deaths", "expected"),
    [(0, "below"), (1, "IV"), (2, "IV"), (3, "III"), (9, "III"), (10, "II"), (29, "II"), (30, "I"), (31, "I")],
)
def test_deaths_boundaries(deaths, expected):
    assert grade(deaths=deaths) == expected


@pytest.mark.parametrize(
    ("serious", "expected"),
    [(1, "IV"), (9, "IV"), (10, "III"), (49, "III"), (50, "II"), (99, "II"), (100, "I"), (101, "I")],
)
def test_serious_injury_boundaries(serious, expected):
    assert grade(serious=serious) == expected
    # However many lightly injured there are besides.
    assert grade(injuries=serious + 500, serious=serious) == expected


@pytest.mark.parametrize("injuries", [1, 9, 10, 49, 50, 99, 100, 10_000])
def test_light_injuries_alone_are_a_casualty_never_more_than_iv(injuries):
    """Art. 3 counts serious injuries (重伤): 50 lightly injured are 一般 (IV), not 重大 (II)."""
    assert grade(injuries=injuries) == "IV"


@pytest.mark.parametrize(
    ("loss", "expected"),
    [
        (1, "IV"),
        (9_999_999, "IV"),
        (10_000_000, "III"),
        (49_999_999, "III"),
        (50_000_000, "II"),
        (99_999_999, "II"),
        (100_000_000, "I"),
    ],
)
def test_direct_loss_boundaries(loss, expected):
    assert grade(loss=loss) == expected


@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        # The highest grade any measure reaches wins.
        ({"deaths": 2, "serious": 10}, "III"),
        ({"deaths": 3, "serious": 50}, "II"),
        ({"deaths": 1, "loss": 100_000_000}, "I"),
        ({"deaths": 30, "serious": 1, "loss": 1}, "I"),
        ({"deaths": 9, "serious": 49, "loss": 49_999_999}, "III"),
        ({"deaths": 2, "serious": 9, "loss": 9_999_999}, "IV"),
        # Only the seriously injured count toward the injury thresholds.
        ({"deaths": 2, "injuries": 120, "serious": 9}, "IV"),
        ({"deaths": 3, "injuries": 120, "serious": 49}, "III"),
        # Only missing persons: a casualty, so graded IV.
        ({"missing": 1}, "IV"),
        ({}, "below"),
    ],
)
def test_highest_measure_wins(figures, expected):
    assert grade(**figures) == expected


@pytest.mark.parametrize(
    ("requested", "computed", "current", "current_computed", "expected"),
    [
        (None, "III", None, None, "III"),
        ("II", "III", None, None, "II"),  # a human may raise it
        ("III", "III", None, None, "III"),
        ("I", "below", None, None, "I"),
        (None, "III", "I", "IV", "I"),  # a human's raise (I over a computed IV) is kept while it stays above
        (None, "II", "III", "IV", "II"),  # new figures above a human's grade raise it
        (None, "II", "III", "III", "II"),  # a grade that followed the figures follows them up
        (None, "IV", "IV", "IV", "IV"),
        (None, "below", "III", "III", "below"),  # ... and down: figures corrected from 3 deaths to none
        (None, "IV", "II", "II", "IV"),
        (None, "below", "III", "IV", "III"),  # a human's III stays when the figures fall further
        (None, "IV", "III", None, "IV"),  # nothing known of how it was set: the computed grade
    ],
)
def test_effective_grade(requested, computed, current, current_computed, expected):
    assert (
        grading.effective_grade(
            requested=requested, computed=computed, current=current, current_computed=current_computed
        )
        == expected
    )


@pytest.mark.parametrize(("requested", "computed"), [("IV", "III"), ("below", "IV"), ("II", "I")])
def test_a_human_may_never_lower_the_computed_grade(requested, computed):
    with pytest.raises(ValueError, match="lower than the computed grade"):
        grading.effective_grade(requested=requested, computed=computed)


@pytest.mark.parametrize(
    ("grade_", "threshold", "expected"),
    [("II", "II", True), ("I", "II", True), ("III", "II", False), ("IV", "IV", True), ("below", "IV", False)],
)
def test_at_least(grade_, threshold, expected):
    assert grading.at_least(grade_, threshold) is expected


def test_unknown_grade_is_an_error():
    with pytest.raises(ValueError):
        grading.rank("V")
