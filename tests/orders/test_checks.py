from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from merchants.models import DepositEntry, StoreEvent, Violation
from orders.checks import late_dispatch_check
from orders.services import order_ship
from tests.orders.factories import carrier, make_order

pytestmark = pytest.mark.django_db


def late_violations():
    return sorted(
        Violation.objects.filter(violation_type__code="late_dispatch").values_list("cause_id", flat=True)
    )


def test_strikes_at_the_deadline_then_every_24_hours_at_most_three(funded_store):
    paid = timezone.now() - timedelta(days=10)
    order = make_order(funded_store, paid_at=paid, promise="24h", amount="250.00")
    deadline = order.dispatch_deadline
    assert late_dispatch_check(now=deadline - timedelta(seconds=1)).strikes == 0
    assert late_dispatch_check(now=deadline).strikes == 1
    assert late_dispatch_check(now=deadline + timedelta(hours=23)).strikes == 0  # idempotent
    assert late_dispatch_check(now=deadline + timedelta(hours=24)).strikes == 1
    assert late_dispatch_check(now=deadline + timedelta(days=5)).strikes == 1  # the third, and the last
    assert late_dispatch_check(now=deadline + timedelta(days=9)).strikes == 0
    assert late_violations() == [f"{order.pk}:1", f"{order.pk}:2", f"{order.pk}:3"]
    # Late-dispatch compensation once, with the first strike (1% of 250 = 2.5 → 3); the order also went
    # out of stock 48 h after its deadline, which is compensated on its own (1%, ≤ 48 h promise → 3).
    late = Violation.objects.get(violation_type__code="late_dispatch", cause_id=f"{order.pk}:1")
    out_of_stock = Violation.objects.get(violation_type__code="out_of_stock", cause_id=str(order.pk))
    compensation = dict(DepositEntry.objects.filter(kind="compensation").values_list("cause_key", "amount"))
    assert compensation == {
        f"violation:{late.pk}:compensation": Decimal("-3.00"),
        f"violation:{out_of_stock.pk}:compensation": Decimal("-3.00"),
    }


def test_unshipped_48_hours_after_the_deadline_is_out_of_stock(funded_store):
    order = make_order(
        funded_store, paid_at=timezone.now() - timedelta(days=10), promise="72h", amount="250.00"
    )
    result = late_dispatch_check(now=order.dispatch_deadline + timedelta(hours=48))
    assert result.out_of_stock == 1
    assert Violation.objects.filter(violation_type__code="out_of_stock", cause_id=str(order.pk)).count() == 1
    # 72-hour promise: 3% (min 3, max 50) of 250 = 7.5 → 8
    assert DepositEntry.objects.filter(kind="compensation", amount=Decimal("-8.00")).count() == 1


def test_an_order_shipped_in_time_is_never_struck(funded_store):
    order = make_order(funded_store, paid_at=timezone.now() - timedelta(hours=2), promise="24h")
    order_ship(order=order, carrier=carrier("sf"), tracking_no="SF1234567890123")
    assert late_dispatch_check(now=timezone.now() + timedelta(days=5)).strikes == 0
    assert late_violations() == []


def test_an_order_shipped_late_gets_the_strikes_it_earned(funded_store):
    order = make_order(funded_store, paid_at=timezone.now() - timedelta(days=3), promise="24h")
    order_ship(
        order=order,
        carrier=carrier("sf"),
        tracking_no="SF1234567890123",
        now=order.dispatch_deadline + timedelta(hours=30),
    )
    late_dispatch_check(now=timezone.now())
    assert late_violations() == [f"{order.pk}:1", f"{order.pk}:2"]


def test_run_checks_runs_the_late_dispatch_check(funded_store, capsys):
    order = make_order(funded_store, paid_at=timezone.now() - timedelta(days=2), promise="24h")
    call_command(
        "run_checks",
        "--only",
        "late_dispatch",
        "--now",
        (order.dispatch_deadline + timedelta(hours=1)).isoformat(),
    )
    assert capsys.readouterr().out == "late_dispatch: strikes=1 out_of_stock=0\n"


@pytest.mark.parametrize(
    "amount, expected",
    [
        ("100.00", "-2.00"),  # 1% = 1 → the minimum 2 (the 48–240 h row would pay 3)
        ("250.00", "-3.00"),  # 1% = 2.5 → half-up 3 (the 48–240 h row would pay 8)
        ("9000.00", "-50.00"),  # 1% = 90 → the maximum 50
    ],
)
def test_a_48_hour_promise_out_of_stock_is_compensated_as_up_to_48_hours(funded_store, amount, expected):
    # given an order with a 48-hour promise, unshipped 48 hours after its deadline
    order = make_order(
        funded_store, paid_at=timezone.now() - timedelta(days=10), promise="48h", amount=amount
    )
    # when the check runs
    assert late_dispatch_check(now=order.dispatch_deadline + timedelta(hours=48)).out_of_stock == 1
    # then its out-of-stock compensation is that of promises up to 48 hours (1%, min 2, max 50)
    out_of_stock = Violation.objects.get(violation_type__code="out_of_stock", cause_id=str(order.pk))
    assert DepositEntry.objects.get(cause_key=f"violation:{out_of_stock.pk}:compensation").amount == Decimal(
        expected
    )


