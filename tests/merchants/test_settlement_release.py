from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from merchants.models import Sanction, SettlementEntry, StoreEvent
from merchants.selectors import settlement_position
from merchants.services import (
    sanction_impose,
    sanction_lift,
    settlement_record,
    settlement_release_check,
    withdrawal_request,
)

pytestmark = pytest.mark.django_db


def income(store, amount, *, available_at, key):
    return settlement_record(
        store=store,
        kind=SettlementEntry.Kind.ORDER_INCOME,
        amount=Decimal(amount),
        available_at=available_at,
        cause_key=f"test:{key}",
    )


def fee(store, amount, *, available_at, key):
    return settlement_record(
        store=store,
        kind=SettlementEntry.Kind.SERVICE_FEE,
        amount=-Decimal(amount),
        available_at=available_at,
        cause_key=f"test:{key}:fee",
    )


def freeze(store, *, since, until):
    return sanction_impose(
        store=store,
        kind=Sanction.Kind.SETTLEMENT_FREEZE,
        reason="fraudulent dispatch",
        starts_at=since,
        ends_at=until,
    )


def released(store):
    return sorted(
        SettlementEntry.objects.filter(store=store, released_at__isnull=False).values_list(
            "cause_key", flat=True
        )
    )


def test_due_settlement_is_released_once(funded_store):
    now = timezone.now()
    income(funded_store, "200.00", available_at=now - timedelta(hours=1), key="a")
    fee(funded_store, "10.00", available_at=now - timedelta(hours=1), key="a")
    income(funded_store, "80.00", available_at=now, key="b")
    income(funded_store, "50.00", available_at=now + timedelta(seconds=1), key="c")

    result = settlement_release_check(now=now)

    assert (result.stores, result.entries, result.frozen_stores, result.skipped) == (1, 3, 0, False)
    assert str(result) == "stores=1 entries=3 frozen=0"
    assert released(funded_store) == ["test:a", "test:a:fee", "test:b"]
    assert set(
        SettlementEntry.objects.filter(released_at__isnull=False).values_list("released_at", flat=True)
    ) == {now}
    position = settlement_position(store=funded_store, now=now)
    assert (position.available, position.pending, position.due) == (
        Decimal("270.00"),
        Decimal("50.00"),
        Decimal("0.00"),
    )
    event = funded_store.events.get(kind="settlement_released")
    assert (event.data, event.reason) == (
        {"amount": "270.00", "entries": 3},
        "Settlement released after the waiting days",
    )

    # The second run at the same time changes nothing.
    events = StoreEvent.objects.count()
    again = settlement_release_check(now=now)
    assert (again.stores, again.entries) == (0, 0)
    assert StoreEvent.objects.count() == events
    assert released(funded_store) == ["test:a", "test:a:fee", "test:b"]

    # A day later the rest follows.
    later = settlement_release_check(now=now + timedelta(days=1))
    assert (later.stores, later.entries) == (1, 1)
    assert settlement_position(store=funded_store, now=now + timedelta(days=1)).available == Decimal("320.00")


def test_a_settlement_freeze_holds_release_until_it_ends(funded_store, store_factory):
    now = timezone.now()
    other = store_factory()
    income(funded_store, "100.00", available_at=now - timedelta(days=1), key="frozen")
    income(other, "30.00", available_at=now - timedelta(days=1), key="other")
    freeze(funded_store, since=now - timedelta(hours=2), until=now + timedelta(days=7))

    result = settlement_release_check(now=now)

    assert (result.stores, result.entries, result.frozen_stores) == (1, 1, 1)
    assert (released(funded_store), released(other)) == ([], ["test:other"])
    position = settlement_position(store=funded_store, now=now)
    assert (position.available, position.pending, position.due) == (
        Decimal("0.00"),
        Decimal("100.00"),
        Decimal("100.00"),
    )
    assert not funded_store.events.filter(kind="settlement_released").exists()

    # Still frozen a day later; released in the first run after the freeze ends.
    assert settlement_release_check(now=now + timedelta(days=1)).entries == 0
    result = settlement_release_check(now=now + timedelta(days=7))
    assert (result.stores, result.entries, result.frozen_stores) == (1, 1, 0)
    assert released(funded_store) == ["test:frozen"]


