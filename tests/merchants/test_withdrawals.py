from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from merchants.errors import ActionForbidden, DomainError
from merchants.models import Sanction, SettlementEntry, Withdrawal
from merchants.selectors import settlement_position
from merchants.services import (
    deposit_record,
    sanction_impose,
    settlement_record,
    settlement_release_check,
    withdrawal_approve,
    withdrawal_reject,
    withdrawal_request,
)
from tests.merchants.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def earn(store, amount, *, available_at=None, key="o1"):
    """Income past its waiting days, released by the daily check (as in production)."""
    settlement_record(
        store=store,
        kind=SettlementEntry.Kind.ORDER_INCOME,
        amount=Decimal(amount),
        available_at=available_at or timezone.now() - timedelta(days=1),
        cause_key=f"test:{key}",
    )
    settlement_release_check(now=timezone.now())


def test_income_is_withdrawable_only_after_its_date_and_the_release(funded_store):
    now = timezone.now()
    settlement_record(
        store=funded_store,
        kind=SettlementEntry.Kind.ORDER_INCOME,
        amount=Decimal("100"),
        available_at=now - timedelta(seconds=1),
        cause_key="test:a",
    )
    settlement_record(
        store=funded_store,
        kind=SettlementEntry.Kind.ORDER_INCOME,
        amount=Decimal("50"),
        available_at=now + timedelta(days=3),
        cause_key="test:b",
    )
    position = settlement_position(store=funded_store, now=now)
    assert (position.available, position.pending, position.due) == (
        Decimal("0.00"),
        Decimal("150.00"),
        Decimal("100.00"),
    )
    settlement_release_check(now=now)
    position = settlement_position(store=funded_store, now=now)
    assert (position.available, position.pending, position.due) == (
        Decimal("100.00"),
        Decimal("50.00"),
        Decimal("0.00"),
    )


def test_owner_withdraws_and_the_amount_is_set_aside(funded_store, owner):
    earn(funded_store, "300")
    withdrawal = withdrawal_request(store=funded_store, amount="120.50", actor=owner)
    assert settlement_position(store=funded_store).available == Decimal("179.50")
    with pytest.raises(DomainError) as refused:
        withdrawal_request(store=funded_store, amount="180", actor=owner)
    assert refused.value.messages == ["Only 179.50 is withdrawable now."]
    assert Withdrawal.objects.count() == 1
    assert withdrawal.status == "requested"


@pytest.mark.parametrize(
    "setup, message",
    [
        ("arrears", "The store owes 20.00 in platform fees; pay the arrears before withdrawing."),
        ("shortfall", "Withdrawals held until it is lifted: Deposit below the required amount"),
        ("freeze", "Settlement frozen until "),
    ],
)
def test_withdrawal_refusals_say_why(funded_store, owner, setup, message):
    earn(funded_store, "100")
    if setup == "arrears":
        settlement_record(
            store=funded_store,
            kind=SettlementEntry.Kind.FEE_CHARGE,
            amount=Decimal("-120"),
            available_at=timezone.now() - timedelta(hours=1),
            cause_key="test:fee",
        )
    elif setup == "shortfall":
        deposit_record(store=funded_store, kind="deduction", amount=Decimal("10"), reason="late dispatch")
    else:
        sanction_impose(
            store=funded_store,
            kind=Sanction.Kind.SETTLEMENT_FREEZE,
            reason="complaint",
            ends_at=timezone.now() + timedelta(days=2),
        )
    with pytest.raises(DomainError) as refused:
        withdrawal_request(store=funded_store, amount="10", actor=owner)
    assert refused.value.messages[0].startswith(message)
    assert not Withdrawal.objects.exists()


def test_only_the_owner_may_request(funded_store):
    earn(funded_store, "100")
    operator = MembershipFactory(store=funded_store, role="operator").user
    with pytest.raises(ActionForbidden):
        withdrawal_request(store=funded_store, amount="10", actor=operator)


def test_finance_approves_or_rejects(funded_store, owner, staff_user):
    earn(funded_store, "100")
    finance = staff_user("finance")
    first = withdrawal_request(store=funded_store, amount="40", actor=owner)
    second = withdrawal_request(store=funded_store, amount="60", actor=owner)
    withdrawal_approve(withdrawal=first, actor=finance, bank_reference="ICBC-0001")
    withdrawal_reject(withdrawal=second, actor=finance, reason="Bank account name does not match")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.bank_reference, second.status) == ("approved", "ICBC-0001", "rejected")
    assert settlement_position(store=funded_store).available == Decimal("60.00")
    with pytest.raises(ActionForbidden):
        withdrawal_approve(withdrawal=second, actor=staff_user("quality inspector"), bank_reference="x")


def test_approval_is_refused_while_withdrawals_are_held(funded_store, owner, staff_user):
    earn(funded_store, "100")
    withdrawal = withdrawal_request(store=funded_store, amount="40", actor=owner)
    deposit_record(store=funded_store, kind="deduction", amount=Decimal("10"), reason="late dispatch")
    with pytest.raises(DomainError, match="Withdrawals held"):
        withdrawal_approve(withdrawal=withdrawal, actor=staff_user("finance"), bank_reference="ICBC-2")
    withdrawal.refresh_from_db()
    assert withdrawal.status == "requested"


def test_withdrawal_page_shows_the_reason_and_requests(client, funded_store, owner):
    earn(funded_store, "100")
    client.force_login(owner)
    url = reverse("withdrawals", args=[funded_store.code])
    response = client.post(url, {"amount": "500"})
    assert response.status_code == 400
    assert "Only 100.00 is withdrawable now." in response.content.decode()
    response = client.post(url, {"amount": "25"})
    assert response.status_code == 302
    assert Withdrawal.objects.get().amount == Decimal("25.00")


def test_withdrawal_page_of_another_store_is_404(client, owner, store_factory):
    client.force_login(owner)
    other = store_factory()
    assert client.get(reverse("withdrawals", args=[other.code])).status_code == 404
    assert client.post(reverse("withdrawals", args=[other.code]), {"amount": "1"}).status_code == 404


def test_finance_decides_in_the_admin(client, funded_store, owner, staff_user):
    earn(funded_store, "100")
    withdrawal = withdrawal_request(store=funded_store, amount="40", actor=owner)
    client.force_login(staff_user("finance"))
    assert client.get(reverse("admin:merchants_withdrawal_changelist")).status_code == 200
    url = reverse("admin:merchants_withdrawal_approve", args=[withdrawal.pk])
    assert client.post(url, {"bank_reference": "ICBC-77"}).status_code == 302
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.bank_reference) == ("approved", "ICBC-77")


def test_a_reviewer_cannot_decide_withdrawals(client, funded_store, owner, staff_user):
    earn(funded_store, "100")
    withdrawal = withdrawal_request(store=funded_store, amount="40", actor=owner)
    client.force_login(staff_user("compliance reviewer"))
    url = reverse("admin:merchants_withdrawal_approve", args=[withdrawal.pk])
    assert client.post(url, {"bank_reference": "X"}).status_code == 403
    withdrawal.refresh_from_db()
    assert withdrawal.status == "requested"
