from datetime import timedelta

import pytest
from django.utils import timezone

from merchants.models import (
    OccurrenceLadderApplication,
    OccurrenceLadderStep,
    Sanction,
    StoreEvent,
    StoreStatus,
    Violation,
)
from merchants.services import (
    _apply_occurrence_ladder,
    _undo_occurrence_ladder,
    violation_record,
    violation_revoke,
)

pytestmark = pytest.mark.django_db


def fraud(store, cause_id, *, occurred_at=None):
    """A fraudulent-dispatch violation: violation_record applies the occurrence ladder."""
    violation, _created = violation_record(
        store=store,
        type_code="fraudulent_dispatch",
        cause_kind="manual",
        cause_id=cause_id,
        occurred_at=occurred_at,
    )
    return violation


def revoke(violation):
    violation_revoke(violation=violation, actor=None, reason="appeal won")
    violation.refresh_from_db()


def live(store):
    return sorted(
        (s.kind, round((s.ends_at - s.starts_at).total_seconds() / 86400))
        for s in Sanction.objects.live().filter(store=store)
    )


def standing(store):
    return sorted(
        OccurrenceLadderApplication.objects.filter(store=store, undone_at__isnull=True).values_list(
            "occurrence", flat=True
        )
    )


def test_the_default_ladder_is_in_the_rule_table():
    steps = OccurrenceLadderStep.objects.filter(violation_type__code="fraudulent_dispatch").order_by(
        "occurrence"
    )
    assert [(s.occurrence, s.penalties, s.duration_days) for s in steps] == [
        (1, "settlement_freeze", 7),
        (2, "settlement_freeze,listing_block", 7),
        (3, "settlement_freeze,listing_block,suspension", 7),
        (4, "clear_out", None),
    ]


def test_the_first_freezes_settlement_for_7_days_once(funded_store):
    violation = fraud(funded_store, "1")
    assert live(funded_store) == [("settlement_freeze", 7)]
    application = OccurrenceLadderApplication.objects.get()
    assert (application.occurrence, application.violation_id, application.year) == (
        1,
        violation.pk,
        violation.point_year,
    )
    assert Sanction.objects.get().cause_key == f"occurrence:{application.pk}:settlement_freeze"
    event = funded_store.events.get(kind="occurrence_ladder_applied")
    assert event.data["occurrence"] == 1
    assert event.data["penalties"] == ["settlement_freeze"]

    # Again: nothing more.
    assert _apply_occurrence_ladder(store=funded_store, violation=violation, now=timezone.now()) == []
    assert (Sanction.objects.count(), OccurrenceLadderApplication.objects.count()) == (1, 1)
    assert funded_store.events.filter(kind="occurrence_ladder_applied").count() == 1


def test_the_ladder_escalates_and_the_fourth_clears_the_store_out(funded_store):
    fraud(funded_store, "1")
    fraud(funded_store, "2")
    assert live(funded_store) == [("listing_block", 7), ("settlement_freeze", 7), ("settlement_freeze", 7)]
    before = timezone.now()
    fraud(funded_store, "3")
    funded_store.refresh_from_db()
    assert funded_store.status == StoreStatus.SUSPENDED
    assert timedelta(days=7) <= funded_store.suspended_until - before < timedelta(days=7, seconds=30)
    assert OccurrenceLadderApplication.objects.get(occurrence=3).suspended_store is True
    assert live(funded_store) == [
        ("listing_block", 7),
        ("listing_block", 7),
        ("settlement_freeze", 7),
        ("settlement_freeze", 7),
        ("settlement_freeze", 7),
    ]
    fraud(funded_store, "4")
    funded_store.refresh_from_db()
    funded_store.entity.refresh_from_db()
    assert (funded_store.status, funded_store.entity.banned_for_ever) == (StoreStatus.CLEARED_OUT, True)
    assert standing(funded_store) == [1, 2, 3, 4]
    fraud(funded_store, "5")  # nothing beyond the last step
    assert standing(funded_store) == [1, 2, 3, 4]


