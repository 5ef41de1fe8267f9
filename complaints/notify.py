"""E-mail for seller notifications: to the store's owners, in the site's language, through the configured
backend (the console when none is configured). Each notification is e-mailed once: `emailed_at` is set in
the transaction that sends it, so the queued task and the catch-up check never both send it, and a failed
send leaves it for the next try."""

from __future__ import annotations

from django.conf import global_settings, settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from complaints.models import Notification
from merchants.models import Membership

CONSOLE_BACKEND = "django.core.mail.backends.console.EmailBackend"


def mail_connection():
    """The configured mail backend; Django's SMTP default counts as not configured: the console then."""
    if settings.EMAIL_BACKEND == global_settings.EMAIL_BACKEND and not settings.is_overridden(
        "EMAIL_BACKEND"
    ):
        return get_connection(CONSOLE_BACKEND)
    return get_connection()


@transaction.atomic
def notification_email_send(*, notification_id: int, base_url: str = "", now=None) -> int:
    """Send one notification to the owners of its store who have an e-mail address, unless it was e-mailed
    already. Returns to how many. The row stays locked while the mail goes out; if sending raises, nothing
    is marked and the next try (the task's retry or the catch-up check) sends it. A store without an owner
    address is marked too: there is nobody to catch up."""
    notification = (
        Notification.objects.select_for_update(of=("self",))
        .select_related("store")
        .filter(pk=notification_id, emailed_at__isnull=True)
        .first()
    )
    if notification is None:
        return 0
    recipients = sorted(
        set(
            Membership.objects.filter(store=notification.store, role=Membership.Role.OWNER)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )
    notification.emailed_at = now or timezone.now()
    notification.save(update_fields=["emailed_at"])
    if not recipients:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("[%(store)s] %(kind)s") % {
            "store": notification.store.code,
            "kind": notification.get_kind_display(),
        }
        body = notification.message
        if notification.link:
            body += "\n\n" + _("Open it in the back office: %(link)s") % {
                "link": base_url + notification.link
            }
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        connection=mail_connection(),
    )
    return message.send()
