from decimal import Decimal

import pytest
from django.utils import timezone

from merchants.errors import ActionForbidden, TransitionRefused
from merchants.models import DepositEntry, PointEntry, Sanction, StoreStatus, Violation
from merchants.selectors import deposit_balance
from merchants.services import deposit_record, violation_record, violation_revoke

pytestmark = pytest.mark.django_db


def record(store, code, cause_id, **kwargs):
    return violation_record(store=store, type_code=code, cause_kind="order", cause_id=cause_id, **kwargs)


def points(store, ledger="general"):
    return sum(PointEntry.objects.filter(store=store, ledger=ledger).values_list("points", flat=True))


def test_a_violation_is_recorded_once_per_cause(funded_store):
    first, created = record(funded_store, "lost_contact", "42")
    again, created_again = record(funded_store, "lost_contact", "42")
    assert (created, created_again, first.pk) == (True, False, again.pk)
    assert Violation.objects.count() == 1
    assert points(funded_store) == 2
    assert deposit_balance(store=funded_store) == Decimal("1500.00")  # 2,000 − the 500 lost-contact deduction


def test_compensation_follows_the_rule_for_the_promise(funded_store):
    record(funded_store, "late_dispatch", "1", amount_paid=Decimal("250.00"), promised_hours=48)
    record(funded_store, "out_of_stock", "2", amount_paid=Decimal("250.00"), promised_hours=72)
    record(funded_store, "false_dispatch", "3", amount_paid=Decimal("30.00"))
    amounts = list(
        DepositEntry.objects.filter(kind="compensation").order_by("id").values_list("amount", flat=True)
    )
    assert amounts == [
        Decimal("-3.00"),
        Decimal("-8.00"),
        Decimal("-8.00"),
    ]  # 1% of 250; 3% of 250 = 7.5; 25% of 30


def test_crossing_24_general_points_blocks_listing_for_7_days_once(funded_store):
    for i in range(5):
        record(funded_store, "not_as_described", str(i))  # 4 points each: 20
    assert not Sanction.objects.filter(store=funded_store, kind="listing_block").exists()
    record(funded_store, "not_as_described", "5")  # 24
    record(funded_store, "negative_service", "6")  # 26: no second block
    blocks = Sanction.objects.filter(store=funded_store, kind="listing_block")
    assert blocks.count() == 1
    block = blocks.get()
    assert round((block.ends_at - block.starts_at).total_seconds() / 86400) == 7
    assert funded_store.events.filter(kind="ladder_warning").count() == 1  # the 12-point step, once


def test_serious_points_suspend_the_store(funded_store):
    record(funded_store, "counterfeit", "9")  # 12 serious points: suspended 7 days
    funded_store.refresh_from_db()
    assert funded_store.status == StoreStatus.SUSPENDED


def test_revoke_puts_ledger_and_points_back_exactly(funded_store):
    before = deposit_balance(store=funded_store)
    violation, _ = record(funded_store, "spot_check_failed", "7")
    for i in range(5):
        record(funded_store, "not_as_described", f"n{i}")  # 6 + 20 = 26 ≥ 24: listing blocked
    assert Sanction.objects.live().filter(store=funded_store, kind="listing_block").exists()
    violation_revoke(violation=violation, actor=None, reason="Appeal won")
    assert deposit_balance(store=funded_store) == before
    assert points(funded_store) == 20
    assert not Sanction.objects.live().filter(store=funded_store, kind="listing_block").exists()
    violation.refresh_from_db()
    assert violation.status == "revoked"
    with pytest.raises(TransitionRefused):
        violation_revoke(violation=violation, actor=None, reason="again")
    assert DepositEntry.objects.filter(kind="reversal").count() == 1


def test_revoking_a_suspending_violation_reinstates_the_store(funded_store):
    violation, _ = record(funded_store, "counterfeit", "c1")
    violation_revoke(violation=violation, actor=None, reason="Appeal won")
    funded_store.refresh_from_db()
    assert funded_store.status == StoreStatus.ACTIVE
    assert deposit_balance(store=funded_store) == Decimal("2000.00")


def test_recording_needs_the_permission(funded_store, staff_user):
    with pytest.raises(ActionForbidden):
        record(funded_store, "manual", "m1", actor=staff_user("finance"))
    assert not Violation.objects.exists()


def test_a_deduction_already_recorded_elsewhere_is_not_doubled(funded_store):
    deposit_record(store=funded_store, kind="top_up", amount=Decimal("1"), reason="x", now=timezone.now())
    violation, _ = record(funded_store, "lost_contact", "z")
    assert DepositEntry.objects.filter(cause_key=f"violation:{violation.pk}:deduction").count() == 1


def test_reviewer_records_and_revokes_in_the_admin(client, funded_store, staff_user):
    from django.urls import reverse

    from merchants.models import ViolationType

    client.force_login(staff_user("compliance reviewer"))
    response = client.post(
        reverse("admin:merchants_violation_add"),
        {
            "store": funded_store.pk,
            "violation_type": ViolationType.objects.get(code="manual").pk,
            "cause_kind": "manual",
            "cause_id": "R-1",
            "cause_label": "",
            "points": "3",
            "reason": "Misleading live stream",
        },
    )
    assert response.status_code == 302
    violation = Violation.objects.get()
    assert (violation.points, points(funded_store)) == (3, 3)
    assert client.get(reverse("admin:merchants_violation_changelist")).status_code == 200
    response = client.post(
        reverse("admin:merchants_violation_revoke", args=[violation.pk]), {"reason": "Mistake"}
    )
    assert response.status_code == 302
    assert points(funded_store) == 0


def test_finance_cannot_record_violations_in_the_admin(client, staff_user):
    from django.urls import reverse

    client.force_login(staff_user("finance"))
    assert client.get(reverse("admin:merchants_violation_add")).status_code == 403


def test_seller_sees_violations_points_and_the_next_threshold(client, funded_store, owner, store_factory):
    from django.urls import reverse

    for i in range(4):
        record(funded_store, "not_as_described", f"v{i}")  # 16 general points
    client.force_login(owner)
    page = client.get(reverse("violations", args=[funded_store.code])).content.decode()
    assert "Goods not as described" in page
    assert "Thresholds reached: 12" in page
    assert "Next threshold: 24 points (no new listings)" in page
    assert client.get(reverse("violations", args=[store_factory().code])).status_code == 404
