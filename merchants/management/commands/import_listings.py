from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from merchants.errors import ListingRefused
from merchants.models import Store
from merchants.services import SpreadsheetError, listing_bulk_upload

MAX_PRINTED_ERRORS = 50


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
        try:
            target = Store.objects.get(code=store)
        except Store.DoesNotExist as exc:
            raise CommandError(f"No store with code {store!r}.") from exc
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        try:
            result = listing_bulk_upload(store=target, data=data, dry_run=dry_run)
        except (SpreadsheetError, ListingRefused) as error:
            raise CommandError(" ".join(error.messages)) from error
        errors = result.errors
        if errors:
            for error in errors[:MAX_PRINTED_ERRORS]:
                self.stderr.write(str(error))
            if len(errors) > MAX_PRINTED_ERRORS:
                self.stderr.write(f"... and {len(errors) - MAX_PRINTED_ERRORS} more")
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
