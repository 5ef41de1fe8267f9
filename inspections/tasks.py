"""Celery tasks: thin callers of the inspection services (each also runs without Celery)."""

import logging

from celery import shared_task

from inspections.checks import sampling_check

logger = logging.getLogger(__name__)


@shared_task(name="inspections.tasks.sampling_weekly_round")
def sampling_weekly_round_task():
    logger.info("spot-check sampling: %s", sampling_check())
