from collections import Counter
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import F
from django.test import Client
from django.utils import timezone

from merchants.demo import seed_merchants
from merchants.models import (
    DepositEntry,
    Listing,
    PointEntry,
    Sanction,
    SettlementEntry,
    Store,
    StoreEvent,
    Violation,
)
from orders import demo
from orders.models import Order, OrderEvent, OrderLine, OrderStatus, Shipment, TrackingEvent
from orders.rules import order_dispatch_deadline

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        Store.objects.count(),
        Listing.objects.count(),
        DepositEntry.objects.count(),
        Sanction.objects.count(),
        StoreEvent.objects.count(),
        Order.objects.count(),
        OrderLine.objects.count(),
        OrderEvent.objects.count(),
        Shipment.objects.count(),
        TrackingEvent.objects.count(),
        SettlementEntry.objects.count(),
        Violation.objects.count(),
        PointEntry.objects.count(),
    )


def test_seed_demo_is_idempotent_and_the_logins_work(capsys):
    """One seeding (slow: a few thousand orders) checked from every side; seeding again changes nothing."""
    call_command("seed_demo", force=True)
    now = timezone.now()
    first = snapshot()
    call_command("seed_demo", force=True)
    assert snapshot() == first
    out = capsys.readouterr().out
    assert "demo-pass-2026" in out
    # 1,500 demo orders, and the spot checks' mystery purchases
    assert "DEMO-001: 1504 orders" in out and "0 new" in out

    statuses = dict(Store.objects.values_list("code", "status"))
    assert statuses == {
        "DEMO-001": "active",
        "DEMO-002": "active",
        "DEMO-003": "active",
        "DEMO-004": "suspended",
        "DEMO-005": "pending_review",
        "DEMO-006": "pending_review",
    }
    assert Listing.objects.count() == 58
    stores = {s.code: s for s in Store.objects.all()}
    assert [
        (s.can_list, s.can_take_orders, s.can_withdraw) for s in (stores["DEMO-001"], stores["DEMO-002"])
    ] == [
        (True, True, True),
        (True, True, False),  # short for 20 hours: withdrawals held, restriction still to come
    ]
    assert (stores["DEMO-003"].can_list, stores["DEMO-003"].can_take_orders) == (False, False)
    assert stores["DEMO-002"].opened_on >= timezone.localdate() - timedelta(days=30)
    assert set(Listing.objects.filter(status="rejected").values_list("sku", flat=True)) == {
        "HOME-900",
        "HOME-901",
    }

    def client_for(username):
        user = get_user_model().objects.get(username=username)
        assert user.check_password("demo-pass-2026"), username
        client = Client()
        client.force_login(user)
        return client

    seller = client_for("demo-seller")
    assert seller.get("/s/DEMO-001/").status_code == 200
    assert seller.get("/s/DEMO-002/").status_code == 200
    assert seller.get("/s/DEMO-003/").status_code == 404

    cs = client_for("demo-cs")
    assert cs.get("/s/DEMO-001/listings/").status_code == 200
    assert cs.get("/s/DEMO-002/").status_code == 404

    for username in ("demo-reviewer", "demo-inspector", "demo-finance", "admin"):
        staff = client_for(username)
        assert staff.get("/admin/").status_code == 200, username

    check_order_states(now)
    check_order_rules()
    check_score_history(seller)
    check_violations_points_and_sanctions(seller)


