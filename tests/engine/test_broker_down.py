"""With the broker down, the request that queues work still succeeds; what it would have queued is logged."""

import logging

import pytest
from celery import Celery

from merchants.queue import enqueue_after_commit

pytestmark = pytest.mark.django_db


@pytest.fixture
def app_with_broker_down(monkeypatch):
    # Celery prefers the CELERY_BROKER_URL environment variable over its configuration (CI sets it to the
    # live Redis), so the variable goes for the duration of the test.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_BROKER_WRITE_URL", raising=False)
    # Not the current app: shared tasks queued by later tests must still find the project's app.
    app = Celery("broker-down", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")  # the project's timeouts and retries
    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    yield app
    app.close()


def test_queueing_with_the_broker_down_logs_the_task_and_does_not_raise(
    app_with_broker_down, caplog, django_capture_on_commit_callbacks
):
    @app_with_broker_down.task(name="tests.import_job_run")
    def import_job_run(job_id):  # pragma: no cover - never delivered
        raise AssertionError("the broker is down")

    with (
        caplog.at_level(logging.WARNING, logger="merchants.queue"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        enqueue_after_commit(import_job_run, 42)
    assert len(callbacks) == 1
    assert "could not queue tests.import_job_run args=(42,) kwargs={}" in caplog.text
    assert "the scheduled checks will catch it up" in caplog.text


def test_nothing_is_sent_before_the_commit(app_with_broker_down, django_capture_on_commit_callbacks):
    sent = []

    class Task:
        name = "tests.recorder"

        def apply_async(self, *, args, kwargs):
            sent.append((args, kwargs))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        enqueue_after_commit(Task(), 1, store="DEMO-001")
        assert sent == []
    callbacks[0]()
    assert sent == [((1,), {"store": "DEMO-001"})]
