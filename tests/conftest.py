import os
from decimal import Decimal

import pytest
from django.db import connection

from merchants.models import DepositEntry
from tests.merchants.factories import (
    EntityFactory,
    ListingFactory,
    MembershipFactory,
    StoreFactory,
    UserFactory,
)

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_runtest_setup(item):
    """Tests marked `postgres` skip on SQLite on a laptop; under CI=true they fail instead of skipping."""
    if "postgres" not in item.keywords:
        return
    from django.conf import settings

    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        message = "needs PostgreSQL: set DATABASE_URL=postgresql://..."
        if IN_CI:
            pytest.fail("CI=true: " + message)
        pytest.skip(message)


# Every data migration, as (module, function): what the reseed runs after a flush, in migration order. The
# first groups run only when their tables are empty (their seeds create without looking); the rest are
# idempotent and always run. tests/engine/test_reseed.py fails when a migration's RunPython is in neither list.
SEEDS_WHEN_EMPTY = {
    "merchants.Category": [
        ("merchants.migrations.0002_seed_rule_table", "seed"),
        ("merchants.migrations.0003_screening_patterns_beside_chinese", "forwards"),
        ("merchants.migrations.0011_experience_score", "seed"),
        ("merchants.migrations.0012_drop_duplicate_rule_parameters", "drop"),
    ],
    "merchants.ViolationType": [
        ("merchants.migrations.0007_seed_violation_types", "seed"),
        ("merchants.migrations.0009_seed_exam_and_occurrence_ladder", "seed"),
    ],
    "orders.Carrier": [
        ("orders.migrations.0002_seed_carriers_and_rules", "seed"),
        ("orders.migrations.0005_compliance_check_indexes", "seed"),
    ],
}
SEEDS_ALWAYS = [
    ("inspections.migrations.0002_seed_rule_table", "seed"),
    ("complaints.migrations.0002_seed_rule_table", "seed"),
    ("merchants.migrations.0013_score_sanity_range_and_shown_bands", "seed"),
    ("merchants.migrations.0014_public_holiday_calendar", "seed"),
    ("inspections.migrations.0004_seed_max_sample_size", "seed"),
    ("inspections.migrations.0005_complaint_rate_factor", "forward"),
    ("complaints.migrations.0004_not_as_described_compensation", "forwards"),
    ("complaints.migrations.0007_seed_appeal_window_notice_hours", "seed"),
]
# RunPython that changes existing rows or the schema: nothing of theirs is left to put back after a flush.
NOT_SEEDS = [
    ("merchants.migrations.0009_seed_exam_and_occurrence_ladder", "release_existing"),
    ("inspections.migrations.0003_listing_removal_by_failure", "backfill"),
    ("complaints.migrations.0006_notification_cause_and_email", "mark_earlier_notifications_emailed"),
    ("orders.migrations.0007_shipment_pickup_delay_index", "create"),
    ("merchants.migrations.0016_ladder_suspension_needs_duration", "refuse_suspensions_without_duration"),
]


def reseed_rule_table():
    """The rule table and staff groups as the migrations leave them.

    Transactional tests (threads, live server) end with a flush that empties every table, migration data
    included; this puts it back so every test starts from the migrated state.
    """
    import importlib

    from django.apps import apps

    from merchants.staff import ensure_staff_groups

    def run(seeds):
        for module, function in seeds:
            getattr(importlib.import_module(module), function)(apps, None)

    for model, seeds in SEEDS_WHEN_EMPTY.items():
        if not apps.get_model(model).objects.exists():
            run(seeds)
    run(SEEDS_ALWAYS)
    ensure_staff_groups()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    # A reused test database may have been emptied by the last run's transactional tests.
    with django_db_blocker.unblock():
        reseed_rule_table()


@pytest.fixture(autouse=True)
def _migrated_data_for_transactional_tests(request):
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker and marker.kwargs.get("transaction")) or "live_server" in request.fixturenames
    if transactional:
        request.getfixturevalue("transactional_db")
        reseed_rule_table()


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def user_factory(db):
    return UserFactory


@pytest.fixture
def entity_factory(db):
    return EntityFactory


@pytest.fixture
def store_factory(db):
    return StoreFactory


@pytest.fixture
def membership_factory(db):
    return MembershipFactory


@pytest.fixture
def listing_factory(db):
    return ListingFactory


@pytest.fixture
def store(db):
    return StoreFactory()


@pytest.fixture
def funded_store(db):
    """An active store whose deposit covers the requirement (2,000 for general merchandise)."""
    store = StoreFactory()
    store.deposit_account.entries.create(
        kind=DepositEntry.Kind.TOP_UP, amount=Decimal("2000.00"), reason="initial"
    )
    return store


@pytest.fixture
def owner(db, funded_store):
    return MembershipFactory(store=funded_store, role="owner").user


@pytest.fixture
def staff_user(db):
    """A staff user in a named group: call with the group name."""
    from django.contrib.auth.models import Group

    def make(group_name, username=None):
        user = UserFactory(username=username or f"staff-{group_name.replace(' ', '-')}", is_staff=True)
        user.groups.add(Group.objects.get(name=group_name))
        return type(user).objects.get(pk=user.pk)  # fresh: no cached permissions

    return make


@pytest.fixture(autouse=True)
def _english_by_default():
    """Tests assert English messages; a test that switches language must not leak it to the next."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.activate("en")
