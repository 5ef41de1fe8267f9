import pytest

from complaints.models import Complaint, ComplaintEvent, ComplaintEvidence
from merchants.staff import COMPLIANCE_REVIEWER
from tests.complaints.factories import file_appeal, open_complaint, record_violation, shipped_order
from tests.merchants.factories import MembershipFactory, StoreFactory


@pytest.fixture(autouse=True)
def _evidence_in_tmp(settings, tmp_path):
    """Evidence files of a test go to its own folder (the storage follows MEDIA_ROOT)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def media_files(_evidence_in_tmp):
    def files():
        root = _evidence_in_tmp
        return (
            sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
            if root.exists()
            else []
        )

    return files


@pytest.fixture
def reviewer(staff_user):
    return staff_user(COMPLIANCE_REVIEWER, username="reviewer")


@pytest.fixture
def other_store(db):
    return StoreFactory()


@pytest.fixture
def cs_user(funded_store):
    return MembershipFactory(store=funded_store, role="customer_service").user


@pytest.fixture
def operator_user(funded_store):
    return MembershipFactory(store=funded_store, role="operator").user


@pytest.fixture
def order(funded_store):
    return shipped_order(funded_store)


@pytest.fixture
def complaint_factory(db):
    return open_complaint


@pytest.fixture
def snapshot():
    """What a refused action must leave as it was: statuses, events, evidence rows."""

    def take(complaint):
        complaint = Complaint.objects.get(pk=complaint.pk)
        return {
            "status": complaint.status,
            "reply_due_at": complaint.reply_due_at,
            "seller_statement": complaint.seller_statement,
            "assigned_to": complaint.assigned_to_id,
            "events": ComplaintEvent.objects.filter(complaint=complaint).count(),
            "evidence": ComplaintEvidence.objects.filter(complaint=complaint).count(),
        }

    return take


@pytest.fixture
def violation_factory(db):
    return record_violation


@pytest.fixture
def appeal_factory(db):
    return file_appeal
