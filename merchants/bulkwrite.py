"""Inserting many rows without building a model instance per row: COPY on PostgreSQL, bulk_create elsewhere.

The scheduled checks record tens of thousands of violations, ledger entries and events in one run; building
and preparing a Django model per row costs more than the database's own work. Rows are plain tuples in
the column order given; the caller computes every value (defaults included), as the services validated them.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models
from psycopg.types.json import Jsonb


def _check_columns(model: type[models.Model], columns: Sequence[str]) -> None:
    """Every column the table has must be given, so a field added later cannot be left empty by mistake."""
    table_columns = {field.column for field in model._meta.concrete_fields if not field.primary_key}
    missing, unknown = table_columns - set(columns), set(columns) - table_columns
    if missing or unknown:
        raise ValueError(
            f"{model._meta.db_table}: columns missing {sorted(missing)}, unknown {sorted(unknown)}"
        )


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[tuple], *, return_ids: bool = False
) -> list[int]:
    """Insert `rows` (tuples of column values, foreign keys as ids, JSON as dicts) into the model's table in
    the current transaction. Returns the new primary keys in row order when `return_ids`, else []."""
    _check_columns(model, columns)
    if not rows:
        return []
    table = model._meta.db_table
    if connection.vendor != "postgresql":
        objects = model._default_manager.bulk_create(
            [model(**{_attname(model, c): v for c, v in zip(columns, row, strict=True)}) for row in rows]
        )
        return [obj.pk for obj in objects] if return_ids else []
    json_columns = {
        index for index, column in enumerate(columns) if isinstance(_field(model, column), models.JSONField)
    }
    with connection.cursor() as cursor:
        ids: list[int] = []
        if return_ids:
            pk = model._meta.pk.column
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk, len(rows)],
            )
            ids = [row[0] for row in cursor.fetchall()]
            columns = [pk, *columns]
        names = ", ".join(connection.ops.quote_name(column) for column in columns)
        with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({names}) FROM STDIN") as copy:
            for index, row in enumerate(rows):
                values = tuple(Jsonb(v) if i in json_columns else v for i, v in enumerate(row))
                copy.write_row((ids[index], *values) if return_ids else values)
    return ids


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_escape(text: str) -> str:
    """Text as a value of COPY's text format (backslash, tab and line breaks escaped)."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def reserve_ids(model: type[models.Model], count: int, *, cursor=None) -> list[int]:
    """`count` new primary keys from the model's sequence (PostgreSQL), for rows written by `copy_text`.
    `cursor`: a psycopg cursor to use instead of the connection's (e.g. from a writing thread)."""
    if not count:
        return []
    sql = "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)"
    params = [model._meta.db_table, model._meta.pk.column, count]
    if cursor is None:
        with connection.cursor() as django_cursor:
            return reserve_ids(model, count, cursor=django_cursor.cursor)
    cursor.execute(sql, params)
    return [row[0] for row in cursor.fetchall()]


_checked: set[tuple] = set()


def copy_text(model: type[models.Model], columns: Sequence[str], text: str, *, cursor=None) -> None:
    """COPY rows already written as COPY text (tab-separated, `\\N` for NULL, values escaped with
    `copy_escape`, one row per line) into the model's table (PostgreSQL): the fastest way in when the caller
    builds millions of rows. `columns` may start with the primary key (from `reserve_ids`). `cursor`: a
    psycopg cursor to use instead of the connection's."""
    if not text:
        return
    key = (model._meta.db_table, tuple(columns))
    if key not in _checked:
        _check_columns(model, [c for c in columns if c != model._meta.pk.column])
        _checked.add(key)
    if cursor is None:
        with connection.cursor() as django_cursor:
            copy_text(model, columns, text, cursor=django_cursor.cursor)
        return
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    with cursor.copy(f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN") as copy:
        copy.write(text)


def _field(model, column):
    return next(field for field in model._meta.concrete_fields if field.column == column)


def _attname(model, column):
    return _field(model, column).attname
