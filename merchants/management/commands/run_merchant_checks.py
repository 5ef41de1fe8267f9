from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from merchants.services import deposit_shortfall_check, sanction_expiry_check


class Command(BaseCommand):
    help = "Run the merchants checks (deposit shortfall, sanction expiry) once, without Celery."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="ISO time to run the checks as of (for demos and tests)")

    def handle(self, *args, now=None, **options):
        when = None
        if now:
            try:
                when = datetime.fromisoformat(now)
            except ValueError as exc:
                raise CommandError(
                    f"--now must be an ISO time like 2026-11-22T10:00:00+08:00, got {now!r}"
                ) from exc
            if timezone.is_naive(when):
                when = timezone.make_aware(when)
        shortfall = deposit_shortfall_check(now=when)
        self.stdout.write(
            f"deposit shortfall: started={shortfall.started} ended={shortfall.ended} "
            f"escalated={shortfall.escalated}{' (another run holds the lock)' if shortfall.skipped else ''}"
        )
        self.stdout.write(f"sanction expiry: reinstated={sanction_expiry_check(now=when)}")
