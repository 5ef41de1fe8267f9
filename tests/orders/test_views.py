import csv
import io
import sys
import types
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

import orders
from merchants.spreadsheets import RowError, SpreadsheetError
from orders.models import BuyerDataReveal, Order, OrderEvent, OrderStatus, Shipment
from orders.services import RecipientData, order_cancel, order_ship
from orders.views import deadline_countdown
from tests.merchants.factories import MembershipFactory, StoreFactory
from tests.orders.factories import carrier, make_order

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
VALID_SF = "SF1234567890123"


@pytest.fixture
def seller_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def cs_client(client, funded_store):
    client.force_login(MembershipFactory(store=funded_store, role="customer_service").user)
    return client


def order_urls(store_code, order_id):
    """Every order-desk URL for a store code and an order id: (method, url)."""
    return [
        ("get", reverse("order-list", args=[store_code])),
        ("get", reverse("order-detail", args=[store_code, order_id])),
        ("post", reverse("order-ship", args=[store_code, order_id])),
        ("post", reverse("order-cancel", args=[store_code, order_id])),
        ("post", reverse("order-reveal", args=[store_code, order_id])),
        ("get", reverse("order-export", args=[store_code])),
        ("get", reverse("order-bulk-ship", args=[store_code])),
        ("post", reverse("order-bulk-ship", args=[store_code])),
    ]


def order_numbers(response) -> list[str]:
    return [order.order_no for order in response.context["page"]]


def local(value: datetime) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def assert_untouched(order: Order) -> None:
    """The order is still awaiting dispatch, without shipment, reveal or any event after 'paid'."""
    fresh = Order.objects.get(pk=order.pk)
    assert fresh.status == OrderStatus.PAID
    assert not Shipment.objects.filter(order=order).exists()
    assert not BuyerDataReveal.objects.filter(order=order).exists()
    assert list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True)) == ["paid"]


# --- Tenant isolation and roles -------------------------------------------------------------------


def test_every_order_page_of_own_store_works(seller_client, funded_store):
    order = make_order(funded_store)
    for name, args in [
        ("order-list", [funded_store.code]),
        ("order-detail", [funded_store.code, order.pk]),
        ("order-bulk-ship", [funded_store.code]),
    ]:
        assert seller_client.get(reverse(name, args=args)).status_code == 200, name
    export = seller_client.get(reverse("order-export", args=[funded_store.code]))
    assert export.status_code == 200
    assert export["Content-Type"] == "text/csv; charset=utf-8"


def test_another_stores_code_is_404_on_every_order_url_get_and_post(seller_client, funded_store):
    # Given an order of a store the seller is not a member of
    other_store = StoreFactory()
    other_order = make_order(other_store)
    # When they try every URL with that store's code, by GET and by POST
    for _method, url in order_urls(other_store.code, other_order.pk):
        # Then all are 404, whatever the method
        assert seller_client.get(url).status_code == 404, url
        assert seller_client.post(url, {"reason": "x", "tracking_no": VALID_SF}).status_code == 404, url
    assert_untouched(other_order)


def test_another_stores_order_id_under_own_code_is_404(seller_client, funded_store):
    other_order = make_order(StoreFactory())
    make_order(funded_store)
    code = funded_store.code
    assert seller_client.get(reverse("order-detail", args=[code, other_order.pk])).status_code == 404
    for name, data in [
        ("order-ship", {"carrier": carrier("sf").pk, "tracking_no": VALID_SF}),
        ("order-cancel", {"reason": "out of stock"}),
        ("order-reveal", {}),
    ]:
        response = seller_client.post(reverse(name, args=[code, other_order.pk]), data)
        assert response.status_code == 404, name
    # An export that names the other store's order finds nothing of it.
    response = seller_client.get(reverse("order-export", args=[code]), {"id": other_order.pk})
    assert response.status_code == 302
    assert other_order.order_no.encode() not in response.content
    assert_untouched(other_order)