def test_a_lifted_freeze_releases_at_the_next_run(funded_store):
    now = timezone.now()
    income(funded_store, "100.00", available_at=now - timedelta(days=1), key="x")
    sanction = freeze(funded_store, since=now - timedelta(hours=2), until=None)
    assert settlement_release_check(now=now).entries == 0
    sanction_lift(sanction=sanction, actor=None, reason="appeal won")
    assert settlement_release_check(now=timezone.now()).entries == 1
    assert released(funded_store) == ["test:x"]


def test_withdrawals_and_fee_charges_count_at_once(funded_store, owner):
    now = timezone.now()
    income(funded_store, "100.00", available_at=now - timedelta(days=1), key="i")
    settlement_release_check(now=now)
    withdrawal_request(store=funded_store, amount="40", actor=owner, now=now)
    settlement_record(
        store=funded_store,
        kind=SettlementEntry.Kind.FEE_CHARGE,
        amount=Decimal("-70"),
        available_at=now,
        cause_key="test:charge",
    )
    position = settlement_position(store=funded_store, now=now)
    assert (position.available, position.pending, position.in_arrears) == (
        Decimal("-10.00"),
        Decimal("0.00"),
        True,
    )


def test_the_check_costs_the_same_whatever_the_number_of_entries(
    funded_store, django_assert_max_num_queries, django_assert_num_queries
):
    now = timezone.now()
    income(funded_store, "1.00", available_at=now - timedelta(days=1), key="one")
    # a fixed number per store with due rows, whatever the number of rows (PostgreSQL adds the lock's two)
    with django_assert_max_num_queries(11) as few:
        settlement_release_check(now=now)
    for n in range(40):
        income(funded_store, "1.00", available_at=now, key=f"many{n}")
    with django_assert_num_queries(len(few.captured_queries)):
        assert settlement_release_check(now=now).entries == 40


def test_run_checks_runs_the_release(funded_store):
    now = timezone.now()
    income(funded_store, "5.00", available_at=now - timedelta(days=1), key="cmd")
    out = StringIO()
    call_command("run_checks", "--only", "settlement_release", "--now", now.isoformat(), stdout=out)
    assert out.getvalue() == "settlement_release: stores=1 entries=1 frozen=0\n"
    assert released(funded_store) == ["test:cmd"]


def test_the_withdrawals_page_shows_pending_and_released(client, funded_store, owner):
    now = timezone.now()
    income(funded_store, "100.00", available_at=now - timedelta(days=1), key="old")
    settlement_release_check(now=now)
    income(funded_store, "60.00", available_at=now - timedelta(hours=1), key="due")
    income(funded_store, "25.00", available_at=now + timedelta(days=2), key="later")
    client.force_login(owner)
    page = client.get(reverse("withdrawals", args=[funded_store.code])).content.decode()
    assert "¥100.00" in page  # withdrawable
    assert "¥85.00" in page  # settling
    assert "¥60.00 is due and is released in the next daily run." in page
    assert "released to the withdrawable balance 3 days after the buyer confirms receipt" in page
    assert page.count(">pending<") == 2

    freeze(funded_store, since=now - timedelta(hours=2), until=now + timedelta(days=7))
    page = client.get(reverse("withdrawals", args=[funded_store.code])).content.decode()
    assert "¥60.00 is due but held: settlement is frozen." in page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_second_release_started_together_does_not_run():
    import zlib

    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    key = zlib.crc32(b"settlement_release_check") - 2**31
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=connection.settings_dict["NAME"]
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        assert settlement_release_check().skipped is True
        other.execute("SELECT pg_advisory_unlock(%s)", [key])
    assert settlement_release_check().skipped is False
