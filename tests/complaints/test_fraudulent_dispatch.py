"""Fraudulent dispatch (RULES §4): three or more upheld not-as-described complaints about orders dispatched
on one day (the store's day) make one `fraudulent_dispatch` violation, which climbs its occurrence ladder."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from complaints.fraud import fraudulent_dispatch_check
from complaints.models import ComplaintKind
from complaints.services import complaint_start_review, complaint_uphold
from merchants.models import Sanction, Violation
from orders.models import Order
from tests.complaints.factories import open_complaint, shipped_order

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def upheld_on(store, reviewer, dispatched_at, *, kind=ComplaintKind.NOT_AS_DESCRIBED, decided_at=None):
    order = shipped_order(store)
    Order.objects.filter(pk=order.pk).update(dispatched_at=dispatched_at)
    complaint = open_complaint(store, kind=kind, order=order, actor=reviewer)
    complaint_start_review(complaint=complaint, actor=reviewer)
    return complaint_uphold(complaint=complaint, actor=reviewer, reason="Empty parcel", now=decided_at)


def fraud_violations(store):
    return list(
        Violation.objects.filter(store=store, violation_type__code="fraudulent_dispatch").values_list(
            "cause_kind", "cause_id"
        )
    )


def test_two_in_a_day_are_not_a_violation_and_the_third_is(funded_store, reviewer):
    day = datetime(2026, 11, 20, 10, tzinfo=SHANGHAI)
    upheld_on(funded_store, reviewer, day)
    upheld_on(funded_store, reviewer, day + timedelta(hours=5))
    assert str(fraudulent_dispatch_check()) == "fraudulent_dispatch=0"
    assert fraud_violations(funded_store) == []

    upheld_on(funded_store, reviewer, day + timedelta(hours=8))
    assert str(fraudulent_dispatch_check()) == "fraudulent_dispatch=1"
    assert fraud_violations(funded_store) == [("dispatch_day", f"{funded_store.pk}:2026-11-20")]
    # The first occurrence in the year freezes settlement (the occurrence ladder's first step).
    assert Sanction.objects.live().filter(store=funded_store, kind="settlement_freeze").count() == 1


def test_the_day_is_the_stores_day_not_utc(funded_store, reviewer):
    # 23:30 and 00:30 Shanghai time are two days, though both fall on 2026-11-20 in UTC.
    upheld_on(funded_store, reviewer, datetime(2026, 11, 20, 23, 30, tzinfo=SHANGHAI))
    upheld_on(funded_store, reviewer, datetime(2026, 11, 20, 23, 45, tzinfo=SHANGHAI))
    upheld_on(funded_store, reviewer, datetime(2026, 11, 21, 0, 30, tzinfo=SHANGHAI))
    assert fraudulent_dispatch_check().recorded == 0


def test_a_second_run_writes_nothing(funded_store, reviewer):
    day = datetime(2026, 11, 20, 10, tzinfo=SHANGHAI)
    for hour in range(4):
        upheld_on(funded_store, reviewer, day + timedelta(hours=hour))
    assert fraudulent_dispatch_check().recorded == 1
    violations = Violation.objects.count()
    sanctions = Sanction.objects.count()
    assert fraudulent_dispatch_check().recorded == 0
    assert (Violation.objects.count(), Sanction.objects.count()) == (violations, sanctions)


def test_other_kinds_and_dismissed_complaints_do_not_count(funded_store, reviewer):
    day = datetime(2026, 11, 20, 10, tzinfo=SHANGHAI)
    upheld_on(funded_store, reviewer, day)
    upheld_on(funded_store, reviewer, day)
    upheld_on(funded_store, reviewer, day, kind=ComplaintKind.PRODUCT_QUALITY)
    assert fraudulent_dispatch_check().recorded == 0


def test_complaints_about_one_day_decided_weeks_apart_still_count(funded_store, reviewer):
    day = datetime(2026, 10, 1, 10, tzinfo=SHANGHAI)
    long_ago = timezone.now() - timedelta(days=40)
    upheld_on(funded_store, reviewer, day, decided_at=long_ago)
    upheld_on(funded_store, reviewer, day, decided_at=long_ago)
    assert fraudulent_dispatch_check().recorded == 0
    upheld_on(funded_store, reviewer, day)
    assert fraudulent_dispatch_check().recorded == 1
    violation = Violation.objects.get(violation_type__code="fraudulent_dispatch")
    assert violation.cause_label.startswith("2026-10-01: 3 × ")
