"""Single flight (given / when / then): while another run of a check holds its lock, a run does nothing
and says so; once the lock is free, the same run does the work. On PostgreSQL the lock is a real advisory
lock held from another connection; on any database, the checks are also run with a lock that reports
"held elsewhere", so each check is seen to honour it."""

from contextlib import contextmanager
from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from complaints import checks as complaint_checks
from complaints import fraud
from complaints.checks import lost_contact_check
from complaints.fraud import fraudulent_dispatch_check
from complaints.models import ComplaintKind
from complaints.services import call_attempt_record, complaint_start_review, complaint_uphold
from merchants import services as merchant_services
from merchants.models import DepositEntry, PointEntry, Sanction, StoreEvent, Violation
from merchants.services import sanction_expiry_check, store_suspend
from merchants.staff import COMPLIANCE_REVIEWER
from orders import checks as order_checks
from orders.checks import late_dispatch_check, late_rate_check
from orders.models import Order
from orders.services import order_ship
from tests.complaints.factories import open_complaint, shipped_order
from tests.merchants.factories import ListingFactory
from tests.orders.factories import carrier, make_order

ZONE = timezone.get_default_timezone()


def late_order(store, reviewer, now):
    make_order(store, paid_at=now - timedelta(days=3), promise="24h")


def late_product(store, reviewer, now):
    """Four orders of one product, all late, on three of the last seven days: the severe rate."""
    ListingFactory(store=store, sku="SKU-1")
    today = timezone.localdate(now, ZONE)
    for days_ago in (1, 3, 5):
        for _ in range(4):
            paid = datetime.combine(today - timedelta(days=days_ago + 1), time(10), tzinfo=ZONE)
            order = make_order(store, paid_at=paid, promise="24h", sku="SKU-1")
            order_ship(
                order=order,
                carrier=carrier("sf"),
                tracking_no=f"SF{order.pk:013d}",
                now=order.dispatch_deadline + timedelta(hours=1),
            )


def unanswered_calls(store, reviewer, now):
    order = make_order(store, paid_at=now - timedelta(days=2))
    for hours_ago in (20, 10, 0):
        call_attempt_record(order=order, called_at=now - timedelta(hours=hours_ago), connected=False, now=now)


def empty_parcels(store, reviewer, now):
    day = datetime.combine(timezone.localdate(now, ZONE) - timedelta(days=2), time(10), tzinfo=ZONE)
    for hour in range(3):
        order = shipped_order(store)
        Order.objects.filter(pk=order.pk).update(dispatched_at=day + timedelta(hours=hour))
        complaint = open_complaint(store, kind=ComplaintKind.NOT_AS_DESCRIBED, order=order, actor=reviewer)
        complaint_start_review(complaint=complaint, actor=reviewer)
        complaint_uphold(complaint=complaint, actor=reviewer, reason="Empty parcel")


def ended_suspension(store, reviewer, now):
    store_suspend(store=store, until=now + timedelta(minutes=5), actor=reviewer, reason="points")


# name, the lock's name, where the check looks the lock up, the check, the scene that makes it due work
CHECKS = [
    ("late_dispatch", "late_dispatch_check", order_checks, late_dispatch_check, late_order),
    ("late_rate", "late_rate_check", order_checks, late_rate_check, late_product),
    ("lost_contact", "lost_contact_check", complaint_checks, lost_contact_check, unanswered_calls),
    ("fraudulent_dispatch", "fraudulent_dispatch_check", fraud, fraudulent_dispatch_check, empty_parcels),
    ("sanction_expiry", "sanction_expiry_check", merchant_services, sanction_expiry_check, ended_suspension),
]
PARAMS = [pytest.param(*check[1:], id=check[0]) for check in CHECKS]


def written():
    return {
        "violations": Violation.objects.count(),
        "sanctions": Sanction.objects.count(),
        "store events": StoreEvent.objects.count(),
        "deposit entries": DepositEntry.objects.count(),
        "point entries": PointEntry.objects.count(),
    }


def run(check, now):
    # An hour on: the scenes' work is all due by then (the suspension ends after 5 minutes).
    return check(now=now + timedelta(hours=1))


@pytest.mark.django_db
@pytest.mark.parametrize("lock_name, module, check, scene", PARAMS)
def test_a_check_whose_lock_is_held_elsewhere_does_nothing(
    monkeypatch, funded_store, staff_user, lock_name, module, check, scene
):
    # given work the check would do
    now = timezone.now().replace(microsecond=0)
    scene(funded_store, staff_user(COMPLIANCE_REVIEWER), now)
    before = written()
    asked = []

    @contextmanager
    def held_elsewhere(name):
        asked.append(name)
        yield False

    monkeypatch.setattr(module, "single_flight", held_elsewhere)
    # when it runs while another run holds its lock
    result = run(check, now)
    # then it asked for its own lock, says it was skipped, and wrote nothing
    assert asked == [lock_name]
    assert (result.skipped, str(result).endswith(" (another run holds the lock)")) == (True, True)
    assert written() == before
    # and once the lock is free it does the work
    monkeypatch.undo()
    assert run(check, now).skipped is False
    assert written() != before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lock_name, module, check, scene", PARAMS)
def test_a_second_run_started_together_does_not_run(
    funded_store, staff_user, lock_name, module, check, scene
):
    import zlib

    import psycopg
    from django.conf import settings

    # given work the check would do, and another run holding the check's advisory lock
    now = timezone.now().replace(microsecond=0)
    scene(funded_store, staff_user(COMPLIANCE_REVIEWER), now)
    before = written()
    db = settings.DATABASES["default"]
    key = zlib.crc32(lock_name.encode()) - 2**31
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=connection.settings_dict["NAME"]
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        # when this run starts, then it does nothing
        assert run(check, now).skipped is True
        assert written() == before
        other.execute("SELECT pg_advisory_unlock(%s)", [key])
    # and once the other run is over, it does the work
    assert run(check, now).skipped is False
    assert written() != before
