"""Demo data for `make run`: merchants (users, stores, deposits, listings) and their orders. Idempotent."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from complaints.demo import seed_buyer_messages, seed_complaints
from inspections.demo import seed_inspections
from merchants.demo import LOGINS_TEXT, seed_merchants, seed_score_history
from orders.demo import order_counts, seed_compliance, seed_import_job, seed_orders


class Command(BaseCommand):
    help = "Create the demo users, entities, stores, deposits, listings and orders (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="seed even with DEBUG off (it creates a superuser with a known password)",
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates users with a published password; it runs only with DEBUG=1 (or --force)."
            )
        started = time.monotonic()
        now = timezone.now()
        with transaction.atomic():
            merchants = seed_merchants(now=now)
            added = seed_orders(
                stores=merchants["stores"], now=now, platform_actor=merchants["users"]["admin"]
            )
            compliance = seed_compliance(
                stores=merchants["stores"], now=now, reviewer=merchants["users"]["demo-reviewer"]
            )
            complaints = seed_complaints(
                stores=merchants["stores"], now=now, reviewer=merchants["users"]["demo-reviewer"]
            )
            inspections = seed_inspections(
                stores=merchants["stores"], now=now, inspector=merchants["users"]["demo-inspector"]
            )
            import_job = seed_import_job(
                stores=merchants["stores"], actor=merchants["users"].get("demo-seller")
            )
            messages = seed_buyer_messages(stores=merchants["stores"], now=now)
            # Last: the score history reads every app's demo data.
            scores = seed_score_history(stores=merchants["stores"], now=now)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        counts = order_counts(list(added))
        for code, by_status in counts.items():
            summary = ", ".join(f"{n} {status}" for status, n in by_status.items())
            self.stdout.write(f"  {code}: {sum(by_status.values())} orders ({summary}); {added[code]} new")
        for check, summary in compliance.items():
            self.stdout.write(f"  {check} check: {summary}")
        for part, summary in complaints.items():
            self.stdout.write(f"  {part}: {summary}")
        self.stdout.write(f"  inspections: {inspections}")
        if import_job is not None:
            self.stdout.write(
                f"  order import: {import_job.original_filename} {import_job.status}, {import_job.skipped} already "
                f"imported, {import_job.refused} refused"
            )
        self.stdout.write(f"  chat: {messages}")
        self.stdout.write(f"  experience score: {scores}")
        self.stdout.write(f"  in {time.monotonic() - started:.1f} s")
        self.stdout.write(LOGINS_TEXT)
