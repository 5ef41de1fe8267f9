"""Celery tasks: thin callers of the complaint services and checks."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="complaints.tasks.lost_contact_check")
def lost_contact_check_task():
    from complaints.checks import lost_contact_check

    logger.info("lost contact check: %s", lost_contact_check())


@shared_task(name="complaints.tasks.fraudulent_dispatch_check")
def fraudulent_dispatch_check_task():
    from complaints.fraud import fraudulent_dispatch_check

    logger.info("fraudulent dispatch check: %s", fraudulent_dispatch_check())


@shared_task(name="complaints.tasks.complaint_reply_deadline_check")
def complaint_reply_deadline_check_task():
    from complaints.checks import complaint_reply_deadline_check

    logger.info("complaint reply deadline check: %s", complaint_reply_deadline_check())


@shared_task(name="complaints.tasks.appeal_window_closing_check")
def appeal_window_closing_check_task():
    from complaints.checks import appeal_window_closing_check

    logger.info("appeal window closing check: %s", appeal_window_closing_check())


@shared_task(name="complaints.tasks.notification_emails_check")
def notification_emails_check_task():
    from complaints.checks import notification_email_check

    logger.info("notification e-mail catch-up: %s", notification_email_check())


@shared_task(name="complaints.tasks.notification_email", autoretry_for=(OSError,), max_retries=3)
def notification_email_task(notification_id: int):
    from complaints.notify import notification_email_send

    sent = notification_email_send(notification_id=notification_id)
    logger.info("notification %s: e-mailed to %d owner(s)", notification_id, sent)
