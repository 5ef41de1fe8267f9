"""Buyer contacts: the lost-contact check, the CSV import and the call system's signed endpoint."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from complaints.checks import lost_contact_check
from complaints.models import BuyerMessage, CallAttempt
from complaints.selectors import service_figures_for_store
from complaints.services import call_attempt_record, contacts_import
from merchants.checks import CHECKS
from merchants.errors import ActionForbidden
from merchants.models import DepositEntry, Violation
from merchants.selectors import deposit_balance
from orders.webhooks import body_signature
from tests.merchants.factories import MembershipFactory
from tests.orders.factories import make_order

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def calls(order, *spec):
    """spec: (hours before NOW, connected)."""
    for hours_ago, connected in spec:
        call_attempt_record(
            order=order, called_at=NOW - timedelta(hours=hours_ago), connected=connected, now=NOW
        )


def lost_contact_violations():
    return list(
        Violation.objects.filter(violation_type__code="lost_contact").values_list("cause_kind", "cause_id")
    )


def test_three_unconnected_calls_within_24_hours_make_lost_contact(funded_store):
    order = make_order(funded_store, paid_at=NOW - timedelta(days=2))
    calls(order, (23, False), (10, False), (0, False))
    balance = deposit_balance(store=funded_store)
    assert str(lost_contact_check(now=NOW)) == "lost_contact=1"
    assert lost_contact_violations() == [("contact", str(order.pk))]
    violation = Violation.objects.get(violation_type__code="lost_contact")
    assert (violation.points, violation.occurred_at) == (2, NOW)
    assert DepositEntry.objects.get(cause_key=f"violation:{violation.pk}:deduction").amount == Decimal(
        "-500.00"
    )
    assert deposit_balance(store=funded_store) == balance - Decimal("500.00")


def test_the_second_run_changes_nothing(funded_store):
    order = make_order(funded_store, paid_at=NOW - timedelta(days=2))
    calls(order, (3, False), (2, False), (1, False), (0.5, False))
    assert lost_contact_check(now=NOW).recorded == 1
    entries = DepositEntry.objects.count()
    assert lost_contact_check(now=NOW).recorded == 0
    assert lost_contact_check(now=NOW + timedelta(hours=1)).recorded == 0
    assert len(lost_contact_violations()) == 1
    assert DepositEntry.objects.count() == entries


def test_two_unconnected_calls_are_not_enough(funded_store):
    order = make_order(funded_store, paid_at=NOW - timedelta(days=2))
    calls(order, (5, False), (1, False))
    assert lost_contact_check(now=NOW).recorded == 0


def test_three_calls_spread_over_more_than_24_hours_are_not_lost_contact(funded_store):
    order = make_order(funded_store, paid_at=NOW - timedelta(days=3))
    calls(order, (24 + 1 / 60, False), (12, False), (0, False))
    assert lost_contact_check(now=NOW).recorded == 0


def test_exactly_24_hours_from_first_to_third_call_counts(funded_store):
    order = make_order(funded_store, paid_at=NOW - timedelta(days=3))
    calls(order, (24, False), (12, False), (0, False))
    assert lost_contact_check(now=NOW).recorded == 1


def test_a_connected_call_in_between_resets_the_count(funded_store):
    order = make_order(funded_store, paid_at=NOW - timedelta(days=2))
    calls(order, (20, False), (15, False), (10, True), (5, False), (1, False))
    assert lost_contact_check(now=NOW).recorded == 0
    calls(order, (0, False))  # the third unconnected call after the connected one
    assert lost_contact_check(now=NOW).recorded == 1


def test_calls_of_different_orders_do_not_add_up(funded_store):
    first = make_order(funded_store, paid_at=NOW - timedelta(days=2))
    second = make_order(funded_store, paid_at=NOW - timedelta(days=2))
    calls(first, (3, False), (2, False))
    calls(second, (1, False))
    assert lost_contact_check(now=NOW).recorded == 0


def test_the_check_is_registered_for_run_checks(funded_store):
    assert CHECKS["lost_contact"](NOW) == "lost_contact=0"


# --- Recording ----------------------------------------------------------------------------------------


def test_customer_service_records_calls_and_strangers_cannot(funded_store, cs_user, other_store):
    order = make_order(funded_store)
    call, created = call_attempt_record(order=order, called_at=NOW, connected=False, actor=cs_user)
    assert created and call.recorded_by == cs_user and call.store_id == funded_store.pk
    again, created = call_attempt_record(order=order, called_at=NOW, connected=False, actor=cs_user)
    assert (again, created) == (call, False)
    stranger = MembershipFactory(store=other_store).user
    with pytest.raises(ActionForbidden):
        call_attempt_record(order=order, called_at=NOW - timedelta(hours=1), connected=False, actor=stranger)
    assert CallAttempt.objects.count() == 1


CSV_OK = (
    "order_no,type,at,connected,answered_at,answered_by\n"
    "{no},call,2026-01-05 09:00,no,,\n"
    "{no},call,2026-01-05 10:00,yes,,\n"
    "{no},message,2026-01-05 09:30,,2026-01-05 09:31,human\n"
)


def test_csv_import_records_calls_and_messages_in_store_time(funded_store, owner):
    order = make_order(funded_store, order_no="CSV-1")
    result = contacts_import(store=funded_store, data=CSV_OK.format(no="CSV-1").encode(), actor=owner)
    assert (result.calls, result.messages, result.duplicates, result.errors) == (2, 1, 0, [])
    first = CallAttempt.objects.filter(order=order).order_by("called_at").first()
    assert first.called_at.isoformat() == "2026-01-05T01:00:00+00:00"  # 09:00 in Shanghai
    assert first.source == "csv"
    message = BuyerMessage.objects.get(order=order)
    assert (message.answered_by_human, (message.answered_at - message.sent_at).total_seconds()) == (True, 60)
    again = contacts_import(store=funded_store, data=CSV_OK.format(no="CSV-1").encode(), actor=owner)
    assert (again.calls, again.messages, again.duplicates) == (0, 0, 3)


def test_csv_import_with_errors_stores_nothing_and_names_rows_and_columns(funded_store, owner):
    make_order(funded_store, order_no="CSV-2")
    data = (
        b"order_no,type,at,connected,answered_at,answered_by\n"
        b"CSV-2,call,2026-01-05 09:00,maybe,,\n"
        b"NOPE,message,yesterday,,,\n"
        b"CSV-2,fax,2026-01-05 09:00,,,\n"
        b"CSV-2,message,2026-01-05 09:00,,2026-01-05 08:00,human\n"
        b"CSV-2,call,2026-01-05 11:00,no,,\n"
    )
    result = contacts_import(store=funded_store, data=data, actor=owner)
    assert [str(e) for e in result.errors] == [
        "row 2: connected: must be yes or no",
        "row 3: order_no: no order NOPE in this store",
        "row 3: at: not a time: use YYYY-MM-DD HH:MM",
        "row 4: type: must be call or message",
        "row 5: answered_at: is before the message",
    ]
    assert CallAttempt.objects.count() == BuyerMessage.objects.count() == 0


def test_service_figures_per_store(funded_store):
    order = make_order(funded_store)
    from zoneinfo import ZoneInfo

    ten = (
        timezone.now()
        .astimezone(ZoneInfo("Asia/Shanghai"))
        .replace(hour=10, minute=0, second=0, microsecond=0)
    )
    if ten > timezone.now():
        ten -= timedelta(days=1)
    BuyerMessage.objects.create(
        store=funded_store,
        order=order,
        sent_at=ten,
        answered_at=ten + timedelta(seconds=60),
        answered_by_human=True,
    )
    BuyerMessage.objects.create(store=funded_store, order=order, sent_at=ten + timedelta(minutes=1))
    figures = service_figures_for_store(store=funded_store, days=30)
    assert (figures.messages, figures.reply_rate, figures.average_response_seconds) == (
        2,
        Decimal("0.5000"),
        Decimal("330.0"),
    )


# --- The call system's endpoint ---------------------------------------------------------------------

SECRET = "call-system-test-secret"


@pytest.fixture
def call_secret(settings):
    settings.CALL_SYSTEM_WEBHOOK_SECRET = SECRET
    return SECRET


def post_calls(client, payload, *, secret=SECRET):
    body = json.dumps(payload).encode()
    return client.post(
        reverse("call_system_webhook"),
        data=body,
        content_type="application/json",
        headers={"X-Signature": body_signature(secret, body)},
    )


def test_signed_calls_are_stored_once(client, funded_store, call_secret):
    order = make_order(funded_store, order_no="WH-1")
    payload = {
        "calls": [
            {"call_id": "c-1", "store_code": funded_store.code, "order_no": "WH-1",
             "called_at": "2026-01-05T09:00:00+08:00", "connected": False},
            {"call_id": "c-2", "store_code": funded_store.code, "order_no": "NOPE",
             "called_at": "2026-01-05T09:05:00+08:00", "connected": True},
        ]
    }  # fmt: skip
    response = post_calls(client, payload)
    assert (response.status_code, response.json()) == (
        200,
        {"stored": 1, "duplicates": 0, "unknown": ["c-2"]},
    )
    assert post_calls(client, payload).json() == {"stored": 0, "duplicates": 1, "unknown": ["c-2"]}
    call = CallAttempt.objects.get(order=order)
    assert (call.external_id, call.source, call.connected) == ("c-1", "call_system", False)


def test_a_wrong_signature_or_no_secret_is_refused_and_stores_nothing(client, funded_store, settings):
    make_order(funded_store, order_no="WH-2")
    payload = {"calls": [{"call_id": "c-9", "store_code": funded_store.code, "order_no": "WH-2",
                          "called_at": "2026-01-05T09:00:00+08:00", "connected": False}]}  # fmt: skip
    settings.CALL_SYSTEM_WEBHOOK_SECRET = ""
    assert post_calls(client, payload).status_code == 403
    settings.CALL_SYSTEM_WEBHOOK_SECRET = SECRET
    assert post_calls(client, payload, secret="guessed").status_code == 403
    assert CallAttempt.objects.count() == 0


def test_a_bad_call_is_a_400_naming_it(client, funded_store, call_secret):
    payload = {"calls": [{"call_id": "c-1", "store_code": funded_store.code, "order_no": "X",
                          "called_at": "2026-01-05 09:00", "connected": "no"}]}  # fmt: skip
    response = post_calls(client, payload)
    assert (response.status_code, response.json()["error"]) == (
        400,
        "calls[0].called_at: must be an ISO-8601 time with a UTC offset",
    )
