"""Single flight for scheduled checks: two runs of the same check never overlap."""

import zlib
from contextlib import contextmanager

from django.db import connection


@contextmanager
def single_flight(name: str):
    """Yield True when this run holds the lock for `name`, False when another run holds it.

    PostgreSQL: a session-level advisory lock, released at the end even if the check fails; a worker that
    dies loses its connection and so its lock. SQLite allows one writer at a time, which serialises runs.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    key = zlib.crc32(name.encode()) - 2**31  # a stable signed 32-bit key
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