def test_anonymous_users_are_sent_to_login(client, funded_store):
    order = make_order(funded_store)
    for method, url in order_urls(funded_store.code, order.pk):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_customer_service_may_view_but_not_act(cs_client, funded_store):
    # Given an order awaiting dispatch and a customer-service member
    order = make_order(funded_store)
    code = funded_store.code
    # When they read, they may
    assert cs_client.get(reverse("order-list", args=[code])).status_code == 200
    detail = cs_client.get(reverse("order-detail", args=[code, order.pk]))
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "张**" in page and "138****5678" in page
    assert reverse("order-reveal", args=[code, order.pk]) not in page
    assert reverse("order-ship", args=[code, order.pk]) not in page
    assert reverse("order-cancel", args=[code, order.pk]) not in page
    # When they act, they get 403 and nothing changes
    forbidden = [
        (
            "post",
            reverse("order-ship", args=[code, order.pk]),
            {"carrier": carrier("sf").pk, "tracking_no": VALID_SF},
        ),
        ("post", reverse("order-cancel", args=[code, order.pk]), {"reason": "out of stock"}),
        ("post", reverse("order-reveal", args=[code, order.pk]), {}),
        ("get", reverse("order-export", args=[code]), {}),
        ("get", reverse("order-export", args=[code]), {"contacts": "on"}),
        ("get", reverse("order-bulk-ship", args=[code]), {}),
        (
            "post",
            reverse("order-bulk-ship", args=[code]),
            {
                "file": SimpleUploadedFile(
                    "s.csv", f"order_no,carrier,tracking_no\n{order.order_no},sf,{VALID_SF}\n".encode()
                )
            },
        ),
    ]
    for method, url, data in forbidden:
        assert getattr(cs_client, method)(url, data).status_code == 403, url
    assert_untouched(order)


def test_orders_link_in_the_navigation(seller_client, funded_store):
    page = seller_client.get(reverse("dashboard", args=[funded_store.code])).content.decode()
    assert f'href="{reverse("order-list", args=[funded_store.code])}"' in page


# --- Ship and cancel ------------------------------------------------------------------------------


def test_ship_through_the_form(seller_client, funded_store, owner):
    # Given an order awaiting dispatch
    order = make_order(funded_store)
    url = reverse("order-ship", args=[funded_store.code, order.pk])
    # When the seller ships it with a valid SF number (spaces as typed from a label)
    response = seller_client.post(url, {"carrier": carrier("sf").pk, "tracking_no": "sf 1234 5678 90123"})
    # Then it is shipped, with its shipment and one event
    assert response.status_code == 302
    assert response["Location"] == reverse("order-detail", args=[funded_store.code, order.pk])
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert (order.shipment.carrier.code, order.shipment.tracking_no, order.shipment.created_by) == (
        "sf",
        VALID_SF,
        owner,
    )
    assert list(order.events.values_list("kind", "from_status", "to_status", "actor")) == [
        ("paid", "", "paid", None),
        ("shipped", "paid", "shipped", owner.pk),
    ]
    page = seller_client.get(response["Location"]).content.decode()
    assert f"Order {order.order_no} shipped with SF Express {VALID_SF}." in page
    assert reverse("order-ship", args=[funded_store.code, order.pk]) not in page  # no ship form any more


def test_malformed_tracking_number_is_a_field_error_and_nothing_changes(seller_client, funded_store):
    order = make_order(funded_store)
    response = seller_client.post(
        reverse("order-ship", args=[funded_store.code, order.pk]),
        {"carrier": carrier("sf").pk, "tracking_no": "SF123"},
    )
    assert response.status_code == 400
    form = response.context["ship_form"]
    assert form.errors == {
        "tracking_no": ["SF123 is not a SF Express tracking number (e.g. SF1234567890123)."]
    }
    assert '<span class="error">SF123 is not a SF Express tracking number (e.g. SF1234567890123).</span>' in (
        response.content.decode()
    )
    assert_untouched(order)


def test_a_reused_waybill_is_a_field_error(seller_client, funded_store):
    first = make_order(funded_store)
    order_ship(order=first, carrier=carrier("sf"), tracking_no=VALID_SF)
    second = make_order(
        funded_store,
        recipient=RecipientData(
            name="李四", phone="13900000000", region="上海市 上海市 浦东新区", address="1 号"
        ),
    )
    response = seller_client.post(
        reverse("order-ship", args=[funded_store.code, second.pk]),
        {"carrier": carrier("sf").pk, "tracking_no": VALID_SF},
    )
    assert response.status_code == 400
    assert response.context["ship_form"].errors == {
        "tracking_no": [
            f"{VALID_SF} was already used for another order to a different address; a waybill cannot be reused."
        ]
    }
    assert_untouched(second)