def test_a_next_day_promise_paid_at_midnight_is_compensated_as_up_to_48_hours(funded_store):
    from zoneinfo import ZoneInfo

    # given a next-day order paid at midnight store time (a 48-hour promise), unshipped
    midnight = (timezone.now() - timedelta(days=10)).astimezone(ZoneInfo("Asia/Shanghai"))
    paid = midnight.replace(hour=0, minute=0, second=0, microsecond=0)
    order = make_order(funded_store, paid_at=paid, promise="next_day", amount="250.00")
    assert order.dispatch_deadline - order.paid_at == timedelta(hours=48)
    # when it goes out of stock
    late_dispatch_check(now=order.dispatch_deadline + timedelta(hours=48))
    # then it is compensated 1% of 250 = 2.5 → 3, not 3% → 8
    out_of_stock = Violation.objects.get(violation_type__code="out_of_stock", cause_id=str(order.pk))
    assert DepositEntry.objects.get(cause_key=f"violation:{out_of_stock.pk}:compensation").amount == Decimal(
        "-3.00"
    )


def shipped_at(order, at):
    return order_ship(order=order, carrier=carrier("sf"), tracking_no="SF1234567890123", now=at)


def test_an_order_shipped_after_it_went_out_of_stock_while_the_engine_was_down_is_out_of_stock(funded_store):
    # given an order with a 72-hour promise shipped 50 h after its deadline, while no check ran
    order = make_order(
        funded_store, paid_at=timezone.now() - timedelta(days=8), promise="72h", amount="250.00"
    )
    shipped_at(order, order.dispatch_deadline + timedelta(hours=50))
    # when the engine is back
    result = late_dispatch_check(now=timezone.now())
    # then it has the three strikes and the out-of-stock a running engine would have recorded
    assert (result.strikes, result.out_of_stock) == (3, 1)
    out_of_stock = Violation.objects.get(violation_type__code="out_of_stock", cause_id=str(order.pk))
    assert out_of_stock.occurred_at == order.dispatch_deadline + timedelta(hours=48)
    # 72-hour promise: 3% of 250 = 7.5 → 8
    assert DepositEntry.objects.get(cause_key=f"violation:{out_of_stock.pk}:compensation").amount == Decimal(
        "-8.00"
    )


def test_an_order_shipped_before_it_went_out_of_stock_is_not_out_of_stock(funded_store):
    # given an order shipped 40 h after its deadline, while no check ran
    order = make_order(funded_store, paid_at=timezone.now() - timedelta(days=8), promise="72h")
    shipped_at(order, order.dispatch_deadline + timedelta(hours=40))
    # when the engine is back, then it has two strikes and no out-of-stock
    assert str(late_dispatch_check(now=timezone.now())) == "strikes=2 out_of_stock=0"
    assert late_violations() == [f"{order.pk}:1", f"{order.pk}:2"]


def test_an_out_of_stock_already_recorded_while_unshipped_is_not_recorded_again(funded_store):
    # given an order recorded out of stock while unshipped, then shipped
    order = make_order(funded_store, paid_at=timezone.now() - timedelta(days=8), promise="24h")
    assert late_dispatch_check(now=order.dispatch_deadline + timedelta(hours=48)).out_of_stock == 1
    shipped_at(order, order.dispatch_deadline + timedelta(hours=60))
    before = (Violation.objects.count(), DepositEntry.objects.count())
    # when the check runs again, then it writes nothing
    assert str(late_dispatch_check(now=timezone.now())) == "strikes=0 out_of_stock=0"
    assert (Violation.objects.count(), DepositEntry.objects.count()) == before


def test_a_second_run_after_an_outage_writes_nothing(funded_store):
    # given orders shipped out of stock during an outage, caught up once
    for _ in range(3):
        order = make_order(funded_store, paid_at=timezone.now() - timedelta(days=8), promise="24h")
        shipped_at(order, order.dispatch_deadline + timedelta(hours=49))
    assert str(late_dispatch_check(now=timezone.now())) == "strikes=9 out_of_stock=3"
    before = (Violation.objects.count(), DepositEntry.objects.count(), StoreEvent.objects.count())
    # when it runs again, then nothing changes
    assert str(late_dispatch_check(now=timezone.now())) == "strikes=0 out_of_stock=0"
    assert (Violation.objects.count(), DepositEntry.objects.count(), StoreEvent.objects.count()) == before


def test_an_out_of_stock_shipment_older_than_the_look_back_is_left_alone(funded_store):
    # given an order shipped 50 h late, 15 days ago (past the 14-day look-back)
    order = make_order(funded_store, paid_at=timezone.now() - timedelta(days=20), promise="24h")
    shipped_at(order, order.dispatch_deadline + timedelta(hours=50))
    # when the engine comes back now, then nothing is recorded
    assert str(late_dispatch_check(now=order.dispatch_deadline + timedelta(hours=50, days=15))) == (
        "strikes=0 out_of_stock=0"
    )
