from datetime import date, timedelta

import pytest
from django.utils import timezone

from merchants.errors import ActionForbidden, AdmissionRefused, DomainError, TransitionRefused
from merchants.models import Entity, Sanction, Store, StoreEvent, StoreStatus
from merchants.services import (
    sanction_expiry_check,
    store_apply,
    store_approve,
    store_clear_out,
    store_reject,
    store_suspend,
)
from tests.merchants.factories import BrandFactory, EntityFactory, StoreFactory, category

pytestmark = pytest.mark.django_db


def apply(entity, code="NEW-001", brand=None, actor=None):
    return store_apply(
        entity=entity,
        code=code,
        name="New store",
        store_type="ordinary",
        main_category=category("general"),
        brand=brand,
        actor=actor,
    )


def test_application_creates_a_pending_store_with_an_event():
    entity = EntityFactory()
    store = apply(entity)
    assert store.status == StoreStatus.PENDING_REVIEW
    assert list(store.categories.values_list("code", flat=True)) == ["general"]
    assert list(store.events.values_list("kind", "to_status")) == [("applied", "pending_review")]


def test_fourth_store_is_refused_and_nothing_is_created():
    entity = EntityFactory()
    StoreFactory.create_batch(3, entity=entity)
    with pytest.raises(AdmissionRefused) as refused:
        apply(entity)
    assert refused.value.messages == ["This entity already holds 3 stores; the limit is 3."]
    assert Store.objects.filter(entity=entity).count() == 3


def test_exited_and_rejected_stores_do_not_count_against_the_limit():
    entity = EntityFactory()
    StoreFactory.create_batch(2, entity=entity)
    StoreFactory(entity=entity, status=StoreStatus.REJECTED)
    StoreFactory(entity=entity, status=StoreStatus.EXITED)
    assert apply(entity).status == StoreStatus.PENDING_REVIEW


def test_second_store_for_the_same_brand_is_refused():
    entity = EntityFactory()
    brand = BrandFactory(name="Lumi")
    StoreFactory(entity=entity, brand=brand)
    with pytest.raises(AdmissionRefused) as refused:
        apply(entity, brand=brand)
    assert refused.value.messages == [
        "This entity already has 1 store(s) for the brand Lumi; the limit is 1."
    ]
    assert apply(entity, code="NEW-002", brand=BrandFactory(name="Other")).brand.name == "Other"


def test_cleared_out_entity_is_refused_for_ever(staff_user):
    entity = EntityFactory()
    store = StoreFactory(entity=entity)
    store_clear_out(store=store, actor=staff_user("compliance reviewer"), reason="Counterfeit goods")
    entity.refresh_from_db()
    assert entity.banned_for_ever is True
    with pytest.raises(AdmissionRefused) as refused:
        apply(entity)
    assert "never apply again" in refused.value.messages[0]


def test_voluntarily_exited_entity_waits_six_months():
    today = timezone.localdate()
    entity = EntityFactory(exited_on=today - timedelta(days=30))
    with pytest.raises(AdmissionRefused) as refused:
        apply(entity)
    assert "may apply again from" in refused.value.messages[0]
    Entity.objects.filter(pk=entity.pk).update(exited_on=today - timedelta(days=200))
    entity.refresh_from_db()
    assert apply(entity).status == StoreStatus.PENDING_REVIEW


@pytest.mark.parametrize("days_left", [-1, 0, 15])
def test_expired_or_soon_expiring_licence_is_refused(days_left):
    expires = timezone.localdate() + timedelta(days=days_left)
    entity = EntityFactory(licence_expires_on=expires)
    with pytest.raises(AdmissionRefused) as refused:
        apply(entity)
    expected = (
        f"The business licence expired on {expires.isoformat()}."
        if days_left < 0
        else f"The business licence expires on {expires.isoformat()}; it must be valid for more than 15 more days."
    )
    assert refused.value.messages == [expected]
    assert not Store.objects.filter(entity=entity).exists()


def test_natural_person_is_refused():
    with pytest.raises(AdmissionRefused) as refused:
        apply(EntityFactory(kind=Entity.Kind.NATURAL_PERSON))
    assert refused.value.messages == [
        "Natural persons may no longer open stores; apply as an enterprise or an individual business."
    ]


