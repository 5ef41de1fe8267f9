"""The complaints app's to-dos on the seller dashboard (registered with merchants.todos in ready())."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Min
from django.urls import reverse
from django.utils.translation import gettext as _

from complaints.models import Complaint, ComplaintStatus
from complaints.selectors import appeal_rules, first_appeal_windows, second_appeal_windows
from merchants import roles
from merchants.todos import Todo


def complaint_todos(store, now: datetime) -> list[Todo]:
    """Complaints waiting for the seller's statement whose reply deadline has not passed, the nearest first.
    One aggregate on the store's (status, deadline) index."""
    row = Complaint.objects.filter(
        store=store, status=ComplaintStatus.AWAITING_SELLER, carrier_desk=False, reply_due_at__gt=now
    ).aggregate(n=Count("id"), first=Min("reply_due_at"))
    return [
        Todo(
            key="complaints_to_answer",
            label=_("Complaints awaiting your reply"),
            count=row["n"],
            deadline=row["first"],
            url=f"{reverse('complaint-list', args=[store.code])}?status={ComplaintStatus.AWAITING_SELLER}",
            capability=roles.REPLY_COMPLAINTS,
        )
    ]


def appeal_window_todos(store, now: datetime) -> list[Todo]:
    """Violations the store may still appeal against: never appealed and inside the first window, or
    rejected once and inside the second (RULES §10), the window closing first. Only owners appeal, so only
    they see it. Three queries: the rules, one aggregate per window."""
    rules = appeal_rules()
    first = (
        first_appeal_windows(now=now, rules=rules)
        .filter(store=store)
        .aggregate(n=Count("id"), closes=Min("window_closes_at"))
    )
    second = (
        second_appeal_windows(now=now, rules=rules)
        .filter(store=store)
        .aggregate(n=Count("id"), closes=Min("window_closes_at"))
    )
    closes = [row["closes"] for row in (first, second) if row["closes"] is not None]
    return [
        Todo(
            key="appeal_windows",
            label=_("Violations you can still appeal"),
            count=first["n"] + second["n"],
            deadline=min(closes) if closes else None,
            url=reverse("violations", args=[store.code]),
            capability=roles.APPEAL_VIOLATIONS,
        )
    ]
