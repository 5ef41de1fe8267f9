"""Queueing work for Celery from a request: after the commit, and never failing the request.

A web request that changed data and wants follow-up work (an import job, a notification) calls
`enqueue_after_commit(task, ...)`. The task is sent only once the transaction has committed (the worker must
see the data), and if the broker cannot be reached the request still succeeds: the failure is logged with
the task's name and arguments (ids, never buyer data), and the work is caught up by the scheduled check that
owns it (each job and notification is also recorded in the database, so the check finds it).
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_after_commit(task, *args, **kwargs) -> None:
    """Send `task.apply_async(args, kwargs)` after the current transaction commits (at once outside one)."""

    def send():
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception as exc:  # broker down, DNS, timeouts: the request must still succeed
            logger.warning(
                "could not queue %s args=%r kwargs=%r (%s: %s); the scheduled checks will catch it up",
                getattr(task, "name", task),
                args,
                kwargs,
                type(exc).__name__,
                exc,
            )

    transaction.on_commit(send)
