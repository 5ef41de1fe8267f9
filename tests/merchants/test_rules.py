"""Pure rule arithmetic: no database."""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from merchants.rules import (
    CREDIT_CODE_CHARSET,
    AdmissionFacts,
    AdmissionLimits,
    ScreeningRule,
    add_months,
    admission_refusals,
    credit_code_check_character,
    credit_code_problem,
    required_deposit,
    screen_texts,
)

LIMITS = AdmissionLimits(
    max_stores_per_entity=3,
    max_stores_per_brand_per_entity=1,
    reentry_months_after_exit=6,
    licence_min_valid_days=15,
)
TODAY = date(2026, 11, 22)


def facts(**overrides):
    base = dict(
        entity_kind="enterprise",
        entity_allowed_kinds=frozenset({"enterprise", "individual_business"}),
        banned_for_ever=False,
        exited_on=None,
        licence_expires_on=date(2027, 11, 22),
        today=TODAY,
        open_store_count=0,
        same_brand_store_count=0,
        brand_name=None,
    )
    base.update(overrides)
    return AdmissionFacts(**base)


def test_known_credit_codes_pass_the_check_character():
    # Published codes of real enterprises (GB 32100-2015 examples).
    assert credit_code_problem("91350100M000100Y43") is None
    assert credit_code_check_character("91350100M000100Y4") == "3"


def test_credit_code_problems_say_what_is_wrong():
    assert "18 characters" in credit_code_problem("9135010")
    assert "not allowed" in credit_code_problem("91350100M000100I43")
    assert credit_code_problem("91350100M000100Y44") == "The check character is wrong: expected 3, found 4."


@given(st.text(alphabet=CREDIT_CODE_CHARSET, min_size=17, max_size=17))
def test_every_17_characters_have_exactly_one_valid_check_character(first17):
    valid = [ch for ch in CREDIT_CODE_CHARSET if credit_code_problem(first17 + ch) is None]
    assert valid == [credit_code_check_character(first17)]


def test_add_months_clamps_to_month_end():
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
    assert add_months(date(2026, 5, 20), 6) == date(2026, 11, 20)


def test_admission_allows_a_clean_entity():
    assert admission_refusals(facts(), LIMITS) == []


def test_admission_refuses_natural_persons():
    (reason,) = admission_refusals(facts(entity_kind="natural_person"), LIMITS)
    assert "Natural persons" in reason


def test_admission_refuses_a_banned_entity_for_ever():
    (reason,) = admission_refusals(facts(banned_for_ever=True), LIMITS)
    assert "never apply again" in reason


def test_admission_after_voluntary_exit_waits_six_months():
    refused = admission_refusals(facts(exited_on=date(2026, 5, 23)), LIMITS)
    assert refused == [
        "This entity left the platform on 2026-05-23 and may apply again from 2026-11-23 (6 months after leaving)."
    ]
    assert admission_refusals(facts(exited_on=date(2026, 5, 22)), LIMITS) == []


@pytest.mark.parametrize(
    "expires, refused",
    [
        (date(2026, 12, 7), True),  # 15 days left: not more than 15
        (date(2026, 12, 8), False),  # 16 days left
        (date(2026, 11, 1), True),  # expired
        (None, True),
    ],
)
def test_admission_needs_a_licence_valid_more_than_15_days(expires, refused):
    assert bool(admission_refusals(facts(licence_expires_on=expires), LIMITS)) is refused


def test_admission_store_and_brand_limits():
    assert admission_refusals(facts(open_store_count=2), LIMITS) == []
    assert admission_refusals(facts(open_store_count=3), LIMITS) == [
        "This entity already holds 3 stores; the limit is 3."
    ]
    assert admission_refusals(facts(same_brand_store_count=1, brand_name="Lumi"), LIMITS) == [
        "This entity already has 1 store(s) for the brand Lumi; the limit is 1."
    ]


def test_required_deposit_is_the_highest_not_the_sum():
    assert required_deposit([Decimal("5000"), Decimal("20000"), Decimal("2000")], Decimal("2000")) == Decimal(
        "20000.00"
    )
    assert required_deposit([], Decimal("2000")) == Decimal("2000.00")


RULES = [
    ScreeningRule("prohibited", "Inflammable goods", "易燃", False),
    ScreeningRule("third_party", "Other marketplaces", r"\b(?:taobao|tmall)\b", True),
    ScreeningRule("contact", "Outside contact handles", r"(?:微信|wechat)[\s:：]*[A-Za-z0-9_-]{0,20}", True),
    ScreeningRule("link", "Links", r"https?://\S+", True),
]


def test_screening_reports_each_word_with_its_field():
    hits = screen_texts(
        {"title": "易燃 lighter fluid", "description": "cheaper on Taobao, wechat: abc123 https://x.cn/q"},
        RULES,
    )
    assert [(h.field, h.kind, h.matched) for h in hits] == [
        ("title", "prohibited", "易燃"),
        ("description", "third_party", "Taobao"),
        ("description", "contact", "wechat: abc123"),
        ("description", "link", "https://x.cn/q"),
    ]


def test_screening_passes_clean_text():
    assert screen_texts({"title": "Cotton towel", "description": "Soft and thick"}, RULES) == []


