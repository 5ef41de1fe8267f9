"""The complaints app's notifications on the seller dashboard (registered with merchants.notices in ready())."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from complaints.selectors import notifications_for, notifications_unread_count
from merchants.notices import Notice, NoticeFeed


def complaint_notices(user, store, limit: int) -> NoticeFeed:
    """The store's latest notifications, unread first, and how many are unread. Two queries."""
    notifications = notifications_for(user, store, limit=limit)
    return NoticeFeed(
        key="complaints",
        title=_("Notifications"),
        unread=notifications_unread_count(user, store),
        mark_read_url=reverse("notifications-read", args=[store.code]),
        notices=[
            Notice(
                kind=notification.kind,
                kind_label=notification.get_kind_display(),
                message=notification.message,
                link=notification.link,
                created_at=notification.created_at,
                unread=not notification.is_read,
            )
            for notification in notifications
        ],
    )
