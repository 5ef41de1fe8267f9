from datetime import date
from decimal import Decimal

import pytest

from merchants.errors import ActionForbidden, TransitionRefused
from merchants.models import DepositEntry, StoreStatus
from merchants.selectors import deposit_balance
from merchants.services import deposit_record, store_begin_exit, store_complete_exit
from tests.merchants.factories import MembershipFactory, StoreFactory

pytestmark = pytest.mark.django_db


def test_voluntary_exit_returns_the_deposit_and_starts_the_reentry_clock(funded_store, owner, staff_user):
    store_begin_exit(store=funded_store, actor=owner, reason="Closing the business")
    store_complete_exit(store=funded_store, actor=staff_user("compliance reviewer"), today=date(2026, 11, 22))
    funded_store.refresh_from_db()
    funded_store.entity.refresh_from_db()
    assert funded_store.status == StoreStatus.EXITED
    assert funded_store.entity.exited_on == date(2026, 11, 22)
    assert deposit_balance(store=funded_store) == Decimal("0.00")
    assert list(DepositEntry.objects.filter(kind="refund").values_list("amount", flat=True)) == [
        Decimal("-2000.00")
    ]
    kinds = list(funded_store.events.order_by("id").values_list("kind", flat=True))
    assert kinds == ["exit_requested", "exited", "deposit_refund"]


def test_exit_date_waits_for_the_entitys_last_store(funded_store, owner, staff_user):
    StoreFactory(entity=funded_store.entity)
    store_begin_exit(store=funded_store, actor=owner)
    store_complete_exit(store=funded_store, actor=staff_user("compliance reviewer"))
    funded_store.entity.refresh_from_db()
    assert funded_store.entity.exited_on is None


def test_only_the_owner_may_start_an_exit(funded_store):
    operator = MembershipFactory(store=funded_store, role="operator").user
    with pytest.raises(ActionForbidden):
        store_begin_exit(store=funded_store, actor=operator)
    funded_store.refresh_from_db()
    assert funded_store.status == StoreStatus.ACTIVE


def test_a_store_that_owes_cannot_exit(funded_store, owner, staff_user):
    deposit_record(store=funded_store, kind="deduction", amount=Decimal("2500"), reason="penalty")
    store_begin_exit(store=funded_store, actor=owner)
    with pytest.raises(TransitionRefused) as refused:
        store_complete_exit(store=funded_store, actor=staff_user("compliance reviewer"))
    assert refused.value.messages == ["The store owes 500.00 on its deposit; it cannot exit until paid."]
    funded_store.refresh_from_db()
    assert funded_store.status == StoreStatus.EXITING
    # Still owing while exiting: withdrawals stay held.
    assert funded_store.can_withdraw is False
