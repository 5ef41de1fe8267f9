from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from merchants.cli import read_file, store_by_code, write_row_errors
from merchants.spreadsheets import SpreadsheetError
from orders.bulk import shipments_bulk_ship


class Command(BaseCommand):
    help = (
        "Ship a store's orders from a CSV/XLSX with the columns order_no,carrier,tracking_no. "
        "Row by row: good rows ship, refused rows are printed as `row N: column: message` on stderr "
        "and the command exits 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--store", required=True, help="store code, e.g. DEMO-001")
        parser.add_argument("--dry-run", action="store_true", help="check every row, ship nothing")

    def handle(self, *args, file: Path, store: str, dry_run: bool, **options):
        target = store_by_code(store)
        data = read_file(file)
        try:
            # The platform's operator runs this for the store: no row limit, no seller role to check.
            result = shipments_bulk_ship(store=target, data=data, dry_run=dry_run, max_rows=None)
        except SpreadsheetError as error:
            raise CommandError(" ".join(error.messages)) from error
        errors = result.errors
        write_row_errors(self.stderr, errors)
        if dry_run:
            summary = f"{len(result.rows)} row(s): {result.ok} would ship, {result.refused} refused."
        else:
            summary = f"{len(result.rows)} row(s): {result.shipped} shipped, {result.refused} refused."
        self.stdout.write(self.style.SUCCESS(summary) if not result.refused else summary)
        if result.refused:
            raise CommandError(f"{result.refused} of {len(result.rows)} row(s) refused.", returncode=1)
