"""The daily experience score over real orders: figures from the orders app, one row per store and day."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from merchants.models import StoreScore
from merchants.services import experience_score_check, violation_record
from orders.services import order_ship, tracking_event_record
from tests.orders.factories import carrier, make_order

pytestmark = pytest.mark.django_db

ZONE = timezone.get_default_timezone()


def yesterday():
    return timezone.localdate(timezone.now(), ZONE) - timedelta(days=1)


def busy(store, n, *, late_every=0):
    """n orders paid 5 days ago with a 48 h promise, shipped 10 h after payment and picked up 2 h later
    (every `late_every`-th shipped 60 h after payment instead: late)."""
    paid = timezone.now() - timedelta(days=5)
    for i in range(n):
        order = make_order(store, paid_at=paid + timedelta(minutes=i), promise="48h")
        hours = 60 if late_every and i % late_every == 0 else 10
        order_ship(
            order=order,
            carrier=carrier("sf"),
            tracking_no=f"SF{order.pk:013d}",
            now=order.paid_at + timedelta(hours=hours),
        )
        tracking_event_record(
            shipment=order.shipment, kind="pickup", occurred_at=order.paid_at + timedelta(hours=hours + 2)
        )


def test_a_store_with_few_orders_sits_at_70(funded_store):
    busy(funded_store, 3)
    result = experience_score_check()
    assert (result.day, result.scored) == (yesterday(), 1)
    row = StoreScore.objects.get(store=funded_store)
    assert (row.score, row.growth_stage, row.paid_orders) == (Decimal("70.00"), True, 3)
    assert row.metrics["late_dispatch_rate"] == "0.0000"


def test_the_score_comes_from_the_figures_and_is_written_once_a_day(funded_store):
    busy(funded_store, 30, late_every=10)  # 3 of 30 late: 10%
    violation_record(
        store=funded_store,
        type_code="negative_service",
        cause_kind="manual",
        cause_id="n1",
        occurred_at=timezone.now() - timedelta(days=2),
    )
    first = experience_score_check()
    assert first.scored == 1
    row = StoreScore.objects.get(store=funded_store, day=yesterday())
    assert row.growth_stage is False
    assert row.metrics["late_dispatch_rate"] == "0.1000"
    assert row.metrics["valid_tracking_rate"] == "1.0000"
    assert row.metrics["pickup_hours"] == "17.0"  # (27×12 + 3×62) / 30 hours from payment to pickup
    # logistics: late rate at its bad end (0), tracking 100, pickup 100 (≤ 24 h), nothing delivered yet;
    # product and service have nothing to judge (100): 50 + 50 × (0.4 + 0.3 × 2/3 + 0.3) − 3
    assert (row.product, row.logistics, row.service, row.deductions) == (
        Decimal("100.00"),
        Decimal("66.67"),
        Decimal("100.00"),
        Decimal("3.00"),
    )
    assert row.score == Decimal("92.00")
    assert str(experience_score_check()) == f"day={yesterday()} stores_scored=0"
    assert StoreScore.objects.count() == 1


def test_scoring_every_store_costs_the_same_queries_however_many(
    store_factory, django_assert_max_num_queries
):
    for _ in range(3):
        busy(store_factory(), 2)
    # a few grouped queries per source (orders, complaints, inspections), none per store
    with django_assert_max_num_queries(20) as captured:
        experience_score_check()
    few = len(captured)
    StoreScore.objects.all().delete()
    for _ in range(5):
        busy(store_factory(), 2)
    with django_assert_max_num_queries(few):
        assert experience_score_check().scored == 8


def test_the_backfill_scores_each_day_since_the_store_opened_once(
    store_factory, django_assert_max_num_queries
):
    from merchants.services import experience_score_backfill

    old = store_factory(opened_on=timezone.localdate() - timedelta(days=100))
    new = store_factory(opened_on=timezone.localdate() - timedelta(days=5))
    busy(old, 2)
    StoreScore.objects.create(
        store=old, day=yesterday(), score=Decimal("88"), product=100, logistics=100, service=100
    )  # already scored by the daily check: kept

    assert experience_score_backfill(days=10) == 9 + 5
    assert experience_score_backfill(days=10) == 0
    days = sorted(StoreScore.objects.filter(store=new).values_list("day", flat=True))
    assert days == [yesterday() - timedelta(days=n) for n in range(4, -1, -1)]
    assert StoreScore.objects.get(store=old, day=yesterday()).score == Decimal("88.00")
    assert StoreScore.objects.get(store=old, day=yesterday() - timedelta(days=1)).metrics["paid_orders"] == 2

    StoreScore.objects.all().delete()
    with django_assert_max_num_queries(
        4 + 3 * 20
    ):  # the stores, the days scored, the rules, 3 days of sources
        assert experience_score_backfill(days=15, every=7) == 3 + 1  # yesterday, 8 and 15 days back; new: 1
