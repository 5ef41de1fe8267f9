"""Deadline, fee and masking arithmetic: no database."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.rules import (
    FeeLine,
    LateRateDay,
    LateRateRules,
    late_rate_escalation,
    line_dispatch_deadline,
    mask_address,
    mask_name,
    mask_phone,
    order_dispatch_deadline,
    promised_hours,
    service_fee,
)

SH = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.mark.parametrize(
    "paid, promise, deadline",
    [
        ("2026-11-22 10:00", "24h", "2026-11-23 10:00"),
        ("2026-11-22 23:30", "48h", "2026-11-24 23:30"),
        ("2026-11-22 10:00", "72h", "2026-11-25 10:00"),
        ("2026-11-22 15:59", "same_day", "2026-11-23 00:00"),  # before the 16:00 cut-off: today
        ("2026-11-22 16:00", "same_day", "2026-11-24 00:00"),  # at the cut-off: tomorrow
        ("2026-11-22 23:59", "same_day", "2026-11-24 00:00"),
        ("2026-11-22 00:01", "next_day", "2026-11-24 00:00"),
        ("2026-11-22 23:59", "next_day", "2026-11-24 00:00"),  # across midnight: still the day after payment
        ("2026-11-23 00:00", "next_day", "2026-11-25 00:00"),
    ],
)
def test_line_deadline_for_each_promise(paid, promise, deadline):
    assert line_dispatch_deadline(paid_at=at(paid), promise=promise, zone=SH, same_day_cutoff_hour=16) == at(
        deadline
    )


@pytest.mark.parametrize(
    "paid, promise, hours",
    [
        ("2026-11-22 00:00", "next_day", 48),  # paid at midnight: exactly 48 hours
        ("2026-11-22 00:10", "next_day", 48),  # 47 h 50 min
        ("2026-11-22 00:30", "next_day", 48),  # 47.5 h: half-up
        ("2026-11-22 00:31", "next_day", 47),
        ("2026-11-22 23:59", "next_day", 24),
        ("2026-11-22 10:00", "24h", 24),
        ("2026-11-22 10:00", "48h", 48),
        ("2026-11-22 10:00", "72h", 72),
    ],
)
def test_the_promise_in_whole_hours(paid, promise, hours):
    # given an order paid at `paid` with this promise
    deadline = line_dispatch_deadline(paid_at=at(paid), promise=promise, zone=SH, same_day_cutoff_hour=16)
    # then its promise counts as `hours`
    assert promised_hours(paid_at=at(paid), deadline=deadline) == hours


@pytest.mark.parametrize("paid", ["2026-11-22 00:00", "2026-11-22 00:10", "2026-11-22 00:30"])
def test_a_next_day_promise_that_counts_as_48_hours_is_compensated_as_up_to_48(paid):
    from merchants.rules import compensation_rule_for
    from tests.merchants.test_rules import OUT_OF_STOCK_ROWS

    # given a next-day order paid just after midnight (its promise counts as 48 hours)
    deadline = line_dispatch_deadline(paid_at=at(paid), promise="next_day", zone=SH, same_day_cutoff_hour=16)
    hours = promised_hours(paid_at=at(paid), deadline=deadline)
    # when its out-of-stock compensation row is picked, then it is "up to 48 hours" (1%)
    assert compensation_rule_for(OUT_OF_STOCK_ROWS, hours).rate == "0.01"


def test_same_day_is_judged_in_the_stores_time_zone_not_utc():
    paid_utc = datetime(2026, 11, 22, 7, 30, tzinfo=UTC)  # 15:30 in Shanghai: before the cut-off
    assert line_dispatch_deadline(
        paid_at=paid_utc, promise="same_day", zone=SH, same_day_cutoff_hour=16
    ) == at("2026-11-23 00:00")


def test_the_shortest_promise_wins():
    paid = at("2026-11-22 17:00")
    assert order_dispatch_deadline(
        paid_at=paid, promises=["72h", "next_day", "24h"], zone=SH, same_day_cutoff_hour=16
    ) == at("2026-11-23 17:00")
    assert order_dispatch_deadline(
        paid_at=paid, promises=["72h", "next_day"], zone=SH, same_day_cutoff_hour=16
    ) == at("2026-11-24 00:00")


def fee(amount, lines, *, ad=False, age=100):
    return service_fee(
        amount_paid=Decimal(amount),
        lines=lines,
        is_advertising=ad,
        store_age_days=age,
        new_store_days=30,
        new_store_rate=Decimal("0.01"),
    )


def test_fee_uses_each_lines_category_rate_on_its_share():
    lines = [FeeLine(Decimal("60"), Decimal("0.05")), FeeLine(Decimal("40"), Decimal("0.02"))]
    # paid 90 after a discount: 54 × 5% + 36 × 2% = 2.70 + 0.72
    assert fee("90.00", lines) == Decimal("3.42")


def test_new_store_pays_one_percent_on_non_advertising_orders_for_30_days():
    lines = [FeeLine(Decimal("100"), Decimal("0.05"))]
    assert fee("100.00", lines, age=0) == Decimal("1.00")
    assert fee("100.00", lines, age=29) == Decimal("1.00")
    assert fee("100.00", lines, age=30) == Decimal("5.00")
    assert fee("100.00", lines, age=10, ad=True) == Decimal("5.00")


def test_fee_rounds_half_up_to_the_cent():
    assert fee("0.50", [FeeLine(Decimal("0.5"), Decimal("0.05"))]) == Decimal("0.03")  # 0.025 → 0.03


@given(
    st.decimals(min_value=0, max_value=100000, places=2), st.decimals(min_value=0, max_value="0.2", places=4)
)
def test_fee_never_exceeds_the_rate_times_the_amount(amount, rate):
    assert fee(str(amount), [FeeLine(Decimal("1"), rate)]) <= (amount * rate + Decimal("0.005"))


@pytest.mark.parametrize(
    "name, masked", [("张三丰", "张**"), ("张三", "张**"), ("Alice Smith", "A**"), ("", "")]
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    "phone, masked",
    [
        ("13812345678", "138****5678"),
        ("+86 138 1234 5678", "+86 138****5678"),
        ("138-1234-5678", "138****5678"),
        ("5551234567", "555***4567"),
        ("12345", "***45"),
    ],
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


def test_mask_address_cuts_after_the_district():
    assert mask_address(region="浙江省 杭州市 西湖区", detail="文三路 123 号") == "浙江省 杭州市 西湖区 ****"


# --- Store-level late-rate escalation -----------------------------------------------------------------

LATE_RULES = LateRateRules(
    ban_rate=Decimal("0.25"), ban_min_late=10, severe_rate=Decimal("0.80"), severe_min_late=4, days_needed=3
)


def days(*pairs):
    return [LateRateDay(late=late, due=due) for late, due in pairs]


def test_three_days_above_a_quarter_with_ten_late_orders_ban_the_product():
    window = days((10, 39), (11, 40), (12, 44), (0, 50), (0, 0), (1, 3), (0, 9))
    assert late_rate_escalation(days=window, rules=LATE_RULES) == "ban"


def test_exactly_a_quarter_is_not_above_it_and_nine_late_orders_are_not_enough():
    assert late_rate_escalation(days=days((10, 40), (10, 40), (10, 40)), rules=LATE_RULES) is None
    assert late_rate_escalation(days=days((9, 10), (9, 10), (9, 20)), rules=LATE_RULES) is None


def test_two_bad_days_are_not_three():
    assert late_rate_escalation(days=days((20, 21), (20, 21), (0, 21)), rules=LATE_RULES) is None


def test_above_four_fifths_with_more_than_three_late_on_three_days_is_severe():
    assert late_rate_escalation(days=days((4, 4), (5, 6), (9, 10)), rules=LATE_RULES) == "severe"
    # 3 late of 3 is 100%, but "more than 3 late orders" is not met
    assert late_rate_escalation(days=days((3, 3), (3, 3), (3, 3)), rules=LATE_RULES) is None
    # exactly 80% is not above it; with 10+ late orders and > 25% it is still a ban
    assert late_rate_escalation(days=days((12, 15), (12, 15), (12, 15)), rules=LATE_RULES) == "ban"


def test_a_day_with_nothing_due_never_counts():
    assert late_rate_escalation(days=days((0, 0), (0, 0), (0, 0)), rules=LATE_RULES) is None
