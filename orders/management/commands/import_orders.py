from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from merchants.cli import store_by_code, write_row_errors
from orders.imports import OrderImportError, orders_import


class Command(BaseCommand):
    help = (
        "Import a store's orders from a TikTok Shop or Douyin order export, or from our template "
        "(CSV or XLSX). All orders or none: exit 1 with `row N: column: message` lines when any row is "
        "refused. --skip-invalid imports the good orders and writes the refused rows, with an error column, "
        "to --errors-out."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--store", required=True, help="store code, e.g. DEMO-001")
        parser.add_argument("--dry-run", action="store_true", help="check every row and count, save nothing")
        parser.add_argument(
            "--skip-invalid", action="store_true", help="import the good orders, leave out the refused ones"
        )
        parser.add_argument(
            "--errors-out", type=Path, help="with --skip-invalid: a CSV of the refused rows and their errors"
        )
        parser.add_argument(
            "--update",
            action="store_true",
            help="move orders the store already has forward to the file's status (default: leave them)",
        )

    def handle(self, *args, file: Path, store: str, dry_run, skip_invalid, errors_out, update, **options):
        if errors_out and not skip_invalid:
            raise CommandError("--errors-out goes with --skip-invalid (without it nothing is imported).")
        target = store_by_code(store)
        if not file.is_file():
            raise CommandError(f"Cannot read {file}: no such file.")
        verbosity = options.get("verbosity", 1)

        def progress(*, phase, done, total):
            if verbosity > 1:
                self.stderr.write(f"{phase}: {100 * done / max(total, 1):.0f}%")

        out = None
        try:
            if errors_out:
                # UTF-8 with a BOM: Excel opens the Chinese columns right.
                out = errors_out.open("w", encoding="utf-8-sig", newline="")
            result = orders_import(
                store=target,
                source=file,
                dry_run=dry_run,
                skip_invalid=skip_invalid,
                update_existing=update,
                errors_out=out,
                progress=progress,
                max_bytes=None,  # the operator's command: no upload limit
            )
        except OrderImportError as error:
            raise CommandError(" ".join(error.messages)) from error
        except OSError as exc:
            raise CommandError(f"Cannot write {errors_out}: {exc.strerror}.") from exc
        finally:
            if out is not None:
                out.close()
        write_row_errors(self.stderr, result.errors)
        if result.error_count > len(result.errors):
            self.stderr.write(f"({result.error_count} problems in all)")
        verb = "would be" if dry_run else "were"
        summary = (
            f"{result.lines} line(s), {result.orders} order(s) ({result.format}): {result.created} {verb} created, "
            f"{result.updated} {verb} updated, {result.skipped} already imported, {result.unpaid} never paid "
            f"(left out), {result.refused} refused"
        )
        if result.error_count and not skip_invalid:
            raise CommandError(
                f"{result.error_count} problem(s) in the file; nothing was written.", returncode=1
            )
        if result.refused:
            self.stdout.write(summary + (f"; refused rows written to {errors_out}." if errors_out else "."))
            raise CommandError(f"{result.refused} order(s) refused.", returncode=1)
        self.stdout.write(self.style.SUCCESS(summary + "."))