def test_approval_opens_the_store_and_records_the_decision(staff_user):
    reviewer = staff_user("compliance reviewer")
    store = apply(EntityFactory())
    store_approve(store=store, actor=reviewer, reason="Licence checked", today=date(2026, 11, 20))
    store.refresh_from_db()
    assert store.status == StoreStatus.ACTIVE
    assert store.opened_on == date(2026, 11, 20)
    event = store.events.get(kind="admission_approved")
    assert (event.actor, event.reason, event.from_status, event.to_status) == (
        reviewer,
        "Licence checked",
        "pending_review",
        "active",
    )
    # Opened with no deposit yet: short at once, withdrawals held.
    assert list(Sanction.objects.live().filter(store=store).values_list("kind", flat=True)) == [
        "withdrawal_hold"
    ]


def test_approval_rechecks_admission_and_leaves_the_store_pending(staff_user):
    entity = EntityFactory()
    store = apply(entity)
    Entity.objects.filter(pk=entity.pk).update(licence_expires_on=timezone.localdate() + timedelta(days=3))
    with pytest.raises(AdmissionRefused) as refused:
        store_approve(store=store, actor=staff_user("compliance reviewer"))
    assert "expires on" in refused.value.messages[0]
    store.refresh_from_db()
    assert store.status == StoreStatus.PENDING_REVIEW
    assert not store.events.filter(kind="admission_approved").exists()


def test_approval_needs_the_review_permission(staff_user):
    store = apply(EntityFactory())
    with pytest.raises(ActionForbidden):
        store_approve(store=store, actor=staff_user("finance"))
    store.refresh_from_db()
    assert store.status == StoreStatus.PENDING_REVIEW
    assert store.events.count() == 1


def test_rejection_needs_a_reason_and_is_recorded(staff_user):
    reviewer = staff_user("compliance reviewer")
    store = apply(EntityFactory())
    with pytest.raises(DomainError, match="^Give the applicant a reason for the rejection.$"):
        store_reject(store=store, actor=reviewer, reason=" ")
    store_reject(store=store, actor=reviewer, reason="Licence photo unreadable")
    store.refresh_from_db()
    assert store.status == StoreStatus.REJECTED
    assert store.events.filter(kind="admission_rejected", reason="Licence photo unreadable").count() == 1


def test_an_active_store_cannot_be_approved_again(staff_user):
    store = StoreFactory()
    with pytest.raises(TransitionRefused):
        store_approve(store=store, actor=staff_user("compliance reviewer"))


def test_suspension_ends_by_the_expiry_check(staff_user):
    store = StoreFactory()
    until = timezone.now() + timedelta(days=7)
    store_suspend(
        store=store, until=until, actor=staff_user("compliance reviewer"), reason="12 serious points"
    )
    store.refresh_from_db()
    assert (store.status, store.can_list, store.can_take_orders) == (StoreStatus.SUSPENDED, False, False)
    assert str(sanction_expiry_check(now=until - timedelta(seconds=1))) == "reinstated=0"
    assert str(sanction_expiry_check(now=until)) == "reinstated=1"
    assert str(sanction_expiry_check(now=until)) == "reinstated=0"
    store.refresh_from_db()
    assert store.status == StoreStatus.ACTIVE
    assert list(StoreEvent.objects.filter(store=store).values_list("kind", flat=True)) == [
        "reinstated",
        "suspended",
    ]


def test_status_cannot_be_assigned_directly():
    store = StoreFactory()
    with pytest.raises(AttributeError):
        store.status = StoreStatus.CLEARED_OUT


@pytest.mark.parametrize(
    "code, time_zone, message",
    [
        (
            "bad/code",
            "Asia/Shanghai",
            "code: Store codes use capital letters, digits and hyphens, like DEMO-001.",
        ),
        (
            "GOOD-1",
            "Mars/Olympus",
            "time_zone: Unknown time zone Mars/Olympus; use a name like Asia/Shanghai.",
        ),
    ],
)
def test_store_code_and_time_zone_are_validated(code, time_zone, message):
    entity = EntityFactory()
    with pytest.raises(AdmissionRefused) as refused:
        store_apply(
            entity=entity,
            code=code,
            name="x",
            store_type="ordinary",
            main_category=category("general"),
            time_zone=time_zone,
        )
    assert refused.value.messages == [message]
    assert not Store.objects.filter(entity=entity).exists()
