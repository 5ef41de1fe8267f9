from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from merchants.cli import read_file, store_by_code, write_row_errors
from merchants.errors import ListingRefused
from merchants.services import SpreadsheetError, listing_bulk_upload


class Command(BaseCommand):
    help = (
        "Create or update a store's listings from a CSV/XLSX with the columns "
        "sku,title,category,price,stock,promised_dispatch_hours,description,brand. "
        "All rows or none: exit 1 with `row N: column: message` lines when any row is bad."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--store", required=True, help="store code, e.g. DEMO-001")
        parser.add_argument("--dry-run", action="store_true", help="check every row, save nothing")

    def handle(self, *args, file: Path, store: str, dry_run: bool, **options):
        target = store_by_code(store)
        data = read_file(file)
        try:
            result = listing_bulk_upload(store=target, data=data, dry_run=dry_run)
        except (SpreadsheetError, ListingRefused) as error:
            raise CommandError(" ".join(error.messages)) from error
        errors = result.errors
        if errors:
            write_row_errors(self.stderr, errors)
            bad_rows = sum(1 for r in result.rows if r.errors)
            raise CommandError(
                f"{len(errors)} problem(s) in {bad_rows} of {len(result.rows)} row(s); nothing was written.",
                returncode=1,
            )
        verb = "would be" if dry_run else "were"
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(result.rows)} row(s) OK: {result.created} {verb} created, {result.updated} {verb} updated."
            )
        )
