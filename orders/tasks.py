"""Celery tasks: thin callers of the order checks and of the import jobs."""

import logging

from celery import shared_task

from orders.checks import late_dispatch_check, late_rate_check, tracking_check
from orders.jobs import import_job_run, import_jobs_catch_up_check

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


@shared_task(name="orders.tasks.import_job_run", acks_late=True)
def import_job_run_task(job_id):
    job = import_job_run(job_id=job_id)
    if job is None:
        logger.info("import job %s: not queued any more (taken by another run, or done)", job_id)
    else:
        logger.info("import job %s: %s", job.pk, job.status)


@shared_task(name="orders.tasks.import_jobs_catch_up_check")
def import_jobs_catch_up_check_task():
    logger.info("import jobs catch-up check: %s", import_jobs_catch_up_check())