def test_shipping_an_order_already_shipped_shows_the_refusal(seller_client, funded_store):
    order = make_order(funded_store)
    order_ship(order=order, carrier=carrier("sf"), tracking_no=VALID_SF)
    response = seller_client.post(
        reverse("order-ship", args=[funded_store.code, order.pk]),
        {"carrier": carrier("yto").pk, "tracking_no": "YT1234567890123"},
    )
    assert response.status_code == 400
    assert [str(m) for m in response.context["messages"]] == [
        f"Order {order.order_no} is shipped; only an order awaiting dispatch can be shipped."
    ]
    order.refresh_from_db()
    assert (order.status, order.shipment.tracking_no) == (OrderStatus.SHIPPED, VALID_SF)


def test_cancel_through_the_form(seller_client, funded_store, owner):
    order = make_order(funded_store, amount="88.00")
    response = seller_client.post(
        reverse("order-cancel", args=[funded_store.code, order.pk]), {"reason": "Out of stock"}, follow=True
    )
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert list(order.events.values_list("kind", "to_status", "reason", "actor")) == [
        ("paid", "paid", "", None),
        ("cancelled", "cancelled", "Out of stock", owner.pk),
    ]
    page = response.content.decode()
    assert f"Order {order.order_no} cancelled; the buyer is refunded ¥88.00." in page
    assert "Out of stock" in page  # the reason on the timeline


def test_cancel_needs_a_reason(seller_client, funded_store):
    order = make_order(funded_store)
    response = seller_client.post(
        reverse("order-cancel", args=[funded_store.code, order.pk]), {"reason": "  "}
    )
    assert response.status_code == 400
    assert response.context["cancel_form"].errors == {"reason": ["This field is required."]}
    assert_untouched(order)


def test_cancelling_a_cancelled_order_shows_the_refusal(seller_client, funded_store):
    order = make_order(funded_store)
    order_cancel(order=order, reason="buyer asked")
    response = seller_client.post(
        reverse("order-cancel", args=[funded_store.code, order.pk]), {"reason": "again"}
    )
    assert response.status_code == 400
    assert [str(m) for m in response.context["messages"]] == [
        f"Order {order.order_no} is cancelled; only an order awaiting dispatch can be cancelled."
    ]
    assert list(order.events.values_list("kind", flat=True)) == ["paid", "cancelled"]


# --- Detail and reveal ----------------------------------------------------------------------------


def test_detail_shows_lines_masked_recipient_countdown_and_timeline(seller_client, funded_store):
    now = timezone.now()
    order = make_order(
        funded_store, paid_at=now - timedelta(hours=19, minutes=-1), promise="24h", amount="59.90"
    )
    page = seller_client.get(reverse("order-detail", args=[funded_store.code, order.pk])).content.decode()
    assert '<td>SKU-1</td><td>Cotton towel</td><td class="num">1</td><td class="num">¥59.90</td>' in page
    assert "张**" in page and "138****5678" in page and "浙江省 杭州市 西湖区 ****" in page
    assert "张三丰" not in page and "13812345678" not in page and "文三路" not in page
    assert "due in 5 h" in page
    paid_local = timezone.localtime(order.paid_at, SHANGHAI).strftime("%Y-%m-%d %H:%M")
    assert f"<tr><td>{paid_local}</td><td>paid</td>" in page
    assert reverse("order-reveal", args=[funded_store.code, order.pk]) in page


def test_reveal_shows_clear_data_once_and_is_logged(seller_client, funded_store, owner):
    # Given an order and an owner
    order = make_order(funded_store)
    url = reverse("order-reveal", args=[funded_store.code, order.pk])
    # When they reveal it
    response = seller_client.post(url)
    # Then this response shows the recipient in clear, uncached, and the reveal is recorded
    assert response.status_code == 200
    page = response.content.decode()
    assert (
        "张三丰" in page and "13812345678" in page and "浙江省 杭州市 西湖区 文三路 123 号 4 幢 501" in page
    )
    assert "no-store" in response["Cache-Control"]
    assert list(BuyerDataReveal.objects.values_list("user", "order", "purpose")) == [
        (owner.pk, order.pk, "fulfilment")
    ]
    assert "buyer data revealed" in page  # on the timeline already
    # And the next page view is masked again: nothing was kept in the session
    assert all("张三丰" not in str(value) for value in seller_client.session.values())
    again = seller_client.get(reverse("order-detail", args=[funded_store.code, order.pk])).content.decode()
    assert "张三丰" not in again and "张**" in again


