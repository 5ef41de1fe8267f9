"""Celery tasks: thin callers of the order checks."""

import logging

from celery import shared_task

from orders.checks import late_dispatch_check, late_rate_check, tracking_check

logger = logging.getLogger(__name__)


@shared_task(name="orders.tasks.late_dispatch_check")
def late_dispatch_check_task():
    logger.info("late dispatch check: %s", late_dispatch_check())


@shared_task(name="orders.tasks.tracking_check")
def tracking_check_task():
    logger.info("tracking check: %s", tracking_check())


@shared_task(name="orders.tasks.late_rate_check")
def late_rate_check_task():
    logger.info("late rate check: %s", late_rate_check())
