"""Complaints whose seller let the reply deadline pass go to review on their own (the engine's check)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from complaints.checks import complaint_reply_deadline_check
from complaints.models import ComplaintEvent, ComplaintStatus
from complaints.services import complaint_request_info, complaint_seller_reply
from tests.complaints.factories import jpeg, open_complaint

pytestmark = pytest.mark.django_db


def asked_at(store, reviewer, at):
    complaint = open_complaint(store, actor=reviewer, now=at)
    return complaint_request_info(complaint=complaint, actor=reviewer, reason="Your side?", now=at)


def test_an_overdue_complaint_goes_to_review_and_a_second_run_changes_nothing(funded_store, reviewer):
    now = timezone.now()
    overdue = asked_at(funded_store, reviewer, now - timedelta(hours=49))
    waiting = asked_at(funded_store, reviewer, now - timedelta(hours=47))

    assert str(complaint_reply_deadline_check(now=now)) == "complaints_to_review=1"
    overdue.refresh_from_db()
    waiting.refresh_from_db()
    assert (overdue.status, waiting.status) == (ComplaintStatus.UNDER_REVIEW, ComplaintStatus.AWAITING_SELLER)
    event = ComplaintEvent.objects.filter(complaint=overdue).latest("pk")
    assert (event.kind, event.actor, event.reason) == (
        "review_started",
        None,
        "The seller did not reply by the deadline.",
    )

    events = ComplaintEvent.objects.count()
    assert complaint_reply_deadline_check(now=now).moved == 0
    assert ComplaintEvent.objects.count() == events


def test_a_complaint_the_seller_answered_in_time_is_left_alone(funded_store, reviewer, owner):
    now = timezone.now()
    complaint = asked_at(funded_store, reviewer, now - timedelta(hours=47))
    complaint_seller_reply(
        complaint=complaint, statement="Here is the waybill", evidence=[jpeg()], actor=owner
    )
    assert complaint_reply_deadline_check(now=now + timedelta(hours=5)).moved == 0
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.UNDER_REVIEW
    assert ComplaintEvent.objects.filter(complaint=complaint, actor=None, kind="review_started").count() == 0
