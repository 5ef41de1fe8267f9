"""The lost-contact check (RULES §6): three unconnected calls about one order within 24 hours, with no
connected call in between, and the store has lost contact with that buyer.

Set-based: one query over the recent unconnected calls (a partial index) finds each call that closes such a
run — counting, for every unconnected call, the unconnected calls of its order in the window before it and
after the order's last connected call before it — and leaves out the orders already recorded with an
anti-join on the violations' unique key. Idempotent: one `lost_contact` violation per order (cause "contact",
the order's id); the deposit deduction comes with the violation type. Single-flight.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import (
    CharField,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from django.utils.translation import gettext_noop

from complaints.models import CallAttempt, Complaint, ComplaintStatus
from complaints.services import complaint_start_review
from merchants.errors import DomainError
from merchants.locks import single_flight
from merchants.models import Violation
from merchants.selectors import rule_decimals
from merchants.services import ViolationCause, violations_record_many

BATCH = 2000
TYPE_CODE = "lost_contact"
CAUSE_KIND = "contact"
LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class LostContactResult:
    recorded: int = 0
    skipped: bool = False

    def __str__(self):
        skipped = " (another run holds the lock)" if self.skipped else ""
        return f"lost_contact={self.recorded}{skipped}"


def lost_contact_due(*, now: datetime, calls: int, window: timedelta, lookback: timedelta):
    """(order id, store id, order number, time of the call that closed the run) for each order with a run of
    `calls` unconnected calls within `window` and no connected call in between, not yet recorded."""
    last_connected = (
        CallAttempt.objects.filter(
            order=OuterRef("order"), connected=True, called_at__lt=OuterRef("called_at")
        )
        .order_by("-called_at")
        .values("called_at")[:1]
    )
    unconnected_in_run = (
        CallAttempt.objects.filter(
            order=OuterRef("order"),
            connected=False,
            called_at__lte=OuterRef("called_at"),
            called_at__gte=OuterRef("window_start"),
            called_at__gt=OuterRef("last_connected_at"),
        )
        .order_by()
        .values("order")
        .annotate(n=Count("pk"))
        .values("n")
    )
    recorded = Violation.objects.filter(
        violation_type__code=TYPE_CODE,
        cause_kind=CAUSE_KIND,
        cause_id=Cast(OuterRef("order_id"), CharField()),
    )
    return (
        CallAttempt.objects.filter(connected=False, called_at__gte=now - lookback, called_at__lte=now)
        .annotate(
            window_start=ExpressionWrapper(F("called_at") - Value(window), output_field=DateTimeField()),
            last_connected_at=Coalesce(
                Subquery(last_connected, output_field=DateTimeField()),
                Value(LONG_AGO, output_field=DateTimeField()),
            ),
        )
        .annotate(run=Subquery(unconnected_in_run))
        .filter(run__gte=calls)
        .exclude(Exists(recorded))
        .order_by("order_id", "called_at")
        .values_list("order_id", "store_id", "order__order_no", "called_at")
    )


def lost_contact_check(*, now: datetime | None = None) -> LostContactResult:
    now = now or timezone.now()
    result = LostContactResult()
    params = rule_decimals("lost_contact_calls", "lost_contact_window_hours", "engine_lookback_days")
    calls = int(params["lost_contact_calls"])
    window = timedelta(hours=int(params["lost_contact_window_hours"]))
    lookback = timedelta(days=int(params["engine_lookback_days"]))
    with single_flight("lost_contact_check") as acquired:
        if not acquired:
            result.skipped = True
            return result

        def causes() -> Iterator[ViolationCause]:
            seen = set()
            for order_id, store_id, order_no, called_at in lost_contact_due(
                now=now, calls=calls, window=window, lookback=lookback
            ).iterator(chunk_size=BATCH):
                if order_id in seen:  # the first run of an order is its cause
                    continue
                seen.add(order_id)
                yield ViolationCause(
                    store_id=store_id,
                    cause_kind=CAUSE_KIND,
                    cause_id=str(order_id),
                    cause_label=f"{order_no} ({calls} calls)"[:100],
                    occurred_at=called_at,
                )

        batch = []
        for cause in causes():
            batch.append(cause)
            if len(batch) >= BATCH:
                result.recorded += len(violations_record_many(type_code=TYPE_CODE, causes=batch, now=now))
                batch = []
        if batch:
            result.recorded += len(violations_record_many(type_code=TYPE_CODE, causes=batch, now=now))
    return result


# --- Reply deadlines ------------------------------------------------------------------------------------


@dataclass
class ReplyDeadlineResult:
    moved: int = 0
    skipped: bool = False

    def __str__(self):
        skipped = " (another run holds the lock)" if self.skipped else ""
        return f"complaints_to_review={self.moved}{skipped}"


REPLY_DEADLINE_BATCH = 500


def complaint_reply_deadline_check(*, now: datetime | None = None) -> ReplyDeadlineResult:
    """Complaints whose seller let the reply deadline pass go to review: the platform decides on what it has
    (RULES §8). One transition per complaint through `complaint_start_review` (its event says why); a
    complaint the seller answered meanwhile, or that a reviewer moved, is left alone by the service's guard.
    Idempotent (a second run finds nothing awaiting the seller past its deadline) and single-flight."""
    now = now or timezone.now()
    result = ReplyDeadlineResult()
    with single_flight("complaint_reply_deadline_check") as acquired:
        if not acquired:
            result.skipped = True
            return result
        overdue = list(
            Complaint.objects.filter(status=ComplaintStatus.AWAITING_SELLER, reply_due_at__lt=now)
            .order_by("reply_due_at", "pk")
            .values_list("pk", flat=True)[:REPLY_DEADLINE_BATCH]
        )
        for complaint in Complaint.objects.filter(pk__in=overdue).order_by("reply_due_at", "pk"):
            try:
                complaint_start_review(
                    complaint=complaint,
                    actor=None,
                    reason=gettext_noop("The seller did not reply by the deadline."),
                    now=now,
                )
            except DomainError:  # replied or moved between the query and the lock
                continue
            result.moved += 1
    return result


# --- Appeal windows closing -------------------------------------------------------------------------


@dataclass
class AppealWindowNoticeResult:
    notified: int = 0
    skipped: bool = False

    def __str__(self):
        skipped = " (another run holds the lock)" if self.skipped else ""
        return f"appeal_window_notices={self.notified}{skipped}"


APPEAL_NOTICE_BATCH = 2000


def appeal_window_cause_key(violation_id: int, number: int) -> str:
    """One notice per violation and appeal window (1: the first, 2: the second, after a rejection)."""
    return f"appeal-window:{violation_id}:{number}"


def appeal_windows_closing(*, now: datetime, notice: timedelta, rules) -> list[tuple]:
    """(violation id, store id, store code, store time zone, appeal number, closes at) of every appeal window
    open now that closes within `notice` and whose owners were not told yet: two queries, each on a partial
    index (active violations by their recorded time; rejected appeals by their decision time), the notices
    already sent left out by an anti-join on their cause key."""
    from django.db.models.functions import Concat

    from complaints.models import Notification
    from complaints.selectors import first_appeal_windows, second_appeal_windows

    def told(violation_ref: str, number):
        key = Concat(
            Value("appeal-window:"),
            Cast(OuterRef(violation_ref), CharField()),
            Value(":"),
            Cast(number, CharField()),
            output_field=CharField(),
        )
        return Exists(Notification.objects.filter(cause_key=key))

    first = (
        first_appeal_windows(now=now, rules=rules)
        .filter(window_closes_at__lte=now + notice)
        .exclude(told("pk", Value(1)))
        .order_by("window_closes_at", "pk")
        .values_list("pk", "store_id", "store__code", "store__time_zone", Value(1), "window_closes_at")
    )
    second = (
        second_appeal_windows(now=now, rules=rules)
        .filter(window_closes_at__lte=now + notice)
        .exclude(told("violation_id", OuterRef("number") + 1))
        .order_by("window_closes_at", "pk")
        .values_list(
            "violation_id",
            "store_id",
            "store__code",
            "store__time_zone",
            F("number") + 1,
            "window_closes_at",
        )
    )
    return [*first[:APPEAL_NOTICE_BATCH], *second[:APPEAL_NOTICE_BATCH]]


def appeal_window_closing_check(*, now: datetime | None = None) -> AppealWindowNoticeResult:
    """Tell the owners when a violation's appeal window — the first (`appeal_window_days` after it was
    recorded) or the second (`second_appeal_window_days` after the first appeal's rejection) — closes within
    `appeal_window_notice_hours`: one notification per violation and window, on the dashboard and by
    e-mail. Idempotent (a unique cause key per window; a second run finds nothing) and single-flight."""
    from zoneinfo import ZoneInfo

    from django.db import IntegrityError, transaction
    from django.urls import reverse

    from complaints.models import Notification
    from complaints.selectors import appeal_rules
    from complaints.services import notification_send
    from merchants.models import Store

    now = now or timezone.now()
    result = AppealWindowNoticeResult()
    notice = timedelta(hours=int(rule_decimals("appeal_window_notice_hours")["appeal_window_notice_hours"]))
    with single_flight("appeal_window_closing_check") as acquired:
        if not acquired:
            result.skipped = True
            return result
        due = appeal_windows_closing(now=now, notice=notice, rules=appeal_rules())
        stores = {store.pk: store for store in Store.objects.filter(pk__in={row[1] for row in due})}
        for violation_id, store_id, store_code, time_zone, number, closes_at in due:
            try:
                with transaction.atomic():
                    notification_send(
                        store=stores[store_id],
                        kind=Notification.Kind.APPEAL_WINDOW_CLOSING,
                        text=gettext_noop(
                            "Violation #%(violation)s: the window for appeal %(number)s closes at %(closes)s."
                        ),
                        params={
                            "violation": violation_id,
                            "number": number,
                            "closes": closes_at.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m-%d %H:%M"),
                        },
                        link=reverse("appeal-create", args=[store_code, violation_id]),
                        cause_key=appeal_window_cause_key(violation_id, number),
                        now=now,
                    )
            except IntegrityError:  # another writer told them meanwhile
                continue
            result.notified += 1
    return result


# --- Notification e-mails lost while the broker was down ---------------------------------------------


@dataclass
class NotificationEmailResult:
    sent: int = 0
    failed: int = 0
    skipped: bool = False

    def __str__(self):
        skipped = " (another run holds the lock)" if self.skipped else ""
        failed = f" failed={self.failed}" if self.failed else ""
        return f"notification_emails={self.sent}{failed}{skipped}"


NOTIFICATION_EMAIL_BATCH = 500
# The queued task normally sends within seconds of the commit; the catch-up leaves it that long first.
NOTIFICATION_EMAIL_GRACE = timedelta(minutes=5)


def notification_email_check(*, now: datetime | None = None) -> NotificationEmailResult:
    """E-mail the notifications whose e-mail never went out (queued while the broker was down, or a worker
    died), oldest first, within the engine's look-back. One query on the partial index of notifications not
    e-mailed; each send marks its row (`notification_email_send`), so a second run sends nothing and the
    queued task, should it still come, finds it done. A mail server that refuses stops the run: the next
    run tries again. Single-flight."""
    import logging

    from complaints.models import Notification
    from complaints.notify import notification_email_send

    now = now or timezone.now()
    result = NotificationEmailResult()
    lookback = timedelta(days=int(rule_decimals("engine_lookback_days")["engine_lookback_days"]))
    with single_flight("notification_email_check") as acquired:
        if not acquired:
            result.skipped = True
            return result
        pending = list(
            Notification.objects.filter(
                emailed_at__isnull=True,
                created_at__lte=now - NOTIFICATION_EMAIL_GRACE,
                created_at__gte=now - lookback,
            )
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:NOTIFICATION_EMAIL_BATCH]
        )
        for notification_id in pending:
            try:
                notification_email_send(notification_id=notification_id, now=now)
            except OSError as exc:  # the mail server is down too: the next run tries again
                logging.getLogger(__name__).warning(
                    "notification %s: e-mail failed (%s); caught up later", notification_id, exc
                )
                result.failed += 1
                break
            result.sent += 1
    return result
