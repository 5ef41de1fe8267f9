import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from merchants.errors import ActionForbidden, DomainError
from merchants.models import DepositEntry, Sanction, StoreEvent
from merchants.selectors import deposit_balance, deposit_required, deposit_summary
from merchants.services import (
    deposit_record,
    deposit_reverse,
    deposit_shortfall_check,
)
from tests.merchants.factories import StoreFactory, category

pytestmark = pytest.mark.django_db


def test_required_deposit_is_the_highest_category_base(store):
    assert deposit_required(store=store) == Decimal("2000.00")
    store.categories.add(category("apparel"), category("food"))
    assert deposit_required(store=store) == Decimal("20000.00")


def test_balance_is_the_sum_of_the_ledger(store):
    deposit_record(store=store, kind="top_up", amount=Decimal("3000"), reason="bank", reference="B1")
    deposit_record(store=store, kind="deduction", amount=Decimal("120.50"), reason="late dispatch")
    deposit_record(store=store, kind="compensation", amount=Decimal("2.00"), reason="buyer compensation")
    assert deposit_balance(store=store) == Decimal("2877.50")
    assert list(store.deposit_account.entries.order_by("id").values_list("kind", "amount")) == [
        ("top_up", Decimal("3000.00")),
        ("deduction", Decimal("-120.50")),
        ("compensation", Decimal("-2.00")),
    ]


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-5"), "abc"])
def test_bad_amounts_are_refused_and_nothing_is_written(store, amount):
    with pytest.raises(DomainError):
        deposit_record(store=store, kind="top_up", amount=amount, reason="x")
    assert DepositEntry.objects.count() == 0


def test_the_same_cause_is_recorded_once(store):
    first = deposit_record(
        store=store, kind="top_up", amount=Decimal("100"), reason="bank", cause_key="top-up:B7"
    )
    again = deposit_record(
        store=store, kind="top_up", amount=Decimal("100"), reason="bank", cause_key="top-up:B7"
    )
    assert first.pk == again.pk
    assert deposit_balance(store=store) == Decimal("100.00")


def test_reversal_undoes_a_deduction_exactly_once(funded_store):
    deduction = deposit_record(
        store=funded_store, kind="deduction", amount=Decimal("500"), reason="spot check"
    )
    deposit_reverse(entry=deduction, reason="appeal won")
    deposit_reverse(entry=deduction, reason="appeal won")
    assert deposit_balance(store=funded_store) == Decimal("2000.00")
    assert DepositEntry.objects.filter(kind="reversal").count() == 1


def test_only_finance_may_record_entries(store, staff_user):
    with pytest.raises(ActionForbidden):
        deposit_record(
            store=store, kind="top_up", amount=Decimal("1"), reason="x", actor=staff_user("quality inspector")
        )
    deposit_record(store=store, kind="top_up", amount=Decimal("1"), reason="x", actor=staff_user("finance"))
    assert deposit_balance(store=store) == Decimal("1.00")


def test_shortfall_holds_withdrawals_at_once_and_restricts_after_48_hours(funded_store):
    store = funded_store
    t0 = timezone.now()
    deposit_record(store=store, kind="deduction", amount=Decimal("300"), reason="late dispatch", now=t0)
    assert deposit_summary(store=store).shortfall_since == t0
    live = Sanction.objects.live(t0).filter(store=store)
    assert list(live.values_list("kind", flat=True)) == ["withdrawal_hold"]
    store.refresh_from_db()
    assert (store.can_withdraw, store.can_list, store.can_take_orders) == (False, True, True)

    result = deposit_shortfall_check(now=t0 + timedelta(hours=47))
    assert result.escalated == 0
    result = deposit_shortfall_check(now=t0 + timedelta(hours=48))
    assert result.escalated == 2
    assert deposit_shortfall_check(now=t0 + timedelta(hours=49)).escalated == 0  # idempotent
    after = t0 + timedelta(hours=48, seconds=1)
    assert sorted(Sanction.objects.live(after).filter(store=store).values_list("kind", flat=True)) == [
        "listing_block",
        "order_restriction",
        "withdrawal_hold",
    ]


