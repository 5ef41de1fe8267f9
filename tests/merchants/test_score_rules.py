"""The experience score's arithmetic (RULES §11), without a database."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from merchants.rules import SCORE_METRICS, ScoreBand, ScoreRules, band_points, experience_score

D = Decimal
RULES = ScoreRules(
    bands={
        "quality_return_rate": ScoreBand(good=D("0.01"), bad=D("0.10")),
        "complaint_rate": ScoreBand(good=D("0.005"), bad=D("0.05")),
        "spot_check_pass_rate": ScoreBand(good=D("1"), bad=D("0.5")),
        "late_dispatch_rate": ScoreBand(good=D("0.01"), bad=D("0.10")),
        "valid_tracking_rate": ScoreBand(good=D("0.99"), bad=D("0.90")),
        "pickup_hours": ScoreBand(good=D("24"), bad=D("72")),
        "delivery_attainment": ScoreBand(good=D("0.95"), bad=D("0.70")),
        "reply_3min_rate": ScoreBand(good=D("0.90"), bad=D("0.50")),
        "avg_response_seconds": ScoreBand(good=D("30"), bad=D("180")),
    },
    weights={"product": D("0.4"), "logistics": D("0.3"), "service": D("0.3")},
)
PERFECT = {
    "quality_return_rate": D("0"),
    "complaint_rate": D("0"),
    "spot_check_pass_rate": D("1"),
    "late_dispatch_rate": D("0"),
    "valid_tracking_rate": D("1"),
    "pickup_hours": D("10"),
    "delivery_attainment": D("1"),
    "reply_3min_rate": D("1"),
    "avg_response_seconds": D("12"),
}
WORST = {
    **{m: D("1") for m in SCORE_METRICS},
    "spot_check_pass_rate": D("0"),
    "valid_tracking_rate": D("0"),
    "delivery_attainment": D("0"),
    "reply_3min_rate": D("0"),
    "pickup_hours": D("500"),
    "avg_response_seconds": D("900"),
}


def score(metrics, *, paid=100, negative=0, fraud=0):
    return experience_score(
        metrics=metrics,
        paid_orders=paid,
        negative_service_events=negative,
        fraudulent_dispatch_violations=fraud,
        rules=RULES,
    )


def test_bands_run_linearly_between_bad_and_good_whichever_way_is_better():
    late = ScoreBand(good=D("0.01"), bad=D("0.10"))  # lower is better
    assert band_points(D("0.01"), late) == D("100")
    assert band_points(D("0.10"), late) == D("0")
    assert band_points(D("0.055"), late) == D("50")
    assert band_points(D("0.5"), late) == D("0")
    reply = ScoreBand(good=D("0.90"), bad=D("0.50"))  # higher is better
    assert band_points(D("0.70"), reply) == D("50")
    assert band_points(D("1"), reply) == D("100")
    assert band_points(None, reply) is None


def test_a_perfect_store_scores_100_and_the_worst_50():
    assert score(PERFECT).score == D("100.00")
    assert score(WORST).score == D("50.00")


def test_the_parts_and_their_weights():
    metrics = {**PERFECT, "late_dispatch_rate": D("0.10"), "valid_tracking_rate": D("0.90")}
    parts = score(metrics)
    assert (parts.product, parts.logistics, parts.service) == (D("100.00"), D("50.00"), D("100.00"))
    # 50 + 50 × (0.4×100 + 0.3×50 + 0.3×100) = 50 + 50 × 0.85
    assert parts.score == D("92.50")


def test_deductions_three_per_negative_service_at_most_fifteen_and_fifteen_per_fraud():
    assert score(PERFECT, negative=2).score == D("94.00")
    assert score(PERFECT, negative=9).deductions == D("15.00")
    assert score(PERFECT, negative=9).score == D("85.00")
    assert score(PERFECT, fraud=1).score == D("85.00")
    assert score(PERFECT, negative=9, fraud=3).score == D("50.00")  # never below the floor


def test_fewer_than_30_paid_orders_sit_at_70_whatever_the_figures():
    assert score(WORST, paid=29).score == D("70.00")
    assert score(WORST, paid=29).growth_stage is True
    assert score(PERFECT, paid=0).score == D("70.00")
    assert score(PERFECT, paid=30).score == D("100.00")


def test_a_part_with_nothing_to_judge_is_full():
    parts = score({"late_dispatch_rate": D("0.10")})
    assert (parts.product, parts.logistics, parts.service) == (D("100.00"), D("0.00"), D("100.00"))


@given(
    values=st.fixed_dictionaries(
        {m: st.one_of(st.none(), st.decimals(min_value=0, max_value=1000, places=4)) for m in SCORE_METRICS}
    ),
    paid=st.integers(min_value=0, max_value=10_000),
    negative=st.integers(min_value=0, max_value=100),
    fraud=st.integers(min_value=0, max_value=10),
)
def test_the_score_is_always_between_50_and_100_with_two_places(values, paid, negative, fraud):
    parts = score(values, paid=paid, negative=negative, fraud=fraud)
    assert D("50") <= parts.score <= D("100")
    assert parts.score == parts.score.quantize(D("0.01"))
    for part in (parts.product, parts.logistics, parts.service):
        assert D("0") <= part <= D("100")
