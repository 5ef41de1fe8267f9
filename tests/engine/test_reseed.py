"""The test suite puts the migrations' data back after a transactional test's flush (tests/conftest.py):
every data migration must be known there, or tests after a flush run on a rule table with gaps."""

import pytest
from django.core.management import call_command
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython

from tests.conftest import NOT_SEEDS, SEEDS_ALWAYS, SEEDS_WHEN_EMPTY, reseed_rule_table

OUR_APPS = {"merchants", "orders", "complaints", "inspections"}


def test_every_data_migration_is_reseeded_or_known_not_to_seed():
    known = {*SEEDS_ALWAYS, *NOT_SEEDS, *(seed for seeds in SEEDS_WHEN_EMPTY.values() for seed in seeds)}
    loader = MigrationLoader(None, ignore_no_migrations=True)
    found = {
        (operation.code.__module__, operation.code.__name__)
        for (app, _name), migration in loader.disk_migrations.items()
        if app in OUR_APPS
        for operation in migration.operations
        if isinstance(operation, RunPython)
    }

    assert found - known == set()
    assert known - found == set()  # and nothing listed that no longer exists


@pytest.mark.django_db(transaction=True)
def test_after_a_flush_the_reseed_gives_back_every_rule_parameter():
    from merchants.models import PublicHoliday, RuleParameter, ViolationType

    # given the rule table as the migrations (and this test's setup) leave it
    before = (
        sorted(RuleParameter.objects.values_list("key", "value")),
        sorted(ViolationType.objects.values_list("code", "compensation_kind")),
        PublicHoliday.objects.count(),
    )
    assert before[2] > 0

    # when every table is emptied, as a transactional test's teardown does, and the reseed runs
    call_command("flush", interactive=False, verbosity=0)
    assert not RuleParameter.objects.exists()
    reseed_rule_table()

    # then it is all back
    assert (
        sorted(RuleParameter.objects.values_list("key", "value")),
        sorted(ViolationType.objects.values_list("code", "compensation_kind")),
        PublicHoliday.objects.count(),
    ) == before
