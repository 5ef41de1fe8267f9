from datetime import timedelta

import pytest
from django.utils import timezone

from complaints.demo import seed_complaints
from complaints.models import Appeal, AppealEvidence, CallAttempt, Complaint
from merchants.models import Violation
from tests.complaints.factories import record_violation, shipped_order
from tests.merchants.factories import MembershipFactory, StoreFactory

pytestmark = pytest.mark.django_db


def test_seed_complaints_leaves_every_state_and_one_lost_contact_once(reviewer):
    stores = {code: StoreFactory(code=code) for code in ("DEMO-001", "DEMO-002")}
    for store in stores.values():
        MembershipFactory(store=store, role="owner")
        for _ in range(11):
            shipped_order(store)
    now = timezone.now()
    # seed_compliance's serum violation on DEMO-002, five days old
    serum = record_violation(stores["DEMO-002"], "not_as_described", occurred_at=now - timedelta(days=5))
    summary = seed_complaints(stores=stores, now=now, reviewer=reviewer)
    assert summary == {
        "complaints": "complaints=6",
        "calls": "calls=3",
        "lost_contact": "lost_contact=1",
        "appeals": "appeals=2",
    }
    states = sorted(Complaint.objects.values_list("store__code", "status", "from_regulator"))
    assert states == [
        ("DEMO-001", "awaiting_seller", False),
        ("DEMO-001", "open", False),
        ("DEMO-001", "open", True),
        ("DEMO-001", "upheld", False),
        ("DEMO-002", "dismissed", False),
        ("DEMO-002", "open", False),
    ]
    # A decided appeal (rejected: the second is still possible) and a pending one.
    appeals = sorted(Appeal.objects.values_list("store__code", "number", "status", "violation__cause_kind"))
    assert appeals == [("DEMO-001", 1, "rejected", "complaint"), ("DEMO-002", 1, "submitted", "manual")]
    assert Appeal.objects.get(store__code="DEMO-002").violation == serum
    assert Appeal.objects.get(store__code="DEMO-002").decide_by > now
    assert AppealEvidence.objects.count() == 2
    again = seed_complaints(stores=stores, now=now, reviewer=reviewer)
    assert again == {
        "complaints": "complaints=0",
        "calls": "calls=0",
        "lost_contact": "lost_contact=0",
        "appeals": "appeals=0",
    }
    assert Appeal.objects.count() == 2
    assert Complaint.objects.count() == 6
    assert CallAttempt.objects.count() == 3
    assert Violation.objects.filter(violation_type__code="lost_contact").count() == 1
