import pytest
from django.utils import timezone

from complaints.demo import seed_complaints
from complaints.models import CallAttempt, Complaint
from merchants.models import Violation
from tests.complaints.factories import shipped_order
from tests.merchants.factories import MembershipFactory, StoreFactory

pytestmark = pytest.mark.django_db


def test_seed_complaints_leaves_every_state_and_one_lost_contact_once(reviewer):
    stores = {code: StoreFactory(code=code) for code in ("DEMO-001", "DEMO-002")}
    for store in stores.values():
        MembershipFactory(store=store, role="owner")
        for _ in range(11):
            shipped_order(store)
    now = timezone.now()
    summary = seed_complaints(stores=stores, now=now, reviewer=reviewer)
    assert summary == {"complaints": "complaints=6", "calls": "calls=3", "lost_contact": "lost_contact=1"}
    states = sorted(Complaint.objects.values_list("store__code", "status", "from_regulator"))
    assert states == [
        ("DEMO-001", "awaiting_seller", False),
        ("DEMO-001", "open", False),
        ("DEMO-001", "open", True),
        ("DEMO-001", "upheld", False),
        ("DEMO-002", "dismissed", False),
        ("DEMO-002", "open", False),
    ]
    again = seed_complaints(stores=stores, now=now, reviewer=reviewer)
    assert again == {"complaints": "complaints=0", "calls": "calls=0", "lost_contact": "lost_contact=0"}
    assert Complaint.objects.count() == 6
    assert CallAttempt.objects.count() == 3
    assert Violation.objects.filter(violation_type__code="lost_contact").count() == 1
