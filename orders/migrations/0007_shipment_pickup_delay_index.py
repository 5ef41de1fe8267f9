"""The tracking check's catch-up: shipments whose first pickup scan came long after the tracking number
(while the engine was down) are found on an index of that delay, which holds few rows past a day.

PostgreSQL only: on SQLite the expression would be `django_timestamp_diff(...)`, a function Django registers
on its own connections, and the index would make the file unwritable for any other client. A laptop's
SQLite database is small enough to do without it.
"""

from django.db import migrations

CREATE = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS shipment_pickup_delay ON orders_shipment "
    "((first_pickup_at - created_at)) WHERE first_pickup_at IS NOT NULL"
)
DROP = "DROP INDEX CONCURRENTLY IF EXISTS shipment_pickup_delay"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    atomic = False  # CONCURRENTLY: a big shipments table keeps taking inserts while the index is built
    dependencies = [("orders", "0006_import_jobs")]
    operations = [migrations.RunPython(create, drop)]