def check_violations_points_and_sanctions(seller):
    """Violations of every kind the engine and the reviewers record, their points, and the sanctions in
    force, on the demo stores; the seller sees them."""
    # The late-dispatch strikes follow the order timelines; every trading store has some.
    late = Counter(
        Violation.objects.filter(violation_type__code="late_dispatch").values_list("store__code", flat=True)
    )
    assert set(late) == {"DEMO-001", "DEMO-002", "DEMO-003", "DEMO-004"}
    assert all(count > 0 for count in late.values())
    others = Counter(
        Violation.objects.exclude(violation_type__code="late_dispatch").values_list(
            "store__code", "violation_type__code", "cause_kind", "status"
        )
    )
    assert others == {
        ("DEMO-001", "lost_contact", "contact", "active"): 1,
        ("DEMO-001", "negative_service", "order", "active"): 1,
        ("DEMO-001", "not_as_described", "complaint", "active"): 1,
        ("DEMO-001", "not_as_described", "order", "active"): 1,
        ("DEMO-001", "spot_check_failed", "inspection", "active"): 1,
        ("DEMO-002", "not_as_described", "order", "appealed"): 1,
        ("DEMO-002", "spot_check_failed", "inspection", "active"): 2,
        ("DEMO-002", "spot_check_failed", "inspection", "revoked"): 1,
        ("DEMO-003", "not_as_described", "order", "active"): 1,
    }
    # Points: each violation's points once, a revoked one's given back (general ledger, this year).
    year = timezone.localdate().year
    totals = {
        code: sum(points)
        for code, points in _grouped(
            PointEntry.objects.filter(year=year, ledger="general").values_list("store__code", "points")
        ).items()
    }
    assert totals == {"DEMO-001": 2 + 2 + 4 + 4 + 6, "DEMO-002": 4 + 6 + 6, "DEMO-003": 4}
    # Sanctions: the demo's settlement freeze and the deposit-shortfall restrictions.
    assert set(Sanction.objects.values_list("store__code", "kind")) == {
        ("DEMO-001", "withdrawal_hold"),
        ("DEMO-002", "settlement_freeze"),
        ("DEMO-002", "withdrawal_hold"),
        ("DEMO-003", "listing_block"),
        ("DEMO-003", "order_restriction"),
        ("DEMO-003", "withdrawal_hold"),
        ("DEMO-004", "withdrawal_hold"),
    }
    page = seller.get("/s/DEMO-002/violations/").content.decode()
    assert "Failed spot check" in page and "settlement frozen" in page


def _grouped(pairs):
    grouped = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def check_score_history(seller):
    """90 days of scores on the stores open that long, from the day each opened; the dashboard draws them."""
    from merchants.models import StoreScore

    yesterday = timezone.localdate() - timedelta(days=1)
    days = Counter(StoreScore.objects.filter(day__lte=yesterday).values_list("store__code", flat=True))
    assert days["DEMO-001"] == days["DEMO-003"] == 90
    opened = Store.objects.get(code="DEMO-002").opened_on
    assert days["DEMO-002"] == (yesterday - opened).days + 1
    assert len(set(StoreScore.objects.filter(store__code="DEMO-001").values_list("score", flat=True))) > 20
    latest = StoreScore.objects.get(store__code="DEMO-001", day=yesterday)
    assert {"late_dispatch_rate", "valid_tracking_rate", "complaint_rate"} <= set(latest.metrics)
    # Every day is computed as the daily check computes it (none drawn between others): recompute a few.
    from merchants.services import _score_rows, score_rules

    store = Store.objects.get(code="DEMO-001")
    for back in (4, 30, 61):
        day = yesterday - timedelta(days=back)
        (expected,) = _score_rows(store_ids=[store.pk], day=day, rules=score_rules(), now=timezone.now())
        row = StoreScore.objects.get(store=store, day=day)
        assert (row.score, row.product, row.logistics, row.service, row.paid_orders, row.metrics) == (
            expected[2],
            expected[3],
            expected[4],
            expected[5],
            expected[8],
            expected[9],
        ), day
    page = seller.get("/s/DEMO-001/?days=90").content.decode()
    assert 'id="chart-score"' in page and "<polyline" in page


def test_seed_demo_refuses_without_debug():
    with pytest.raises(CommandError, match="only with DEBUG=1"):
        call_command("seed_demo")
    assert not Store.objects.exists()
    assert not Order.objects.exists()


