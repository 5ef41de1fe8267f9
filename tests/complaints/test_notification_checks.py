"""The scheduled notification checks: appeal windows about to close (first and second), and the catch-up of
notification e-mails lost while the broker was down. Both idempotent."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from complaints.checks import appeal_window_closing_check, notification_email_check
from complaints.models import Notification
from complaints.notify import notification_email_send
from complaints.services import appeal_reject, appeal_review_start, notification_send
from merchants.services import violation_revoke
from tests.complaints.factories import file_appeal, record_violation

pytestmark = pytest.mark.django_db


def shown(moment, store):
    return moment.astimezone(ZoneInfo(store.time_zone)).strftime("%Y-%m-%d %H:%M")


def test_owners_are_told_once_when_a_first_or_second_appeal_window_closes_within_the_notice(
    funded_store, owner, reviewer, django_capture_on_commit_callbacks
):
    owner.email = "owner@example.com"
    owner.save()
    now = timezone.now()
    # given a violation whose first window closes in 12 h, one whose closes in 6 days,
    closing = record_violation(
        funded_store, occurred_at=now - timedelta(days=9), recorded_at=now - timedelta(days=6, hours=12)
    )
    record_violation(funded_store, occurred_at=now - timedelta(days=1))
    # one whose first appeal was rejected 14 d 12 h ago (the second window closes in 12 h),
    rejected = record_violation(funded_store, occurred_at=now - timedelta(days=20))
    appeal = file_appeal(rejected, owner, now=now - timedelta(days=19))
    appeal_review_start(appeal=appeal, actor=reviewer, now=now - timedelta(days=15))
    appeal_reject(appeal=appeal, actor=reviewer, reason="No proof.", now=now - timedelta(days=14, hours=12))
    # one under appeal and one revoked, both closing soon but not appealable
    pending = record_violation(funded_store, occurred_at=now - timedelta(days=6, hours=12))
    file_appeal(pending, owner, now=now - timedelta(days=6))
    revoked = record_violation(funded_store, occurred_at=now - timedelta(days=6, hours=12))
    violation_revoke(violation=revoked, actor=reviewer, reason="Misread")
    Notification.objects.all().delete()
    mail.outbox.clear()

    # when the check runs
    with django_capture_on_commit_callbacks(execute=True):
        result = appeal_window_closing_check(now=now)

    # then the owners are told about the two closing windows, on the dashboard and by e-mail
    assert (result.notified, str(result)) == (2, "appeal_window_notices=2")
    appeal.refresh_from_db()
    first_closes = closing.created_at + timedelta(days=7)
    second_closes = appeal.decided_at + timedelta(days=15)
    assert sorted(
        Notification.objects.values_list("kind", "cause_key", "link"), key=lambda row: row[1]
    ) == sorted(
        [
            (
                "appeal_window_closing",
                f"appeal-window:{closing.pk}:1",
                f"/s/{funded_store.code}/violations/{closing.pk}/appeal/",
            ),
            (
                "appeal_window_closing",
                f"appeal-window:{rejected.pk}:2",
                f"/s/{funded_store.code}/violations/{rejected.pk}/appeal/",
            ),
        ],
        key=lambda row: row[1],
    )
    assert sorted(n.message for n in Notification.objects.all()) == sorted(
        [
            f"Violation #{closing.pk}: the window for appeal 1 closes at {shown(first_closes, funded_store)}.",
            f"Violation #{rejected.pk}: the window for appeal 2 closes at {shown(second_closes, funded_store)}.",
        ]
    )
    assert [(m.subject, m.to) for m in mail.outbox] == [
        (f"[{funded_store.code}] appeal window closing", ["owner@example.com"])
    ] * 2

    # when it runs again, an hour later
    with django_capture_on_commit_callbacks(execute=True):
        again = appeal_window_closing_check(now=now + timedelta(hours=1))

    # then nobody is told twice
    assert again.notified == 0
    assert Notification.objects.count() == 2 and len(mail.outbox) == 2


def test_a_window_further_away_than_the_notice_is_told_later(funded_store, owner):
    from merchants.models import RuleParameter

    now = timezone.now()
    violation = record_violation(funded_store, occurred_at=now - timedelta(days=5))  # closes in 2 days
    assert appeal_window_closing_check(now=now).notified == 0

    RuleParameter.objects.filter(key="appeal_window_notice_hours").update(value=72)
    assert appeal_window_closing_check(now=now).notified == 1
    assert Notification.objects.get().cause_key == f"appeal-window:{violation.pk}:1"


def test_emails_lost_while_the_broker_was_down_are_caught_up_once(
    funded_store, owner, django_capture_on_commit_callbacks
):
    owner.email = "owner@example.com"
    owner.save()
    now = timezone.now()

    def made(minutes_ago, *, queued):
        with django_capture_on_commit_callbacks(execute=queued):
            return notification_send(
                store=funded_store,
                kind=Notification.Kind.COMPLAINT_OPENED,
                text="New complaint #%(id)s: %(kind)s.",
                params={"id": minutes_ago, "kind": "counterfeit"},
                now=now - timedelta(minutes=minutes_ago),
            )

    # given a notification whose e-mail went out, one lost 10 minutes ago (broker down), and a fresh one
    # whose queued e-mail may still come
    sent = made(30, queued=True)
    lost = made(10, queued=False)
    fresh = made(1, queued=False)
    assert Notification.objects.get(pk=sent.pk).emailed_at is not None
    mail.outbox.clear()

    # when the catch-up runs
    result = notification_email_check(now=now)

    # then only the lost one is e-mailed, and marked
    assert (result.sent, result.failed) == (1, 0)
    assert [m.body.splitlines()[0] for m in mail.outbox] == ["New complaint #10: counterfeit."]
    assert Notification.objects.get(pk=lost.pk).emailed_at == now
    assert Notification.objects.get(pk=fresh.pk).emailed_at is None

    # when it runs again, and the lost notification's queued task finally arrives
    assert notification_email_check(now=now + timedelta(minutes=1)).sent == 0
    assert notification_email_send(notification_id=lost.pk) == 0

    # then nothing is sent twice
    assert len(mail.outbox) == 1


def test_a_refused_send_is_left_for_the_next_run(funded_store, owner, monkeypatch):
    owner.email = "owner@example.com"
    owner.save()
    now = timezone.now()
    lost = notification_send(
        store=funded_store,
        kind=Notification.Kind.COMPLAINT_OPENED,
        text="New complaint #%(id)s: %(kind)s.",
        params={"id": 1, "kind": "counterfeit"},
        now=now - timedelta(minutes=10),
    )
    Notification.objects.filter(pk=lost.pk).update(emailed_at=None)  # its queued e-mail never went out
    mail.outbox.clear()

    def refuse(self, fail_silently=False):
        raise ConnectionRefusedError("mail server down")

    # given a mail server that refuses
    with monkeypatch.context() as patched:
        patched.setattr("django.core.mail.EmailMessage.send", refuse)
        result = notification_email_check(now=now)

    # then nothing is marked
    assert (result.sent, result.failed, str(result)) == (0, 1, "notification_emails=0 failed=1")
    assert Notification.objects.get(pk=lost.pk).emailed_at is None

    # and once it is back, the next run sends it
    assert notification_email_check(now=now + timedelta(minutes=5)).sent == 1
    assert len(mail.outbox) == 1
