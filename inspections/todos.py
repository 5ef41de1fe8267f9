"""The inspections app's to-dos on the seller dashboard (registered with merchants.todos in ready())."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Min
from django.urls import reverse
from django.utils.translation import gettext as _

from inspections.models import Inspection, InspectionStatus
from merchants import roles
from merchants.todos import Todo


def inspection_todos(store, now: datetime) -> list[Todo]:
    """Failed spot checks whose re-test window is still open, the window closing first. One aggregate."""
    row = Inspection.objects.filter(
        store=store, status=InspectionStatus.FAILED, retest_deadline__gt=now
    ).aggregate(n=Count("id"), first=Min("retest_deadline"))
    return [
        Todo(
            key="retest_windows",
            label=_("Failed spot checks you can still have re-tested"),
            count=row["n"],
            deadline=row["first"],
            url=reverse("inspection-list", args=[store.code]),
            # everyone sees it; only the owner may ask (the re-test is paid)
            capability=roles.VIEW_STORE,
        )
    ]
