"""The violations page in words: the next ladder step's penalties by name in the reader's language, and a
ladder suspension among the restrictions in force with its end (given / when / then)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from merchants.services import violation_record

pytestmark = pytest.mark.django_db


def violations_page(client, owner, store, language="en"):
    client.force_login(owner)
    client.post(reverse("set_language"), {"language": language, "next": "/"})
    return client.get(reverse("violations", args=[store.code])).content.decode()


@pytest.mark.parametrize(
    "language, expected",
    [("en", "(new orders restricted)"), ("zh-hans", "(限制接收新订单)")],
)
def test_the_next_thresholds_penalties_are_named_not_coded(client, funded_store, owner, language, expected):
    # given 24 general points (the next step, 36, restricts new orders)
    violation_record(
        store=funded_store, type_code="not_as_described", cause_kind="manual", cause_id="m1", points=24
    )
    # when the owner reads the violations page in their language
    page = violations_page(client, owner, funded_store, language)
    # then the penalty is in words, never the rule table's code
    assert expected in page
    assert "order_restriction" not in page


def test_a_ladder_suspension_is_listed_among_the_restrictions_in_force_with_its_end(
    client, funded_store, owner
):
    # given 12 serious points: the ladder suspends the store for 7 days
    before = timezone.now()
    violation_record(store=funded_store, type_code="counterfeit", cause_kind="manual", cause_id="m1")
    funded_store.refresh_from_db()
    assert funded_store.status == "suspended"
    assert before + timedelta(days=7) <= funded_store.suspended_until <= timezone.now() + timedelta(days=7)
    # when the owner opens the violations page
    page = violations_page(client, owner, funded_store)
    # then the suspension is a restriction in force, with its end in the store's time and why
    until = funded_store.suspended_until.astimezone(ZoneInfo(funded_store.time_zone))
    assert (
        f"Store suspended (no trading) — until {until:%Y-%m-%d %H:%M}: "
        "Violation points reached a threshold of the penalty ladder</li>"
    ) in page


def test_a_store_not_suspended_lists_no_suspension(client, funded_store, owner):
    page = violations_page(client, owner, funded_store)
    assert "Store suspended" not in page
    assert "<p>None.</p>" in page


def test_the_suspension_reads_in_simplified_chinese(client, funded_store, owner):
    # given a ladder suspension, when the owner reads the page in Chinese, then it is in Chinese
    violation_record(store=funded_store, type_code="counterfeit", cause_kind="manual", cause_id="m1")
    page = violations_page(client, owner, funded_store, "zh-hans")
    assert "店铺停业整顿中 — 至 " in page
    assert ": 违规积分达到处罚阶梯门槛</li>" in page
