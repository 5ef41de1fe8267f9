"""The complaints app's to-dos on the seller dashboard (registered with merchants.todos in ready())."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Min
from django.urls import reverse
from django.utils.translation import gettext as _

from complaints.models import Complaint, ComplaintStatus
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