def test_reveal_is_post_only(seller_client, funded_store):
    order = make_order(funded_store)
    response = seller_client.get(reverse("order-reveal", args=[funded_store.code, order.pk]))
    assert response.status_code == 405
    assert not BuyerDataReveal.objects.exists()


def test_the_51st_reveal_in_an_hour_shows_the_limit(seller_client, funded_store, owner):
    # Given 50 reveals by this user within the hour
    order = make_order(funded_store)
    BuyerDataReveal.objects.bulk_create(
        BuyerDataReveal(user=owner, order=order, created_at=timezone.now() - timedelta(minutes=50 - i))
        for i in range(50)
    )
    # When they reveal once more
    response = seller_client.post(reverse("order-reveal", args=[funded_store.code, order.pk]))
    # Then the limit is shown, nothing is revealed and nothing is recorded
    assert response.status_code == 429
    assert [str(m) for m in response.context["messages"]] == [
        "You have revealed 50 recipients in the last hour, the most allowed. Try again later."
    ]
    page = response.content.decode()
    assert "张三丰" not in page and "张**" in page
    assert BuyerDataReveal.objects.count() == 50


# --- Export ---------------------------------------------------------------------------------------

EXPORT_HEADER = [
    "order_no",
    "status",
    "fulfilment",
    "paid_at",
    "dispatch_deadline",
    "amount_paid",
    "service_fee",
    "items",
    "recipient_name",
    "recipient_phone",
    "recipient_address",
    "buyer_message",
    "carrier",
    "tracking_no",
]


def test_export_csv_is_masked_by_default(seller_client, funded_store):
    # Given a shipped order and one awaiting dispatch with a message that looks like a formula
    paid = timezone.now().replace(microsecond=0) - timedelta(hours=2)
    shipped = make_order(funded_store, order_no="EXP-1", paid_at=paid, promise="24h")
    order_ship(order=shipped, carrier=carrier("sf"), tracking_no=VALID_SF)
    waiting = make_order(
        funded_store, order_no="EXP-2", paid_at=paid - timedelta(hours=1), buyer_message='=HYPERLINK("x")'
    )
    # When the owner exports without asking for contact data
    response = seller_client.get(reverse("order-export", args=[funded_store.code]), {"format": "csv"})
    # Then the file holds masked recipients only, and no reveal is recorded
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(f'attachment; filename="orders-{funded_store.code}-')
    assert read_csv(response) == [
        EXPORT_HEADER,
        [
            "EXP-1", "shipped", "seller-shipped", local(paid), local(paid + timedelta(hours=24)),
            "100.00", "5.00", "SKU-1 × 1", "张**", "138****5678", "浙江省 杭州市 西湖区 ****", "", "sf", VALID_SF,
        ],
        [
            "EXP-2", "awaiting dispatch", "seller-shipped", local(waiting.paid_at),
            local(waiting.dispatch_deadline), "100.00", "5.00", "SKU-1 × 1", "张**", "138****5678",
            "浙江省 杭州市 西湖区 ****", "'=HYPERLINK(\"x\")", "", "",
        ],
    ]  # fmt: skip
    assert not BuyerDataReveal.objects.exists()


def test_export_with_contacts_when_allowed_and_asked(seller_client, funded_store, owner):
    # Given two orders, one recipient named like a formula
    first = make_order(funded_store, order_no="C-1")
    second = make_order(
        funded_store,
        order_no="C-2",
        paid_at=timezone.now() - timedelta(hours=3),
        recipient=RecipientData(
            name="=1+1", phone="+86 139 0000 1111", region="上海市 上海市 浦东新区", address="世纪大道 1 号"
        ),
    )
    # When the owner ticks both and asks for contact data
    response = seller_client.post(
        reverse("order-export", args=[funded_store.code]),
        {"id": [first.pk, second.pk], "contacts": "on", "format": "csv"},
    )
    # Then the file holds the clear recipients, formula-safe, and each exported order is a logged reveal
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    rows = read_csv(response)
    assert [row[0] for row in rows[1:]] == ["C-1", "C-2"]
    assert [row[8:11] for row in rows[1:]] == [
        ["张三丰", "13812345678", "浙江省 杭州市 西湖区 文三路 123 号 4 幢 501"],
        ["'=1+1", "'+86 139 0000 1111", "上海市 上海市 浦东新区 世纪大道 1 号"],
    ]
    assert sorted(BuyerDataReveal.objects.values_list("user", "order", "purpose")) == [
        (owner.pk, first.pk, "export"),
        (owner.pk, second.pk, "export"),
    ]