@pytest.mark.parametrize(
    "amount, rate, minimum, maximum, expected",
    [
        ("100.00", "0.01", "2", "50", "2.00"),  # 1 → the minimum 2
        ("250.00", "0.01", "2", "50", "3.00"),  # 2.5 → half-up 3
        ("249.00", "0.01", "2", "50", "2.00"),  # 2.49 → 2
        ("9000.00", "0.01", "2", "50", "50.00"),  # 90 → the maximum 50
        ("30.00", "0.25", "5", "100", "8.00"),  # 7.5 → 8
        ("10.00", "0.30", "10", "500", "10.00"),
    ],
)
def test_compensation_bounds_and_rounding(amount, rate, minimum, maximum, expected):
    from merchants.rules import compensation_amount

    assert compensation_amount(
        amount_paid=Decimal(amount), rate=Decimal(rate), minimum=Decimal(minimum), maximum=Decimal(maximum)
    ) == Decimal(expected)


@st.composite
def compensation_terms(draw):
    """A rate as the rule table holds it (4 places, below 10), bounds of 2 places with minimum <= maximum, and
    an amount paid of 2 places; half of the draws put the share exactly half-way between two whole yuan (rare
    among random amounts, and where half-up and half-even differ)."""
    low = draw(st.decimals(min_value=0, max_value=10**4, places=2))
    high = draw(st.decimals(min_value=low, max_value=10**6, places=2))
    if draw(st.booleans()):
        # rates whose reciprocal has at most 2 places, so (n + 0.5) / rate is an amount of 2 places
        rate = Decimal(
            draw(st.sampled_from(["0.01", "0.02", "0.04", "0.05", "0.1", "0.2", "0.25", "0.5", "1"]))
        )
        share = draw(st.integers(min_value=0, max_value=10**5)) + Decimal("0.5")
        amount = share / rate
        assert amount == amount.quantize(Decimal("0.01"))
    else:
        rate = draw(st.decimals(min_value=0, max_value=Decimal("9.9999"), places=4))
        amount = draw(st.decimals(min_value=0, max_value=10**7, places=2))
    return amount, rate, low, high


@given(compensation_terms())
def test_compensation_is_the_half_up_whole_yuan_share_kept_within_its_bounds(terms):
    from merchants.rules import compensation_amount

    # given any rate, bounds and amount paid
    amount, rate, minimum, maximum = terms
    # when the compensation is computed
    value = compensation_amount(amount_paid=amount, rate=rate, minimum=minimum, maximum=maximum)
    # then it is the share rounded half-up to whole yuan (computed here as floor(x + 0.5), which is half-up
    # for x >= 0), moved into [minimum, maximum], in cents
    share = (amount * rate + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR)
    expected = min(max(share, minimum), maximum)
    assert value == expected
    assert value.as_tuple().exponent == -2
    assert minimum <= value <= maximum
    if minimum < value < maximum:
        assert value == value.to_integral_value()


@dataclass(frozen=True)
class CompensationRow:
    promised_hours_min: int
    promised_hours_max: int | None
    rate: str


# The seeded out-of-stock rows: "up to 48 hours" (1%) and "48 to 240 hours" (3%).
OUT_OF_STOCK_ROWS = [CompensationRow(48, 240, "0.03"), CompensationRow(0, 48, "0.01")]


@pytest.mark.parametrize(
    "hours, rate",
    [
        (24, "0.01"),
        (47, "0.01"),
        (48, "0.01"),  # the lower bound of "48 to 240" is exclusive
        (Decimal("48.01"), "0.03"),
        (49, "0.03"),
        (72, "0.03"),
        (240, "0.03"),  # the upper bound is inclusive
        (Decimal("240.01"), None),
        (241, None),
        (1000, None),
    ],
)
def test_a_compensation_row_holds_the_promises_above_its_lower_bound_up_to_its_upper(hours, rate):
    from merchants.rules import compensation_rule_for

    # given the out-of-stock rows, when the row for a promise is picked
    row = compensation_rule_for(OUT_OF_STOCK_ROWS, hours)
    # then it is the one whose (lower, upper] range holds the promise, or none past the last
    assert (row.rate if row else None) == rate


def test_a_row_from_zero_without_an_upper_bound_holds_any_promise_and_none():
    from merchants.rules import compensation_rule_for

    # given a type that pays the same whatever the promise (false dispatch)
    rows = [CompensationRow(0, None, "0.25")]
    # then it is picked with no promise, a zero promise, and a long one
    assert [compensation_rule_for(rows, hours) for hours in (None, 0, 72, 10**6)] == rows * 4


def test_with_no_rows_there_is_no_compensation():
    from merchants.rules import compensation_rule_for

    assert compensation_rule_for([], 48) is None


def test_ladder_steps_apply_once_when_first_reached():
    from merchants.rules import LadderStep, ladder_steps_crossed, next_ladder_step

    steps = [LadderStep(t, ("x",), None) for t in (12, 24, 36, 48)]
    assert [s.threshold for s in ladder_steps_crossed(before=10, after=26, steps=steps)] == [12, 24]
    assert ladder_steps_crossed(before=12, after=23, steps=steps) == []
    assert [s.threshold for s in ladder_steps_crossed(before=11, after=12, steps=steps)] == [12]
    assert next_ladder_step(points=24, steps=steps).threshold == 36
    assert next_ladder_step(points=48, steps=steps) is None
