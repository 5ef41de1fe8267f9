"""The checks through a real Celery worker and Redis broker: what production runs."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from merchants.models import Violation
from tests.orders.factories import make_order

REDIS_URL = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/15"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.exceptions.ConnectionError:
        return False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_late_dispatch_check_enqueued_through_redis(funded_store, tmp_path: Path):
    if not _redis_up():
        if IN_CI:
            pytest.fail(f"CI=true: Redis is not reachable at {REDIS_URL}")
        pytest.skip(f"needs Redis at {REDIS_URL}")
    # Given an order overdue since an hour, committed where the worker can see it
    order = make_order(funded_store, paid_at=timezone.now() - timedelta(hours=25), promise="24h")
    db = connection.settings_dict
    env = {
        **os.environ,
        "ALLOW_INSECURE_DEFAULTS": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CELERY_BROKER_URL": REDIS_URL,
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
    }
    queue = f"test-{os.getpid()}-{time.time_ns()}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--loglevel=INFO",
        ],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # When the check is enqueued through the broker
        from celery import Celery

        Celery(broker=REDIS_URL).send_task("orders.tasks.late_dispatch_check", queue=queue)
        # Then the worker records the strike within the time a scheduled run would take
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            if Violation.objects.filter(cause_id=f"{order.pk}:1").exists():
                break
            time.sleep(0.5)
        recorded = Violation.objects.filter(
            violation_type__code="late_dispatch", cause_id=f"{order.pk}:1"
        ).count()
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert recorded == 1, output.decode(errors="replace")[-3000:]