def test_export_xlsx_of_selected_orders(seller_client, funded_store):
    from openpyxl import load_workbook

    picked = make_order(funded_store, order_no="X-1")
    make_order(funded_store, order_no="X-2")
    response = seller_client.get(
        reverse("order-export", args=[funded_store.code]), {"id": picked.pk, "format": "xlsx"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == EXPORT_HEADER
    assert len(rows) == 2
    assert (rows[1][0], rows[1][5], rows[1][8], rows[1][9], rows[1][10]) == (
        "X-1",
        100,
        "张**",
        "138****5678",
        "浙江省 杭州市 西湖区 ****",
    )
    assert not BuyerDataReveal.objects.exists()


def test_export_with_contacts_over_the_hourly_limit_is_refused(seller_client, funded_store, owner):
    # Given 49 reveals within the hour and two orders to export
    first, second = make_order(funded_store), make_order(funded_store)
    BuyerDataReveal.objects.bulk_create(BuyerDataReveal(user=owner, order=first) for _ in range(49))
    # When the owner exports both with contact data
    response = seller_client.post(
        reverse("order-export", args=[funded_store.code]), {"id": [first.pk, second.pk], "contacts": "on"}
    )
    # Then no file: back to the list with the reason, and no reveal recorded
    assert response.status_code == 302
    assert response["Location"] == reverse("order-list", args=[funded_store.code])
    page = seller_client.get(response["Location"]).content.decode()
    assert (
        "Exporting contact data for 2 orders would pass the limit of 50 reveals per hour (1 left). "
        "Select fewer orders or export without contact data."
    ) in page
    assert BuyerDataReveal.objects.count() == 49
    assert not BuyerDataReveal.objects.filter(purpose="export").exists()


def test_export_uses_the_list_filters(seller_client, funded_store):
    now = timezone.now()
    make_order(funded_store, order_no="LATE", paid_at=now - timedelta(hours=30), promise="24h")
    make_order(funded_store, order_no="ONTIME", paid_at=now - timedelta(hours=1), promise="24h")
    response = seller_client.get(reverse("order-export", args=[funded_store.code]), {"overdue": "on"})
    assert [row[0] for row in read_csv(response)[1:]] == ["LATE"]


def test_export_with_contacts_needs_the_reveal_capability(seller_client, funded_store, monkeypatch):
    # An operator-like role that may manage orders but not reveal (no such role is seeded today).
    from merchants import roles

    monkeypatch.setitem(
        roles.ROLE_CAPABILITIES, "owner", roles.ROLE_CAPABILITIES["owner"] - {roles.REVEAL_BUYER_DATA}
    )
    make_order(funded_store)
    response = seller_client.post(reverse("order-export", args=[funded_store.code]), {"contacts": "on"})
    assert response.status_code == 403
    assert not BuyerDataReveal.objects.exists()


# --- List: filters, countdown, query count --------------------------------------------------------


@pytest.fixture
def desk_orders(funded_store):
    """Orders in every situation the filters tell apart; deadlines 30 s clear of whole minutes."""
    now = timezone.now()
    late = make_order(
        funded_store, order_no="LATE", paid_at=now - timedelta(hours=26, seconds=30), promise="24h"
    )
    soon = make_order(
        funded_store, order_no="SOON", paid_at=now - timedelta(hours=20, seconds=-30), promise="24h"
    )
    later = make_order(
        funded_store, order_no="LATER", paid_at=now - timedelta(hours=1, seconds=-30), promise="48h"
    )
    shipped = make_order(funded_store, order_no="SHIPPED", paid_at=now - timedelta(hours=5), promise="24h")
    order_ship(order=shipped, carrier=carrier("sf"), tracking_no=VALID_SF)
    cancelled = make_order(funded_store, order_no="CANCELLED", paid_at=now - timedelta(hours=2))
    order_cancel(order=cancelled, reason="buyer asked")
    platform = make_order(
        funded_store,
        order_no="PLATFORM",
        paid_at=now - timedelta(hours=3, seconds=-30),
        fulfilment="platform",
    )
    make_order(StoreFactory(), order_no="FOREIGN", paid_at=now - timedelta(hours=30), promise="24h")
    return {
        "late": late,
        "soon": soon,
        "later": later,
        "shipped": shipped,
        "cancelled": cancelled,
        "platform": platform,
    }


@pytest.mark.parametrize(
    "query, expected",
    [
        ({}, ["LATER", "CANCELLED", "PLATFORM", "SHIPPED", "SOON", "LATE"]),
        ({"overdue": "on"}, ["LATE"]),
        ({"due_within": "6"}, ["SOON"]),
        ({"due_within": "48"}, ["SOON", "PLATFORM", "LATER"]),
        ({"status": "paid"}, ["LATER", "PLATFORM", "SOON", "LATE"]),
        ({"status": "shipped"}, ["SHIPPED"]),
        ({"status": "cancelled"}, ["CANCELLED"]),
        ({"fulfilment": "platform"}, ["PLATFORM"]),
        ({"q": VALID_SF}, ["SHIPPED"]),
        ({"q": "sf1234567890123"}, ["SHIPPED"]),
        ({"q": "SOON"}, ["SOON"]),
        ({"q": "FOREIGN"}, []),
        ({"q": "SF9999999999999"}, []),
    ],
)
def test_list_filters_return_exactly_the_expected_orders(
    seller_client, funded_store, desk_orders, query, expected
):
    response = seller_client.get(reverse("order-list", args=[funded_store.code]), query)
    assert response.status_code == 200
    assert order_numbers(response) == expected


def test_paid_date_range_is_in_the_stores_time_zone(seller_client, funded_store):
    # 23:30 and 00:30 in Shanghai on either side of midnight, both on 1 March in UTC
    make_order(funded_store, order_no="BEFORE", paid_at=datetime(2025, 3, 1, 15, 30, tzinfo=UTC))
    make_order(funded_store, order_no="AFTER", paid_at=datetime(2025, 3, 1, 16, 30, tzinfo=UTC))
    url = reverse("order-list", args=[funded_store.code])
    assert order_numbers(seller_client.get(url, {"paid_from": "2025-03-02"})) == ["AFTER"]
    assert order_numbers(seller_client.get(url, {"paid_to": "2025-03-01"})) == ["BEFORE"]
    assert order_numbers(seller_client.get(url, {"paid_from": "2025-03-01", "paid_to": "2025-03-02"})) == [
        "AFTER",
        "BEFORE",
    ]


def test_an_invalid_filter_is_shown_and_left_out(seller_client, funded_store, desk_orders):
    response = seller_client.get(
        reverse("order-list", args=[funded_store.code]), {"status": "shipped", "due_within": "-3"}
    )
    assert response.status_code == 200
    assert response.context["filters"].errors == {
        "due_within": ["Ensure this value is greater than or equal to 1."]
    }
    assert order_numbers(response) == ["SHIPPED"]


def test_list_rows_show_masked_name_tracking_and_countdown(seller_client, funded_store, desk_orders):
    response = seller_client.get(reverse("order-list", args=[funded_store.code]))
    page = response.content.decode()
    assert "张**" in page and "张三丰" not in page
    assert f"SF Express {VALID_SF}" in page
    countdowns = {
        order.order_no: order.countdown and order.countdown.text for order in response.context["page"]
    }
    assert countdowns == {
        "LATE": "overdue by 2 h",
        "SOON": "due in 4 h",
        "LATER": "due in 47 h",
        "PLATFORM": "due in 45 h",
        "SHIPPED": None,
        "CANCELLED": None,
    }
    assert ">overdue by 2 h</span>" in page and ">due in 4 h</span>" in page


def test_list_paginates_without_counting(seller_client, funded_store):
    now = timezone.now()
    for i in range(25):
        make_order(funded_store, order_no=f"P{i:02d}", paid_at=now - timedelta(minutes=i + 1))
    url = reverse("order-list", args=[funded_store.code])
    first = seller_client.get(url)
    assert order_numbers(first) == [f"P{i:02d}" for i in range(20)]
    assert 'href="?page=2"' in first.content.decode()
    second = seller_client.get(url, {"page": "2"})
    assert order_numbers(second) == [f"P{i:02d}" for i in range(20, 25)]
    assert 'href="?page=1"' in second.content.decode() and "page=3" not in second.content.decode()
    assert order_numbers(seller_client.get(url, {"per_page": "100"})) == [f"P{i:02d}" for i in range(25)]
    assert order_numbers(seller_client.get(url, {"page": "junk"}))[0] == "P00"
    assert order_numbers(seller_client.get(url, {"page": "9"})) == []


def _make_orders(store, n, start=0):
    now = timezone.now()
    for i in range(start, start + n):
        order = make_order(store, order_no=f"Q{i:03d}", paid_at=now - timedelta(minutes=i + 1))
        if i % 3 == 0:
            order_ship(order=order, carrier=carrier("sf"), tracking_no=f"SF{i:013d}")


def test_list_costs_the_same_queries_for_3_or_60_orders_and_20_or_100_a_page(
    seller_client, funded_store, django_assert_max_num_queries, django_assert_num_queries
):
    url = reverse("order-list", args=[funded_store.code])
    _make_orders(funded_store, 3)
    seller_client.get(url)  # warm the session
    with django_assert_max_num_queries(10) as small:
        response = seller_client.get(url)
    assert len(response.context["page"]) == 3
    _make_orders(funded_store, 57, start=3)
    for per_page in ("20", "100"):
        with django_assert_num_queries(len(small.captured_queries)):
            response = seller_client.get(url, {"per_page": per_page})
        assert len(response.context["page"]) == min(int(per_page), 60)
    with django_assert_num_queries(len(small.captured_queries)):
        seller_client.get(url, {"per_page": "100", "status": "shipped", "q": "Q030"})


def test_list_decrypts_only_the_name(seller_client, funded_store, monkeypatch):
    import orders.crypto

    _make_orders(funded_store, 30)
    decrypted = []
    real_decrypt = orders.crypto.decrypt

    def counting_decrypt(token):
        decrypted.append(token)
        return real_decrypt(token)

    monkeypatch.setattr(orders.crypto, "decrypt", counting_decrypt)
    response = seller_client.get(reverse("order-list", args=[funded_store.code]))
    assert len(response.context["page"]) == 20
    # The 20 names shown, and the name of the one row more fetched to know that a next page exists.
    assert len(decrypted) == 21


@pytest.mark.parametrize(
    "delta, expected",
    [
        (timedelta(hours=5, minutes=12, seconds=40), "due in 5 h 12 min"),
        (timedelta(hours=-2), "overdue by 2 h"),
        (timedelta(hours=-2, minutes=-30), "overdue by 2 h 30 min"),
        (timedelta(minutes=7), "due in 7 min"),
        (timedelta(seconds=20), "due in less than 1 min"),
        (timedelta(0), "due in less than 1 min"),
        (timedelta(hours=50, minutes=30), "due in 2 d 2 h"),
        (timedelta(hours=-72), "overdue by 3 d"),
    ],
)
def test_deadline_countdown_text(delta, expected):
    now = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    assert deadline_countdown(deadline=now + delta, now=now).text == expected


# --- Bulk shipping (orders.bulk is written alongside; its function is replaced here) --------------


@dataclass
class FakeRow:
    line: int
    order_no: str
    outcome: str
    errors: list = field(default_factory=list)


@dataclass
class FakeResult:
    rows: list
    shipped: int
    errors: list
    written: bool


@pytest.fixture
def bulk_ship_double(monkeypatch):
    """Replace orders.bulk.shipments_bulk_ship (creating the module if it is not written yet)."""
    try:
        import orders.bulk as module
    except ImportError:
        module = types.ModuleType("orders.bulk")
        monkeypatch.setitem(sys.modules, "orders.bulk", module)
        monkeypatch.setattr(orders, "bulk", module, raising=False)
    calls = []

    def install(*, result=None, error=None):
        def fake_shipments_bulk_ship(*, store, data, actor, dry_run=False):
            calls.append({"store": store, "data": data, "actor": actor, "dry_run": dry_run})
            if error:
                raise error
            return result

        monkeypatch.setattr(module, "shipments_bulk_ship", fake_shipments_bulk_ship, raising=False)
        return calls

    return install


UPLOAD = b"order_no,carrier,tracking_no\nA1,sf,SF1234567890123\nA2,sf,SF12\n"


def test_bulk_ship_shows_a_result_per_row(seller_client, funded_store, owner, bulk_ship_double):
    problem = RowError(line=3, column="tracking_no", message="SF12 is not a SF Express tracking number.")
    calls = bulk_ship_double(
        result=FakeResult(
            rows=[FakeRow(2, "A1", "shipped"), FakeRow(3, "A2", "error", [problem])],
            shipped=1,
            errors=[problem],
            written=True,
        )
    )
    response = seller_client.post(
        reverse("order-bulk-ship", args=[funded_store.code]),
        {"file": SimpleUploadedFile("ship.csv", UPLOAD, content_type="text/csv")},
    )
    assert response.status_code == 400
    assert calls == [{"store": funded_store, "data": UPLOAD, "actor": owner, "dry_run": False}]
    page = response.content.decode()
    assert "1 order shipped." in page
    assert "1 problem found." in page
    assert '<tr class=""><td>2</td><td>A1</td>' in page
    assert "<li><code>tracking_no</code>: SF12 is not a SF Express tracking number.</li>" in page


def test_bulk_ship_dry_run(seller_client, funded_store, bulk_ship_double):
    calls = bulk_ship_double(
        result=FakeResult(rows=[FakeRow(2, "A1", "ok")], shipped=0, errors=[], written=False)
    )
    response = seller_client.post(
        reverse("order-bulk-ship", args=[funded_store.code]),
        {"file": SimpleUploadedFile("ship.csv", UPLOAD), "dry_run": "on"},
    )
    assert response.status_code == 200
    assert calls[0]["dry_run"] is True
    page = response.content.decode()
    assert "Check passed. Nothing was shipped." in page
    assert "OK: would be shipped" in page


def test_bulk_ship_of_an_unreadable_file_is_a_form_error(seller_client, funded_store, bulk_ship_double):
    bulk_ship_double(
        error=SpreadsheetError("This is not a spreadsheet: upload a CSV (UTF-8 or GB18030) or an XLSX file.")
    )
    response = seller_client.post(
        reverse("order-bulk-ship", args=[funded_store.code]),
        {"file": SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n\x00")},
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {
        "file": ["This is not a spreadsheet: upload a CSV (UTF-8 or GB18030) or an XLSX file."]
    }


def test_bulk_ship_without_a_file_is_a_form_error(seller_client, funded_store, bulk_ship_double):
    calls = bulk_ship_double(result=None)
    response = seller_client.post(reverse("order-bulk-ship", args=[funded_store.code]), {})
    assert response.status_code == 400
    assert response.context["form"].errors == {"file": ["This field is required."]}
    assert calls == []


def test_bulk_ship_through_the_real_module(seller_client, funded_store):
    # Given two orders awaiting dispatch
    good = make_order(funded_store, order_no="BULK-1")
    bad = make_order(funded_store, order_no="BULK-2")
    upload = b"order_no,carrier,tracking_no\nBULK-1,sf,SF1234567890123\nBULK-2,sf,SF12\n"
    # When the seller uploads a file with one good row and one malformed number
    response = seller_client.post(
        reverse("order-bulk-ship", args=[funded_store.code]),
        {"file": SimpleUploadedFile("ship.csv", upload, content_type="text/csv")},
    )
    # Then the good row is shipped and the bad one is listed, unshipped
    assert response.status_code == 400
    page = response.content.decode()
    assert "1 order shipped." in page and "1 problem found." in page
    assert (
        "<li><code>tracking_no</code>: SF12 is not a SF Express tracking number (e.g. SF1234567890123).</li>"
        in page
    )
    good.refresh_from_db()
    assert (good.status, good.shipment.tracking_no) == (OrderStatus.SHIPPED, VALID_SF)
    assert_untouched(bad)


def test_contact_data_is_never_exported_by_a_get(seller_client, funded_store):
    # A link (GET) another site could make the seller's browser open must not write reveal records
    make_order(funded_store, order_no="G-1")
    response = seller_client.get(reverse("order-export", args=[funded_store.code]), {"contacts": "on"})
    assert response.status_code == 302
    assert not BuyerDataReveal.objects.exists()


def test_list_rows_escape_what_they_show(seller_client, funded_store):
    make_order(
        funded_store,
        order_no="<b>X</b>",
        recipient=RecipientData(name="<script>", phone="13800000000", region="北京市", address="x"),
    )
    page = seller_client.get(reverse("order-list", args=[funded_store.code])).content.decode()
    assert "&lt;b&gt;X&lt;/b&gt;" in page and "<b>X</b>" not in page
    assert "&lt;**" in page and "<script>" not in page
