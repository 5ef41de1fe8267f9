"""Celery tasks: thin callers of the check services (each also runs without Celery)."""

import logging

from celery import shared_task

from merchants.services import (
    deposit_shortfall_check,
    point_year_rollover_check,
    sanction_expiry_check,
    settlement_release_check,
)

logger = logging.getLogger(__name__)


@shared_task(name="merchants.tasks.deposit_shortfall_check")
def deposit_shortfall_check_task():
    result = deposit_shortfall_check()
    logger.info(
        "deposit shortfall check: started=%s ended=%s escalated=%s skipped=%s",
        result.started,
        result.ended,
        result.escalated,
        result.skipped,
    )


@shared_task(name="merchants.tasks.sanction_expiry_check")
def sanction_expiry_check_task():
    logger.info("sanction expiry check: %s", sanction_expiry_check())


@shared_task(name="merchants.tasks.settlement_release_check")
def settlement_release_check_task():
    logger.info("settlement release check: %s", settlement_release_check())


@shared_task(name="merchants.tasks.point_year_rollover_check")
def point_year_rollover_check_task():
    logger.info("point year rollover check: %s", point_year_rollover_check())


@shared_task(name="merchants.tasks.experience_score_check")
def experience_score_check_task():
    from merchants.services import experience_score_check

    logger.info("experience score check: %s", experience_score_check())
