from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from merchants.spreadsheets import SpreadsheetError
from orders.bulk import tracking_events_import

MAX_PRINTED_ERRORS = 50


class Command(BaseCommand):
    help = (
        "Record carrier scans from a CSV/XLSX with the columns "
        "carrier,tracking_no,kind,occurred_at,location,description (kind: pickup, sorting, in_transit, "
        "delivered; a time without an offset is China time). A scan already stored is skipped; refused rows "
        "are printed as `row N: column: message` on stderr and the command exits 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        try:
            result = tracking_events_import(data=data)
        except SpreadsheetError as error:
            raise CommandError(" ".join(error.messages)) from error
        errors = result.errors
        for error in errors[:MAX_PRINTED_ERRORS]:
            self.stderr.write(str(error))
        if len(errors) > MAX_PRINTED_ERRORS:
            self.stderr.write(f"... and {len(errors) - MAX_PRINTED_ERRORS} more")
        summary = (
            f"{len(result.rows)} row(s): {result.stored} stored, {result.duplicates} already stored, "
            f"{result.refused} refused."
        )
        self.stdout.write(self.style.SUCCESS(summary) if not result.refused else summary)
        if result.refused:
            raise CommandError(f"{result.refused} of {len(result.rows)} row(s) refused.", returncode=1)