def check_order_states(now):
    per_store = Counter(Order.objects.values_list("store__code", flat=True))
    mystery = Counter(Order.objects.filter(order_no__startswith="MYS-").values_list("store__code", flat=True))
    assert mystery == {"DEMO-001": 4, "DEMO-002": 3}
    assert per_store == {"DEMO-001": 1504, "DEMO-002": 603, "DEMO-003": 200, "DEMO-004": 150}
    by_status = Counter(Order.objects.values_list("status", flat=True))
    assert set(by_status) == set(OrderStatus.values)
    assert all(n > 0 for n in by_status.values()), by_status
    desk = Order.objects.filter(store__code="DEMO-001", status=OrderStatus.PAID)
    assert set(Counter(Order.objects.filter(store__code="DEMO-001").values_list("status", flat=True))) == set(
        OrderStatus.values
    )

    due_soon = desk.filter(dispatch_deadline__gt=now, dispatch_deadline__lte=now + timedelta(hours=6))
    overdue = desk.filter(dispatch_deadline__lt=now)
    assert due_soon.count() >= 8
    assert overdue.count() >= 6
    assert desk.filter(paid_at__gte=now - timedelta(hours=6)).exists()  # paid within the last hours
    assert Order.objects.filter(store__code="DEMO-002", status="paid", dispatch_deadline__lt=now).exists()

    # In transit: shipped orders with their pickup, sorting and in-transit scans; pickup is the dispatch.
    in_transit = Order.objects.filter(status=OrderStatus.SHIPPED, store__code="DEMO-001")
    scanned = in_transit.filter(shipment__events__kind="in_transit").distinct()
    assert scanned.count() >= 10
    for order in scanned[:20]:
        kinds = list(order.shipment.events.order_by("occurred_at").values_list("kind", flat=True))
        assert kinds == ["pickup", "sorting", "in_transit"]
        assert order.dispatched_at == order.shipment.first_pickup_at
    assert not Order.objects.filter(status="shipped", shipment__isnull=True).exists()
    assert not Order.objects.filter(status="paid", shipment__isnull=False).exists()
    assert not Order.objects.filter(status__in=["delivered", "completed"], delivered_at__isnull=True).exists()
    # Some shipped after the deadline (the late ones), most before.
    shipped = Order.objects.filter(dispatched_at__isnull=False)
    assert shipped.filter(shipment__created_at__gt=F("dispatch_deadline")).exists()

    # Platform-shipped and advertising orders; platform orders are shipped by staff, not the store.
    platform = Order.objects.filter(fulfilment="platform")
    assert platform.exists() and Order.objects.filter(is_advertising=True).exists()
    assert not platform.filter(shipment__created_by__is_staff=False).exists()
    assert platform.filter(shipment__isnull=False).exists()

    # Every order's timeline ends in its status; nothing happens after `now`.
    last = {}
    for order_id, to_status in OrderEvent.objects.order_by("created_at", "id").values_list(
        "order_id", "to_status"
    ):
        last[order_id] = to_status
    assert last == dict(Order.objects.values_list("id", "status"))
    assert not OrderEvent.objects.filter(created_at__gt=now).exists()
    assert not TrackingEvent.objects.filter(occurred_at__gt=now).exists()

    # A store under an order restriction took no orders and shipped nothing since it began.
    restriction = Sanction.objects.get(store__code="DEMO-003", kind="order_restriction")
    assert not Order.objects.filter(store__code="DEMO-003", paid_at__gte=restriction.starts_at).exists()
    assert not Shipment.objects.filter(
        order__store__code="DEMO-003", created_at__gte=restriction.starts_at
    ).exists()

    # Completed orders are settled (income, and the fee when there is one).
    completed = Order.objects.filter(status="completed")
    assert SettlementEntry.objects.filter(kind="order_income").count() == completed.count()
    assert (
        SettlementEntry.objects.filter(kind="service_fee").count() == completed.exclude(service_fee=0).count()
    )


def check_order_rules():
    # DEMO-002 opened 12 days ago: 1% on ordinary orders, the category rate on advertising ones.
    lumi = Order.objects.filter(store__code="DEMO-002")
    for order in lumi.filter(is_advertising=False)[:50]:
        assert order.service_fee == (order.amount_paid * Decimal("0.01")).quantize(Decimal("0.01"))
    for order in lumi.filter(is_advertising=True)[:20]:
        assert order.service_fee == (order.amount_paid * Decimal("0.05")).quantize(Decimal("0.01"))
    zone = ZoneInfo("Asia/Shanghai")
    for order in Order.objects.prefetch_related("lines").order_by("id")[::97]:
        promises = [line.promised_dispatch for line in order.lines.all()]
        assert order.dispatch_deadline == order_dispatch_deadline(
            paid_at=order.paid_at, promises=promises, zone=zone, same_day_cutoff_hour=16
        )
        assert order.lines.all()[0].listing.store_id == order.store_id
        assert 2 <= len(order.recipient_name) <= 3
        assert len(order.recipient_phone) == 11 and order.recipient_phone.startswith("1")
        assert order.recipient_region.count(" ") == 2
    # Stored encrypted.
    with connection.cursor() as cursor:
        cursor.execute("SELECT recipient_name FROM orders_order LIMIT 1")
        assert cursor.fetchone()[0].startswith("gAAAA")
    # Tracking numbers are unique and in their carrier's format.
    numbers = list(Shipment.objects.values_list("carrier__code", "tracking_no"))
    assert len(set(numbers)) == len(numbers)


