from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from merchants.models import Sanction
from merchants.services import deposit_record

pytestmark = pytest.mark.django_db


def test_run_checks_escalates_a_shortfall_as_of_the_given_time(funded_store, capsys):
    t0 = timezone.now()
    deposit_record(store=funded_store, kind="deduction", amount=Decimal("1"), reason="x", now=t0)
    later = (t0 + timedelta(hours=49)).isoformat()

    call_command("run_checks", "--only", "deposit_shortfall", "--now", later)

    assert capsys.readouterr().out == "deposit_shortfall: started=0 ended=0 escalated=2\n"
    assert Sanction.objects.filter(store=funded_store).count() == 3


def test_run_checks_runs_every_check_by_default(db, capsys):
    from merchants.checks import CHECKS

    call_command("run_checks")
    lines = sorted(capsys.readouterr().out.splitlines())
    # One line per registered check, in every app, each finding nothing to do on an empty database.
    assert [line.split(":")[0] for line in lines] == sorted(CHECKS)
    assert {"deposit_shortfall", "late_dispatch", "sanction_expiry", "tracking"} <= set(CHECKS)
    assert "deposit_shortfall: started=0 ended=0 escalated=0" in lines
    assert "late_dispatch: strikes=0 out_of_stock=0" in lines
    assert "tracking: tracking_overdue=0 false_dispatch=0" in lines


def test_run_checks_refuses_a_bad_time(db):
    with pytest.raises(CommandError, match="--now must be an ISO time"):
        call_command("run_checks", "--now", "yesterday")
