"""Each threshold of the default penalty ladder (RULES §9), reached, then revoked back below it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from merchants.models import RulesExamRequirement, Sanction, StoreStatus
from merchants.services import violation_record, violation_revoke

pytestmark = pytest.mark.django_db


def record(store, type_code, cause_id, points):
    violation, _ = violation_record(
        store=store, type_code=type_code, cause_kind="manual", cause_id=cause_id, points=points
    )
    return violation


def live(store):
    now = timezone.now()
    return sorted(
        (s.kind, round((s.ends_at - now).total_seconds() / 86400))
        for s in Sanction.objects.live().filter(store=store)
    )


def suspended_days(store):
    store.refresh_from_db()
    if store.status != StoreStatus.SUSPENDED:
        return None
    return round((store.suspended_until - timezone.now()).total_seconds() / 86400)


@pytest.mark.parametrize(
    ("points", "sanctions", "suspended", "exam"),
    [
        (11, [], None, False),
        (12, [], None, True),
        (24, [("listing_block", 7)], None, True),
        (36, [("listing_block", 7), ("order_restriction", 14)], None, True),
        (48, [("listing_block", 7), ("order_restriction", 14)], 30, True),
    ],
)
def test_general_ladder(funded_store, points, sanctions, suspended, exam):
    record(funded_store, "manual", "a", points)
    assert live(funded_store) == sanctions
    assert suspended_days(funded_store) == suspended
    assert RulesExamRequirement.objects.open().filter(store=funded_store).exists() is exam


@pytest.mark.parametrize(("points", "suspended"), [(11, None), (12, 7), (24, 14), (36, 21)])
def test_serious_ladder_suspends_for_longer_at_each_step(funded_store, points, suspended):
    record(funded_store, "counterfeit", "a", points)
    assert suspended_days(funded_store) == suspended


def test_serious_48_clears_the_store_out(funded_store):
    record(funded_store, "counterfeit", "a", 48)
    funded_store.refresh_from_db()
    assert funded_store.status == StoreStatus.CLEARED_OUT
    assert funded_store.entity.banned_for_ever is True


def test_a_second_step_while_suspended_extends_the_suspension(funded_store):
    record(funded_store, "counterfeit", "a", 12)
    assert suspended_days(funded_store) == 7
    record(funded_store, "counterfeit", "b", 12)
    assert suspended_days(funded_store) == 14


def test_revoking_the_upper_step_shortens_the_suspension_to_the_lower_one(funded_store, admin_user):
    record(funded_store, "counterfeit", "a", 12)
    upper = record(funded_store, "counterfeit", "b", 12)
    violation_revoke(violation=upper, actor=admin_user, reason="appeal won")
    assert suspended_days(funded_store) == 7
    assert funded_store.events.filter(kind="suspension_shortened").count() == 1


def test_revoking_below_every_step_reinstates_and_lifts_everything(funded_store, admin_user):
    violation = record(funded_store, "manual", "a", 48)
    violation_revoke(violation=violation, actor=admin_user, reason="recorded on the wrong store")
    funded_store.refresh_from_db()
    assert funded_store.status == StoreStatus.ACTIVE
    assert live(funded_store) == []
    assert not RulesExamRequirement.objects.open().filter(store=funded_store).exists()
    assert timezone.now() - timedelta(minutes=1) < funded_store.events.latest("created_at").created_at


def test_a_threshold_reached_again_after_a_revoke_applies_its_sanction_again(funded_store, admin_user):
    first = record(funded_store, "manual", "a", 24)
    assert live(funded_store) == [("listing_block", 7)]
    violation_revoke(violation=first, actor=admin_user, reason="appeal won")
    assert live(funded_store) == []

    second = record(funded_store, "manual", "b", 24)
    assert live(funded_store) == [("listing_block", 7)]
    assert sorted(Sanction.objects.filter(store=funded_store).values_list("cause_key", flat=True)) == [
        f"ladder:{funded_store.pk}:{second.point_year}:general:24:listing_block",
        f"ladder:{funded_store.pk}:{second.point_year}:general:24:listing_block#1",
    ]
    # And the second round comes off with its own revoke.
    violation_revoke(violation=second, actor=admin_user, reason="appeal won")
    assert live(funded_store) == []


def test_a_suspension_step_reached_again_after_a_revoke_suspends_again_and_lifts_again(
    funded_store, admin_user
):
    first = record(funded_store, "counterfeit", "a", 12)
    violation_revoke(violation=first, actor=admin_user, reason="appeal won")
    assert suspended_days(funded_store) is None

    second = record(funded_store, "counterfeit", "b", 12)
    assert suspended_days(funded_store) == 7
    violation_revoke(violation=second, actor=admin_user, reason="appeal won")
    assert suspended_days(funded_store) is None
    assert funded_store.events.filter(kind="ladder_suspension_undone").count() == 2


def test_recording_below_a_reached_threshold_imposes_nothing_twice(funded_store):
    record(funded_store, "manual", "a", 24)
    record(funded_store, "manual", "b", 4)
    assert Sanction.objects.filter(store=funded_store).count() == 1
