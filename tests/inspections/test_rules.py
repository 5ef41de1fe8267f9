"""Pure rules of inspections: no database."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspections.rules import (
    RiskFactors,
    RiskWeights,
    add_working_days,
    candidates_digest,
    is_working_day,
    pdf_active_content,
    retest_deadline,
    retest_window_open,
    risk_contributions,
    risk_weight,
    sniff_report_type,
    weighted_draw,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEIGHTS = RiskWeights(
    base=Decimal("1"),
    new_store=Decimal("2"),
    new_store_days=90,
    per_complaint_point=Decimal("1"),
    complaint_rate_cap=Decimal("0.05"),
    risky_category=Decimal("2"),
    per_failure=Decimal("3"),
    failure_cap=3,
)


# --- Weights --------------------------------------------------------------------------------------


def test_a_plain_listing_weighs_the_base():
    factors = RiskFactors(store_age_days=400, complaint_rate=None, risky_category=False, earlier_failures=0)
    assert risk_weight(factors, WEIGHTS) == Decimal("1")
    assert risk_contributions(factors, WEIGHTS) == {"base": Decimal("1")}


def test_every_factor_adds_its_part():
    # given a new store with a 1.5% complaint rate, a risky category and one standing failure
    factors = RiskFactors(
        store_age_days=89, complaint_rate=Decimal("0.0150"), risky_category=True, earlier_failures=1
    )

    # then each factor adds its part: 1 per percentage point of complaints, 3 for the failure, on its own
    assert risk_contributions(factors, WEIGHTS) == {
        "base": Decimal("1"),
        "new_store": Decimal("2"),
        "complaint_rate": Decimal("1.500"),
        "risky_category": Decimal("2"),
        "earlier_failures": Decimal("3"),
    }
    assert risk_weight(factors, WEIGHTS) == Decimal("9.5")


@pytest.mark.parametrize(
    ("rate", "added"),
    [
        (None, None),  # not scored yet: nothing to judge
        (Decimal("0"), None),  # no complaints: adds nothing
        (Decimal("0.0001"), Decimal("0.010")),
        (Decimal("0.0125"), Decimal("1.250")),
        (Decimal("0.05"), Decimal("5.000")),  # at the cap
        (Decimal("0.40"), Decimal("5.000")),  # beyond it: the cap
    ],
)
def test_the_complaint_rate_adds_its_weight_per_percentage_point_up_to_the_cap(rate, added):
    factors = RiskFactors(store_age_days=400, complaint_rate=rate, risky_category=False, earlier_failures=0)
    assert risk_contributions(factors, WEIGHTS).get("complaint_rate") == added


def test_the_complaint_weight_is_the_rule_tables():
    # given an administrator who doubled the weight per point and lowered the cap to 2%
    weights = RiskWeights(
        **{**WEIGHTS.__dict__, "per_complaint_point": Decimal("2"), "complaint_rate_cap": Decimal("0.02")}
    )
    factors = RiskFactors(
        store_age_days=400, complaint_rate=Decimal("0.03"), risky_category=False, earlier_failures=2
    )
    # then 2% counts at 2 per point, and the failures still add their own 3 each
    assert risk_contributions(factors, weights) == {
        "base": Decimal("1"),
        "complaint_rate": Decimal("4.000"),
        "earlier_failures": Decimal("6"),
    }


@pytest.mark.parametrize(("age", "is_new"), [(0, True), (89, True), (90, False), (365, False), (None, False)])
def test_a_store_is_new_for_the_rule_tables_days(age, is_new):
    factors = RiskFactors(store_age_days=age, complaint_rate=None, risky_category=False, earlier_failures=0)
    assert ("new_store" in risk_contributions(factors, WEIGHTS)) is is_new


def test_complaints_and_failures_count_up_to_their_caps():
    factors = RiskFactors(
        store_age_days=400, complaint_rate=Decimal("0.5"), risky_category=False, earlier_failures=9
    )
    assert risk_contributions(factors, WEIGHTS) == {
        "base": Decimal("1"),
        "complaint_rate": Decimal("5.000"),
        "earlier_failures": Decimal("9"),
    }
    assert risk_weight(factors, WEIGHTS) == Decimal("15.000")


# --- The draw -------------------------------------------------------------------------------------

candidate_sets = st.dictionaries(
    keys=st.integers(min_value=1, max_value=10**9),
    values=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("100"), places=3),
    min_size=0,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(candidates=candidate_sets, size=st.integers(min_value=0, max_value=80), seed=st.text(max_size=20))
def test_the_draw_is_reproducible_whatever_the_order_of_the_candidates(candidates, size, seed):
    items = list(candidates.items())
    shuffled = items[:]
    random.Random(len(items)).shuffle(shuffled)
    first = weighted_draw(items, size=size, seed=seed)
    assert weighted_draw(shuffled, size=size, seed=seed) == first
    assert weighted_draw(iter(reversed(items)), size=size, seed=seed) == first
    assert candidates_digest(shuffled) == candidates_digest(items)


@settings(max_examples=200, deadline=None)
@given(candidates=candidate_sets, size=st.integers(min_value=0, max_value=80), seed=st.text(max_size=20))
def test_the_draw_never_repeats_a_listing_and_respects_the_size(candidates, size, seed):
    drawn = weighted_draw(list(candidates.items()), size=size, seed=seed)
    assert len(drawn) == len(set(drawn)) == min(size, len(candidates))
    assert set(drawn) <= set(candidates)


@settings(max_examples=100, deadline=None)
@given(
    weights=st.lists(st.sampled_from([Decimal("0"), Decimal("-1"), Decimal("1")]), min_size=1, max_size=40),
    seed=st.text(max_size=10),
)
def test_a_weight_of_zero_or_less_is_never_drawn(weights, seed):
    candidates = list(enumerate(weights, start=1))
    drawn = weighted_draw(candidates, size=len(candidates), seed=seed)
    assert sorted(drawn) == [i for i, w in candidates if w > 0]


def test_the_draw_keeps_only_the_sample_in_memory_and_still_draws_the_same():
    candidates = [(i, Decimal(1 + i % 7)) for i in range(1, 20_001)]
    # 4 * size + 1024 is the pruning threshold: 20,000 candidates are pruned many times over.
    assert weighted_draw(candidates, size=5, seed="s") == weighted_draw(
        list(reversed(candidates)), size=5, seed="s"
    )


def test_a_listing_listed_twice_is_an_error():
    with pytest.raises(ValueError, match="candidate 3 is listed twice"):
        weighted_draw([(3, Decimal("1")), (3, Decimal("2"))], size=1, seed="x")


def test_heavier_listings_are_drawn_more_often():
    # One of two: the listing weighing 9 is drawn with probability 9/10.
    heavy = sum(
        weighted_draw([(1, Decimal("1")), (2, Decimal("9"))], size=1, seed=f"seed-{n}") == [2]
        for n in range(2000)
    )
    assert 1740 <= heavy <= 1860  # 1800 expected; six standard deviations either side


def test_a_different_seed_draws_differently():
    candidates = [(i, Decimal("1")) for i in range(1, 101)]
    assert weighted_draw(candidates, size=10, seed="a") != weighted_draw(candidates, size=10, seed="b")


# --- Working days ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 11, 16), 3, date(2026, 11, 19)),  # Monday → Thursday
        (date(2026, 11, 18), 3, date(2026, 11, 23)),  # Wednesday → next Monday
        (date(2026, 11, 20), 3, date(2026, 11, 25)),  # Friday → Wednesday
        (date(2026, 11, 21), 3, date(2026, 11, 25)),  # Saturday → Wednesday
        (date(2026, 11, 22), 3, date(2026, 11, 25)),  # Sunday → Wednesday
        (date(2026, 11, 20), 1, date(2026, 11, 23)),  # Friday → Monday
        (date(2026, 11, 20), 0, date(2026, 11, 20)),
    ],
)
def test_working_days_skip_weekends(start, days, expected):
    assert add_working_days(start, days) == expected


def test_a_make_up_working_day_on_a_weekend_counts():
    # National Day 2026: 1-7 October off, Saturday 10 October worked
    holidays = frozenset(date(2026, 10, day) for day in range(1, 8))
    makeup = frozenset({date(2026, 10, 10)})
    assert is_working_day(date(2026, 10, 10), holidays, makeup) is True
    assert is_working_day(date(2026, 10, 10), holidays) is False
    assert add_working_days(date(2026, 9, 30), 3, holidays, makeup) == date(2026, 10, 10)
    assert add_working_days(date(2026, 9, 30), 3, holidays) == date(2026, 10, 12)
    assert retest_deadline(
        failed_at=datetime(2026, 9, 30, 15, tzinfo=SHANGHAI),
        working_days=3,
        zone=SHANGHAI,
        holidays=holidays,
        makeup_working_days=makeup,
    ) == datetime(2026, 10, 11, tzinfo=SHANGHAI)


def test_public_holidays_are_skipped_when_given():
    holidays = frozenset({date(2026, 11, 23), date(2026, 11, 24)})
    assert add_working_days(date(2026, 11, 20), 3, holidays) == date(2026, 11, 27)
    assert is_working_day(date(2026, 11, 23), holidays) is False


def shanghai(*args):
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("failed_at", "closes"),
    [
        (shanghai(2026, 11, 16, 10, 0), shanghai(2026, 11, 20, 0, 0)),  # Monday: Tue, Wed, Thu
        (shanghai(2026, 11, 20, 23, 59), shanghai(2026, 11, 26, 0, 0)),  # Friday night: Mon, Tue, Wed
        (shanghai(2026, 11, 21, 0, 0), shanghai(2026, 11, 26, 0, 0)),  # Saturday: Mon, Tue, Wed
        (shanghai(2026, 11, 22, 23, 59), shanghai(2026, 11, 26, 0, 0)),  # Sunday: Mon, Tue, Wed
        # The same instants given in UTC: the day is the store's.
        (datetime(2026, 11, 20, 15, 59, tzinfo=UTC), shanghai(2026, 11, 26, 0, 0)),  # Fri 23:59 Shanghai
        (datetime(2026, 11, 19, 16, 0, tzinfo=UTC), shanghai(2026, 11, 26, 0, 0)),  # Fri 00:00 Shanghai
        (datetime(2026, 11, 19, 15, 59, tzinfo=UTC), shanghai(2026, 11, 25, 0, 0)),  # Thu 23:59 Shanghai
    ],
)
def test_the_retest_window_closes_at_the_end_of_the_third_working_day(failed_at, closes):
    deadline = retest_deadline(failed_at=failed_at, working_days=3, zone=SHANGHAI)
    assert deadline == closes
    assert retest_window_open(now=deadline - timedelta(microseconds=1), deadline=deadline) is True
    assert retest_window_open(now=deadline, deadline=deadline) is False


def test_the_window_is_shut_without_a_deadline():
    assert retest_window_open(now=shanghai(2026, 1, 1), deadline=None) is False


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError):
        retest_deadline(failed_at=datetime(2026, 11, 20, 10), working_days=3, zone=SHANGHAI)


@settings(max_examples=300, deadline=None)
@given(
    failed_at=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
    days=st.integers(min_value=1, max_value=15),
)
def test_the_window_holds_exactly_n_working_days_after_the_result_day(failed_at, days):
    deadline = retest_deadline(failed_at=failed_at, working_days=days, zone=SHANGHAI)
    result_day = failed_at.astimezone(SHANGHAI).date()
    last_day = deadline.astimezone(SHANGHAI).date() - timedelta(days=1)
    between = [result_day + timedelta(days=i) for i in range(1, (last_day - result_day).days + 1)]
    assert sum(is_working_day(day) for day in between) == days
    assert is_working_day(last_day)
    assert deadline.astimezone(SHANGHAI).time() == datetime.min.time()


# --- Report content -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"%PDF-1.7\n...", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"<!doctype html><script>alert(1)</script>", None),
        (b"  %PDF-1.7", None),  # the magic must open the file
        (b"\x89PNG\r\n\x1a\nGARBAGE!", None),
        (b"", None),
    ],
)
def test_reports_are_recognised_by_their_first_bytes(head, kind):
    assert sniff_report_type(head) == kind


def test_active_content_in_a_pdf_is_named():
    assert pdf_active_content(b"%PDF-1.4 << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>") == [
        "/JavaScript",
        "/JS",
    ]
    assert pdf_active_content(b"%PDF-1.4 << /Type /Catalog /JSFontName /F1 >>") == []
