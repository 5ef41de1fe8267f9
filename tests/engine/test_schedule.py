"""Every beat entry names a task the worker knows, and every check `run_checks` knows is scheduled."""

import pytest
from django.conf import settings

from config.celery import app
from merchants.checks import CHECKS


@pytest.fixture(scope="module")
def worker_tasks():
    app.loader.import_default_modules()
    return set(app.tasks)


@pytest.mark.parametrize("entry", sorted(settings.CELERY_BEAT_SCHEDULE))
def test_each_beat_entry_names_a_registered_task(entry, worker_tasks):
    assert settings.CELERY_BEAT_SCHEDULE[entry]["task"] in worker_tasks


# Checks whose task is named otherwise.
TASK_OF_CHECK = {"spot_check_sampling": "inspections.tasks.sampling_weekly_round"}


def test_each_check_has_a_scheduled_task():
    scheduled = " ".join(entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values())
    # The task of a check is named after it (…tasks.<check>_check).
    missing = [name for name in CHECKS if TASK_OF_CHECK.get(name, name) not in scheduled]
    assert missing == []
