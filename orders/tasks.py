"""Celery tasks: thin callers of the order checks."""

import logging

from celery import shared_task

from orders.checks import late_dispatch_check

logger = logging.getLogger(__name__)


@shared_task(name="orders.tasks.late_dispatch_check")
def late_dispatch_check_task():
    logger.info("late dispatch check: %s", late_dispatch_check())
