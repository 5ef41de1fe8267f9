"""What the file-import commands share: finding the store, reading the file, printing row errors."""

from pathlib import Path

from django.core.management.base import CommandError

from merchants.models import Store

MAX_PRINTED_ERRORS = 50


def store_by_code(code: str) -> Store:
    try:
        return Store.objects.get(code=code)
    except Store.DoesNotExist as exc:
        raise CommandError(f"No store with code {code!r}.") from exc


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from exc


def write_row_errors(stream, errors) -> None:
    """`row N: column: message` lines, the first 50, then how many more."""
    for error in errors[:MAX_PRINTED_ERRORS]:
        stream.write(str(error))
    if len(errors) > MAX_PRINTED_ERRORS:
        stream.write(f"... and {len(errors) - MAX_PRINTED_ERRORS} more")
