import pytest
from django.utils import timezone

from inspections.demo import seed_inspections
from inspections.models import Inspection, InspectionStatus, LabReport
from merchants.demo import seed_merchants

pytestmark = pytest.mark.django_db


def test_the_demo_leaves_every_state_and_a_failure_with_an_open_window(media_root):
    now = timezone.now()
    merchants = seed_merchants(now=now)
    inspector = merchants["users"]["demo-inspector"]

    counts = seed_inspections(stores=merchants["stores"], now=now, inspector=inspector)

    assert counts == {
        "selected": 1,
        "purchased": 1,
        "at_lab": 1,
        "passed": 2,
        "failed": 1,
        "cancelled": 1,
        "retest_requested": 1,
        "failed_final": 1,
    }
    failed = Inspection.objects.get(status=InspectionStatus.FAILED)
    assert failed.store.code == "DEMO-001"
    assert failed.retest_deadline > now
    assert LabReport.objects.filter(inspection=failed).count() == 1
    assert Inspection.objects.filter(store__code="DEMO-002").count() == 3
    # Idempotent: a second run adds nothing.
    again = seed_inspections(stores=merchants["stores"], now=now, inspector=inspector)
    assert (again, Inspection.objects.count()) == (counts, 9)
