from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from merchants.checks import CHECKS, register_check
from merchants.services import deposit_shortfall_check, sanction_expiry_check


def _shortfall(now):
    result = deposit_shortfall_check(now=now)
    skipped = " (another run holds the lock)" if result.skipped else ""
    return f"started={result.started} ended={result.ended} escalated={result.escalated}{skipped}"


def _sanction_expiry(now):
    return str(sanction_expiry_check(now=now))


register_check("deposit_shortfall", _shortfall)
register_check("sanction_expiry", _sanction_expiry)


class Command(BaseCommand):
    help = "Run the compliance checks once, without Celery (the same services the beat schedule runs)."

    def add_arguments(self, parser):
        parser.add_argument("--only", choices=sorted(CHECKS), action="append", help="run only this check")
        parser.add_argument("--now", help="ISO time to run the checks as of (for demos and tests)")

    def handle(self, *args, only=None, now=None, **options):
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
        for name in only or CHECKS:
            self.stdout.write(f"{name}: {CHECKS[name](when)}")