def test_a_batch_that_reaches_several_steps_applies_each_once(funded_store):
    violations = [
        violation_record(
            store=funded_store, type_code="fraudulent_dispatch", cause_kind="manual", cause_id=n
        )[0]
        for n in ("a", "b")
    ]
    steps = list(OccurrenceLadderStep.objects.filter(violation_type=violations[0].violation_type))
    for violation in violations:  # as a batch recorder calls it: the steps loaded once, once per violation
        _apply_occurrence_ladder(store=funded_store, violation=violation, now=timezone.now(), steps=steps)
    assert standing(funded_store) == [1, 2]
    assert live(funded_store) == [("listing_block", 7), ("settlement_freeze", 7), ("settlement_freeze", 7)]


def test_revoked_violations_do_not_count_and_a_revoke_undoes_the_step(funded_store):
    fraud(funded_store, "1")
    second = fraud(funded_store, "2")
    revoke(second)
    assert standing(funded_store) == [1]
    assert live(funded_store) == [("settlement_freeze", 7)]
    undone = OccurrenceLadderApplication.objects.get(occurrence=2)
    assert undone.undone_at is not None
    assert (
        Sanction.objects.filter(
            cause_key__startswith=f"occurrence:{undone.pk}:", lifted_at__isnull=False
        ).count()
        == 2
    )
    assert funded_store.events.get(kind="occurrence_ladder_undone").data["occurrence"] == 2

    # Undoing twice changes nothing.
    events = StoreEvent.objects.count()
    _undo_occurrence_ladder(store=funded_store, violation=second, now=timezone.now())
    assert StoreEvent.objects.count() == events

    # A new second occurrence applies the step anew.
    fraud(funded_store, "3")
    assert standing(funded_store) == [1, 2]
    assert live(funded_store) == [("listing_block", 7), ("settlement_freeze", 7), ("settlement_freeze", 7)]
    assert OccurrenceLadderApplication.objects.filter(occurrence=2).count() == 2


def test_revoking_the_third_ends_the_suspension_it_caused(funded_store):
    fraud(funded_store, "1")
    fraud(funded_store, "2")
    third = fraud(funded_store, "3")
    revoke(third)
    funded_store.refresh_from_db()
    assert (funded_store.status, funded_store.suspended_until) == (StoreStatus.ACTIVE, None)
    assert standing(funded_store) == [1, 2]
    assert funded_store.events.filter(kind="reinstated", reason="Violation revoked").count() == 1


def test_a_clear_out_is_final_even_after_a_revoke(funded_store):
    violations = [fraud(funded_store, str(n)) for n in range(1, 5)]
    revoke(violations[-1])
    funded_store.refresh_from_db()
    assert funded_store.status == StoreStatus.CLEARED_OUT
    assert standing(funded_store) == [1, 2, 3]
    assert funded_store.events.get(kind="occurrence_ladder_undone").data["cleared_out_stays"] is True


def test_occurrences_count_per_natural_year(funded_store):
    last_year = timezone.now() - timedelta(days=366)
    old = fraud(funded_store, "old", occurred_at=last_year)
    this = fraud(funded_store, "new")
    assert old.point_year == this.point_year - 1
    applied = OccurrenceLadderApplication.objects.order_by("year").values_list("year", "occurrence")
    assert list(applied) == [(old.point_year, 1), (this.point_year, 1)]


def test_the_ladder_is_data(funded_store):
    OccurrenceLadderStep.objects.filter(violation_type__code="fraudulent_dispatch", occurrence=1).update(
        penalties="order_restriction,rules_exam", duration_days=3
    )
    fraud(funded_store, "1")
    assert live(funded_store) == [("order_restriction", 3)]
    assert funded_store.exam_requirements.get().is_open


def test_types_without_a_ladder_apply_nothing(funded_store):
    violation, _ = violation_record(
        store=funded_store, type_code="late_dispatch", cause_kind="order", cause_id="9"
    )
    assert _apply_occurrence_ladder(store=funded_store, violation=violation, now=timezone.now()) == []
    assert _undo_occurrence_ladder(store=funded_store, violation=violation, now=timezone.now()) == 0
    assert not OccurrenceLadderApplication.objects.exists()
    assert Violation.objects.count() == 1


def test_the_undo_never_counts_the_violation_being_revoked(funded_store):
    fraud(funded_store, "1")
    second = fraud(funded_store, "2")
    # Called by violation_revoke before or after it saves the revoked status: the same result.
    assert _undo_occurrence_ladder(store=funded_store, violation=second, now=timezone.now()) == 1
    assert standing(funded_store) == [1]
