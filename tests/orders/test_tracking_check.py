"""The tracking check and the batch path every check records through (given / when / then)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from merchants.models import DepositEntry, PointEntry, StoreEvent, Violation
from merchants.services import ViolationCause, deposit_balance, violation_revoke, violations_record_many
from orders import checks
from orders.bulk import ScanData, scans_record, shipments_by_tracking
from orders.checks import late_dispatch_check, tracking_check
from orders.models import Fulfilment, TrackingAnomaly
from orders.services import order_ship, tracking_event_record
from tests.merchants.factories import StoreFactory
from tests.orders.factories import RECIPIENT, carrier, make_order

pytestmark = pytest.mark.django_db

SF = "SF1234567890123"


def shipped(store, *, amount="100.00", paid_hours_ago=3, tracking_no=SF, **kwargs):
    order = make_order(
        store, paid_at=timezone.now() - timedelta(hours=paid_hours_ago), amount=amount, **kwargs
    )
    order_ship(order=order, carrier=carrier("sf"), tracking_no=tracking_no)
    return order


def violation_codes():
    return sorted(Violation.objects.values_list("violation_type__code", "cause_kind"))


def test_no_pickup_24_hours_after_the_tracking_number_is_tracking_overdue(funded_store):
    order = shipped(funded_store)
    given = order.shipment.created_at
    assert tracking_check(now=given + timedelta(hours=24) - timedelta(seconds=1)).overdue == 0
    result = tracking_check(now=given + timedelta(hours=24))
    assert (result.overdue, result.false_dispatch) == (1, 0)
    violation = Violation.objects.get(violation_type__code="tracking_overdue")
    assert (violation.cause_kind, violation.cause_id) == ("shipment", str(order.shipment.pk))
    assert violation.occurred_at == given + timedelta(hours=24)
    assert not DepositEntry.objects.filter(kind="compensation").exists()  # tracking overdue pays nothing


def test_no_pickup_in_48_hours_is_false_dispatch_with_a_quarter_as_compensation(funded_store):
    order = shipped(funded_store, amount="240.00")
    at = order.shipment.created_at + timedelta(hours=48)
    result = tracking_check(now=at)
    assert (result.overdue, result.false_dispatch) == (1, 1)
    false = Violation.objects.get(violation_type__code="false_dispatch")
    assert false.points == 2
    # 25% of 240 = 60 (between 5 and 100)
    assert DepositEntry.objects.get(cause_key=f"violation:{false.pk}:compensation").amount == Decimal(
        "-60.00"
    )
    assert PointEntry.objects.get(violation=false).points == 2


@pytest.mark.parametrize(
    ("amount", "expected"), [("8.00", "-5.00"), ("1000.00", "-100.00"), ("30.00", "-8.00")]
)
def test_false_dispatch_compensation_bounds_and_half_up_rounding(funded_store, amount, expected):
    order = shipped(funded_store, amount=amount)  # 25% of 30 = 7.5 → 8
    tracking_check(now=order.shipment.created_at + timedelta(hours=48))
    assert DepositEntry.objects.get(kind="compensation").amount == Decimal(expected)


def test_a_pickup_scan_in_time_is_never_judged(funded_store):
    order = shipped(funded_store)
    tracking_event_record(shipment=order.shipment, kind="pickup", occurred_at=timezone.now())
    assert (
        str(tracking_check(now=timezone.now() + timedelta(days=3))) == "tracking_overdue=0 false_dispatch=0"
    )
    assert violation_codes() == []


def test_a_pickup_scan_earlier_than_payment_is_false_dispatch(funded_store):
    order = shipped(funded_store, paid_hours_ago=5)
    tracking_event_record(
        shipment=order.shipment, kind="pickup", occurred_at=order.paid_at - timedelta(days=2)
    )
    order.shipment.refresh_from_db()
    assert order.shipment.anomaly == TrackingAnomaly.PICKUP_BEFORE_PAYMENT
    assert tracking_check(now=timezone.now()).false_dispatch == 1
    violation = Violation.objects.get(violation_type__code="false_dispatch")
    assert "pickup before payment" in violation.cause_label
    assert tracking_check(now=timezone.now() + timedelta(days=3)).false_dispatch == 0  # once per shipment


def test_a_consignee_who_is_not_the_recipient_is_false_dispatch_and_the_address_is_kept_only_as_a_digest(
    funded_store,
):
    matching, other = shipped(funded_store), shipped(funded_store, tracking_no="SF9876543210987")
    scans = [
        ScanData(
            tracking_no=SF,
            kind="pickup",
            occurred_at=timezone.now(),
            consignee_address=f"{RECIPIENT.region}, {RECIPIENT.address}",  # punctuation aside, the same
        ),
        ScanData(
            tracking_no="SF9876543210987",
            kind="pickup",
            occurred_at=timezone.now(),
            consignee_address="广东省 深圳市 南山区 科技园路 1 号",
        ),
    ]
    sf = carrier("sf")
    scans_record(
        carrier=sf,
        scans=scans,
        shipments=shipments_by_tracking((sf.pk, scan.tracking_no) for scan in scans),
        source="webhook",
    )
    matching.shipment.refresh_from_db()
    other.shipment.refresh_from_db()
    assert matching.shipment.anomaly == ""
    assert other.shipment.anomaly == TrackingAnomaly.RECIPIENT_MISMATCH
    assert "深圳" not in other.shipment.carrier_address_digest
    assert len(other.shipment.carrier_address_digest) == 64
    assert tracking_check(now=timezone.now()).false_dispatch == 1
    assert Violation.objects.get().cause_id == str(other.shipment.pk)


def test_platform_shipped_orders_are_not_the_sellers_violations(funded_store, admin_user):
    order = make_order(
        funded_store,
        paid_at=timezone.now() - timedelta(days=5),
        promise="24h",
        fulfilment=Fulfilment.PLATFORM,
    )
    order_ship(order=order, carrier=carrier("sf"), tracking_no=SF, actor=admin_user)
    later = timezone.now() + timedelta(days=3)
    assert str(tracking_check(now=later)) == "tracking_overdue=0 false_dispatch=0"
    assert late_dispatch_check(now=later).strikes == 0
    assert violation_codes() == []


def written():
    return (Violation.objects.count(), DepositEntry.objects.count(), PointEntry.objects.count())


@pytest.mark.parametrize(
    "pickup_hours, expected",
    [
        (20, []),  # in time
        (30, ["tracking_overdue"]),
        (50, ["false_dispatch", "tracking_overdue"]),
    ],
)
def test_a_pickup_scan_that_came_late_while_the_engine_was_down_is_judged_by_the_next_run(
    funded_store, pickup_hours, expected
):
    # given a shipment whose pickup scan came `pickup_hours` after the tracking number, while no check ran
    order = shipped(funded_store, amount="240.00")
    given = order.shipment.created_at
    tracking_event_record(
        shipment=order.shipment, kind="pickup", occurred_at=given + timedelta(hours=pickup_hours)
    )
    # when the engine is back, three days later
    tracking_check(now=given + timedelta(days=3))
    # then the shipment has the violations a running engine would have recorded, at the same moments
    violations = Violation.objects.filter(cause_kind="shipment", cause_id=str(order.shipment.pk))
    assert sorted(violations.values_list("violation_type__code", flat=True)) == expected
    assert {v.violation_type.code: v.occurred_at for v in violations} == {
        code: given + timedelta(hours={"tracking_overdue": 24, "false_dispatch": 48}[code])
        for code in expected
    }
    # and false dispatch pays the buyer a quarter of 240 = 60
    compensation = list(DepositEntry.objects.filter(kind="compensation").values_list("amount", flat=True))
    assert compensation == ([Decimal("-60.00")] if "false_dispatch" in expected else [])


def test_a_late_pickup_already_judged_while_awaiting_is_not_judged_again(funded_store):
    # given a shipment judged tracking overdue at 24 h, then picked up at 30 h
    order = shipped(funded_store)
    given = order.shipment.created_at
    assert tracking_check(now=given + timedelta(hours=24)).overdue == 1
    tracking_event_record(shipment=order.shipment, kind="pickup", occurred_at=given + timedelta(hours=30))
    before = written()
    # when the check runs again later, then it writes nothing
    assert str(tracking_check(now=given + timedelta(days=3))) == "tracking_overdue=0 false_dispatch=0"
    assert written() == before


def test_a_second_run_after_an_outage_writes_nothing(funded_store):
    # given three shipments picked up 50 h after their tracking numbers during an outage, judged once
    for n in range(3):
        order = shipped(funded_store, tracking_no=f"SF12345678901{n:02d}")
        tracking_event_record(
            shipment=order.shipment,
            kind="pickup",
            occurred_at=order.shipment.created_at + timedelta(hours=50),
        )
    at = timezone.now() + timedelta(days=3)
    assert str(tracking_check(now=at)) == "tracking_overdue=3 false_dispatch=3"
    before = (*written(), StoreEvent.objects.count())
    # when it runs again, then nothing changes
    assert str(tracking_check(now=at)) == "tracking_overdue=0 false_dispatch=0"
    assert (*written(), StoreEvent.objects.count()) == before


def test_a_late_pickup_older_than_the_look_back_is_left_alone(funded_store):
    # given a shipment picked up 50 h late, whose tracking number is older than the 14-day look-back
    order = shipped(funded_store)
    given = order.shipment.created_at
    tracking_event_record(shipment=order.shipment, kind="pickup", occurred_at=given + timedelta(hours=50))
    before = written()
    # when the engine comes back after 15 days, then nothing is recorded
    assert str(tracking_check(now=given + timedelta(days=15))) == "tracking_overdue=0 false_dispatch=0"
    assert written() == before


def test_shipments_older_than_the_look_back_are_left_alone(funded_store):
    order = shipped(funded_store)
    assert tracking_check(now=order.shipment.created_at + timedelta(days=15)).overdue == 0


def test_a_second_run_changes_nothing(funded_store):
    for n in range(3):
        shipped(funded_store, tracking_no=f"SF12345678901{n:02d}")
    at = timezone.now() + timedelta(hours=50)
    assert str(tracking_check(now=at)) == "tracking_overdue=3 false_dispatch=3"
    counts = (Violation.objects.count(), DepositEntry.objects.count(), StoreEvent.objects.count())
    assert str(tracking_check(now=at)) == "tracking_overdue=0 false_dispatch=0"
    assert (Violation.objects.count(), DepositEntry.objects.count(), StoreEvent.objects.count()) == counts


def test_a_run_killed_between_batches_is_completed_by_the_next_without_duplicates(funded_store, monkeypatch):
    orders = [
        make_order(funded_store, paid_at=timezone.now() - timedelta(days=1), promise="24h") for _ in range(5)
    ]
    monkeypatch.setattr(checks, "BATCH", 2)
    real = checks.violations_record_many
    calls = []

    def dies_on_the_second_batch(**kwargs):
        calls.append(len(kwargs["causes"]))
        if len(calls) == 2:
            raise SystemExit("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(checks, "violations_record_many", dies_on_the_second_batch)
    with pytest.raises(SystemExit):
        late_dispatch_check(now=timezone.now())
    assert Violation.objects.count() == 2  # the first batch, whole; nothing of the second
    monkeypatch.setattr(checks, "violations_record_many", real)
    assert late_dispatch_check(now=timezone.now()).strikes == 3
    assert sorted(Violation.objects.values_list("cause_id", flat=True)) == sorted(f"{o.pk}:1" for o in orders)
    assert DepositEntry.objects.filter(kind="compensation").count() == 5


def test_a_batch_costs_a_fixed_number_of_queries_whatever_its_size(django_assert_max_num_queries):
    stores = [StoreFactory() for _ in range(3)]
    now = timezone.now()

    def causes(n, offset):
        return [
            ViolationCause(
                store_id=stores[i % 3].pk,
                cause_kind="shipment",
                cause_id=str(offset + i),
                amount_paid=Decimal("100.00"),
            )
            for i in range(n)
        ]

    with django_assert_max_num_queries(20):
        assert len(violations_record_many(type_code="tracking_overdue", causes=causes(10, 0), now=now)) == 10
    with django_assert_max_num_queries(20):
        assert (
            len(violations_record_many(type_code="tracking_overdue", causes=causes(300, 100), now=now)) == 300
        )


def test_a_batch_records_each_cause_once_even_when_given_twice(funded_store):
    cause = ViolationCause(
        store_id=funded_store.pk, cause_kind="shipment", cause_id="7", amount_paid=Decimal("40")
    )
    created = violations_record_many(type_code="false_dispatch", causes=[cause, cause])
    assert len(created) == 1
    assert violations_record_many(type_code="false_dispatch", causes=[cause]) == []
    assert DepositEntry.objects.filter(kind="compensation").count() == 1
    assert PointEntry.objects.filter(store=funded_store).count() == 1


def test_revoking_a_batch_recorded_violation_restores_ledger_and_points_exactly(funded_store, admin_user):
    balance = deposit_balance(store=funded_store)
    order = shipped(funded_store, amount="240.00")
    tracking_check(now=order.shipment.created_at + timedelta(hours=48))
    false = Violation.objects.get(violation_type__code="false_dispatch")
    assert deposit_balance(store=funded_store) == balance - Decimal("60.00")
    violation_revoke(violation=false, actor=admin_user, reason="carrier lost its scans")
    assert deposit_balance(store=funded_store) == balance
    assert sum(PointEntry.objects.filter(store=funded_store).values_list("points", flat=True)) == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_second_tracking_check_started_together_does_not_run():
    import zlib

    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    key = zlib.crc32(b"tracking_check") - 2**31
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=connection.settings_dict["NAME"]
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        assert tracking_check().skipped is True
        other.execute("SELECT pg_advisory_unlock(%s)", [key])
    assert tracking_check().skipped is False


@pytest.mark.postgres
def test_the_checks_partial_indexes_hold_only_open_or_late_rows():
    """The due queries' indexes are partial: their size follows the open work, not the order history.
    (That the planner picks them on a million orders is shown by bench/checks.py --explain.)"""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(%s)",
            [
                [
                    "order_open_deadline",
                    "order_dispatched_late",
                    "shipment_awaiting_pickup",
                    "shipment_anomalous",
                    "shipment_pickup_delay",
                ]
            ],
        )
        definitions = dict(cursor.fetchall())
    assert (
        "(((first_pickup_at - created_at))) WHERE (first_pickup_at IS NOT NULL)"
        in (definitions["shipment_pickup_delay"])
    )
    assert "WHERE ((status)::text = 'paid'::text)" in definitions["order_open_deadline"]
    assert "WHERE (dispatched_at > dispatch_deadline)" in definitions["order_dispatched_late"]
    assert "WHERE (first_pickup_at IS NULL)" in definitions["shipment_awaiting_pickup"]
    assert "WHERE (NOT ((anomaly)::text = ''::text))" in definitions["shipment_anomalous"]


@pytest.mark.postgres
def test_the_late_pickup_query_reads_the_pickup_delay_index():
    # given the planner told that scans are dear, so it takes an index where one fits
    from orders.checks import _seller_shipments, picked_up_late

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    # when it plans the late-pickup query, then it reads shipment_pickup_delay
    shipments = _seller_shipments(now=timezone.now(), lookback=timedelta(days=14))
    queryset = picked_up_late(shipments, after=timedelta(hours=24))
    assert "shipment_pickup_delay" in queryset.values_list("pk").explain()