def _rows(order_nos):
    """Everything the two paths wrote for these orders, without ids or write-time stamps."""
    orders = Order.objects.filter(order_no__in=order_nos)
    keys = {o.pk: o.order_no for o in orders}
    out = {}
    for order in orders.prefetch_related("lines", "events"):
        shipment = Shipment.objects.filter(order=order).first()
        out[order.order_no] = {
            "order": {
                f.attname: getattr(order, f.attname)
                for f in Order._meta.concrete_fields
                if f.attname not in ("id", "created_at")
            },
            "lines": [
                (
                    ln.listing_id,
                    ln.sku,
                    ln.title,
                    ln.quantity,
                    ln.unit_price,
                    ln.promised_dispatch,
                    ln.service_fee_rate,
                )
                for ln in order.lines.order_by("id")
            ],
            "events": [
                (e.kind, e.from_status, e.to_status, e.reason, e.data, e.actor_id, e.created_at)
                for e in order.events.order_by("created_at", "id")
            ],
            "shipment": shipment
            and (
                shipment.carrier_id,
                shipment.tracking_no,
                shipment.address_digest,
                shipment.created_at,
                shipment.first_pickup_at,
                shipment.created_by_id,
                [
                    (t.kind, t.occurred_at, t.location, t.description, t.source)
                    for t in shipment.events.order_by("occurred_at", "id")
                ],
            ),
        }
    settlements = sorted(
        (s.store_id, s.kind, s.amount, s.available_at, s.reason, keys[int(s.cause_key.split(":")[1])])
        for s in SettlementEntry.objects.filter(cause_key__startswith="order:")
        if int(s.cause_key.split(":")[1]) in keys
    )
    return out, settlements


def _table_counts():
    return {m._meta.label: m._default_manager.count() for m in apps.get_models()}


def test_the_bulk_writer_writes_what_the_services_write(db):
    """The demo writes old history in bulk: it must leave exactly the rows the services would."""
    now = timezone.now()
    with transaction.atomic():
        merchants = seed_merchants(now=now)
    store = merchants["stores"]["DEMO-001"]
    listings = list(
        Listing.objects.filter(store=store, status="live").select_related("category").order_by("sku")
    )
    ctx = demo._StoreContext(
        store=store,
        store_no=1,
        listings=listings,
        owner=merchants["users"]["demo-seller"],
        platform_actor=merchants["users"]["admin"],
        seller_until=now,
        cutoff_hour=16,
    )
    plans = demo._plans(ctx, now=now)
    # One plan of every shape: its steps, fulfilment, advertising, one or several lines.
    shapes = {}
    for plan in plans:
        shape = (tuple(s.kind for s in plan.steps), plan.fulfilment, plan.is_advertising, len(plan.lines) > 1)
        shapes.setdefault(shape, plan)
    chosen = list(shapes.values())
    kinds = {s.kind for p in chosen for s in p.steps}
    assert kinds == {"ship", "scan", "confirm", "cancel", "refund"}
    assert {p.fulfilment for p in chosen} == {"seller", "platform"}
    order_nos = [p.order_no for p in chosen]
    carriers = {c.code: c for c in demo.Carrier.objects.all()}

    before = _table_counts()
    savepoint = transaction.savepoint()
    for plan in chosen:
        demo._via_services(ctx, plan, carriers)
    through_services = _rows(order_nos)
    services_delta = {k: v - before[k] for k, v in _table_counts().items() if v != before[k]}
    transaction.savepoint_rollback(savepoint)
    assert _table_counts() == before

    writer = demo._BulkWriter()
    for plan in chosen:
        writer.add(store, plan, carriers)
    writer.write()
    bulk_delta = {k: v - before[k] for k, v in _table_counts().items() if v != before[k]}

    assert bulk_delta == services_delta
    assert _rows(order_nos) == through_services