def test_top_up_ends_the_shortfall_and_lifts_its_sanctions(funded_store):
    store = funded_store
    t0 = timezone.now() - timedelta(days=3)
    deposit_record(store=store, kind="deduction", amount=Decimal("300"), reason="late dispatch", now=t0)
    deposit_shortfall_check()
    assert Sanction.objects.live().filter(store=store).count() == 3
    deposit_record(store=store, kind="top_up", amount=Decimal("300"), reason="bank", reference="B9")
    assert Sanction.objects.live().filter(store=store).count() == 0
    assert deposit_summary(store=store).shortfall_since is None
    assert StoreEvent.objects.filter(store=store, kind="deposit_shortfall_ended").count() == 1


def test_shortfall_check_finds_stores_made_short_by_a_new_category(funded_store):
    funded_store.categories.add(category("food"))
    result = deposit_shortfall_check()
    assert (result.started, result.ended) == (1, 0)
    assert deposit_shortfall_check().started == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_deductions_leave_the_exact_balance():
    store = StoreFactory()
    deposit_record(store=store, kind="top_up", amount=Decimal("5000.00"), reason="bank")
    barrier = threading.Barrier(20)
    errors = []

    def deduct(i):
        try:
            barrier.wait(timeout=10)
            deposit_record(store=store, kind="deduction", amount=Decimal("12.34"), reason=f"deduction {i}")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=deduct, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert deposit_balance(store=store) == Decimal("5000.00") - 20 * Decimal("12.34")
    assert DepositEntry.objects.filter(kind="deduction").count() == 20
    # The balance crossed below 2,000? No: 4,753.20 stays above, so no shortfall event was written.
    assert not StoreEvent.objects.filter(store=store, kind="deposit_shortfall_started").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deductions_start_the_shortfall_exactly_once():
    store = StoreFactory()
    deposit_record(store=store, kind="top_up", amount=Decimal("2100.00"), reason="bank")
    barrier = threading.Barrier(10)

    def deduct():
        try:
            barrier.wait(timeout=10)
            deposit_record(store=store, kind="deduction", amount=Decimal("50"), reason="penalty")
        finally:
            connection.close()

    threads = [threading.Thread(target=deduct) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert deposit_balance(store=store) == Decimal("1600.00")
    assert StoreEvent.objects.filter(store=store, kind="deposit_shortfall_started").count() == 1
    assert Sanction.objects.filter(store=store, kind="withdrawal_hold").count() == 1


def test_a_refund_cannot_exceed_the_balance(funded_store):
    with pytest.raises(DomainError) as refused:
        deposit_record(store=funded_store, kind="refund", amount=Decimal("2000.01"), reason="return")
    assert refused.value.messages == ["A refund cannot exceed the balance: 2000.01 asked, 2000.00 held."]
    assert deposit_balance(store=funded_store) == Decimal("2000.00")


def test_a_new_shortfall_episode_holds_withdrawals_again(funded_store):
    t0 = timezone.now()
    deposit_record(store=funded_store, kind="deduction", amount=Decimal("1"), reason="a", now=t0)
    deposit_record(store=funded_store, kind="top_up", amount=Decimal("1"), reason="b", now=t0)
    deposit_record(
        store=funded_store,
        kind="deduction",
        amount=Decimal("1"),
        reason="c",
        now=t0 + timedelta(microseconds=5),
    )
    funded_store.refresh_from_db()
    assert funded_store.can_withdraw is False
    assert Sanction.objects.filter(store=funded_store, kind="withdrawal_hold").count() == 2


def test_settlement_freeze_blocks_withdrawals_and_an_ended_sanction_does_not(funded_store):
    from merchants.services import sanction_impose

    now = timezone.now()
    sanction_impose(
        store=funded_store, kind="settlement_freeze", reason="complaint", ends_at=now + timedelta(days=1)
    )
    funded_store.refresh_from_db()
    assert funded_store.can_withdraw is False
    sanction_impose(
        store=funded_store,
        kind="listing_block",
        reason="old",
        starts_at=now - timedelta(days=8),
        ends_at=now - timedelta(days=1),
    )
    assert funded_store.can_list is True


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_second_shortfall_check_started_together_does_not_run():
    import zlib

    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    key = zlib.crc32(b"deposit_shortfall_check") - 2**31
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=connection.settings_dict["NAME"]
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        assert deposit_shortfall_check().skipped is True
        other.execute("SELECT pg_advisory_unlock(%s)", [key])
    assert deposit_shortfall_check().skipped is False
