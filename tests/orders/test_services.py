from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from merchants.errors import ActionForbidden, DomainError, TransitionRefused
from merchants.models import Sanction
from merchants.services import sanction_impose
from orders.models import BuyerDataReveal, Order, OrderEvent, OrderStatus, Shipment, TrackingEvent
from orders.services import (
    LineData,
    OrderRefused,
    RecipientData,
    buyer_data_reveal,
    order_cancel,
    order_confirm_receipt,
    order_create,
    order_ship,
    shipment_correct,
    tracking_event_record,
)
from tests.merchants.factories import MembershipFactory
from tests.orders.factories import RECIPIENT, carrier, make_order

pytestmark = pytest.mark.django_db


def test_order_gets_deadline_fee_lines_and_a_paid_event(funded_store):
    paid = timezone.now().replace(microsecond=0)
    order = order_create(
        store=funded_store,
        order_no="A1",
        paid_at=paid,
        amount_paid=Decimal("200.00"),
        lines=[
            LineData(sku="S1", title="Towel", quantity=2, unit_price=Decimal("50"), promised_dispatch="72h"),
            LineData(sku="S2", title="Mat", quantity=1, unit_price=Decimal("100"), promised_dispatch="24h"),
        ],
        recipient=RECIPIENT,
    )
    assert order.dispatch_deadline == paid + timedelta(hours=24)
    assert order.service_fee == Decimal("10.00")  # general merchandise 5%, store opened 90 days ago
    assert order.lines.count() == 2
    assert list(order.events.values_list("kind", "to_status")) == [("paid", "paid")]


def test_recipient_is_encrypted_at_rest(funded_store):
    order = make_order(funded_store)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT recipient_name, recipient_phone, recipient_address FROM orders_order WHERE id = %s",
            [order.pk],
        )
        stored = cursor.fetchone()
    assert all("张三丰" not in v and "13812345678" not in v and "文三路" not in v for v in stored)
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.recipient_name, fresh.recipient_phone) == ("张三丰", "13812345678")


def test_duplicate_order_number_is_refused(funded_store):
    make_order(funded_store, order_no="DUP")
    with pytest.raises(OrderRefused, match="already has an order DUP"):
        make_order(funded_store, order_no="DUP")


def test_ship_with_a_valid_tracking_number(funded_store):
    order = make_order(funded_store)
    now = timezone.now()
    order_ship(order=order, carrier=carrier("sf"), tracking_no="sf 1234 5678 90123", now=now)
    order.refresh_from_db()
    assert (order.status, order.dispatched_at) == (OrderStatus.SHIPPED, now)
    assert order.shipment.tracking_no == "SF1234567890123"
    assert list(order.events.values_list("kind", flat=True)) == ["paid", "shipped"]


@pytest.mark.parametrize(
    "code, number",
    [("sf", "YT1234567890123"), ("sf", "SF123"), ("ups", "1Z12"), ("ems", "EA123456789US"), ("zto", "")],
)
def test_malformed_tracking_numbers_are_refused_and_nothing_changes(funded_store, code, number):
    order = make_order(funded_store)
    with pytest.raises(OrderRefused) as refused:
        order_ship(order=order, carrier=carrier(code), tracking_no=number)
    assert list(refused.value.field_errors) == ["tracking_no"]
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert not Shipment.objects.exists()
    assert order.events.count() == 1


def test_a_waybill_reused_for_another_address_is_refused(funded_store):
    first = make_order(funded_store)
    order_ship(order=first, carrier=carrier("sf"), tracking_no="SF1234567890123")
    same_address = make_order(funded_store)
    order_ship(
        order=same_address, carrier=carrier("sf"), tracking_no="SF1234567890123"
    )  # merged parcel: allowed
    elsewhere = make_order(
        funded_store, recipient=RecipientData("李四", "13900000000", "上海市 浦东新区", "世纪大道 1 号")
    )
    with pytest.raises(OrderRefused) as refused:
        order_ship(order=elsewhere, carrier=carrier("sf"), tracking_no="SF1234567890123")
    assert "a waybill cannot be reused" in refused.value.field_errors["tracking_no"][0]
    elsewhere.refresh_from_db()
    assert elsewhere.status == OrderStatus.PAID


def test_a_store_under_order_restriction_cannot_ship(funded_store):
    order = make_order(funded_store)
    sanction_impose(store=funded_store, kind=Sanction.Kind.ORDER_RESTRICTION, reason="36 points")
    with pytest.raises(OrderRefused, match="may not take orders"):
        order_ship(order=order, carrier=carrier("sf"), tracking_no="SF1234567890123")


def test_only_a_paid_order_ships(funded_store):
    order = make_order(funded_store)
    order_cancel(order=order, reason="buyer asked")
    with pytest.raises(TransitionRefused):
        order_ship(order=order, carrier=carrier("sf"), tracking_no="SF1234567890123")


def test_customer_service_cannot_ship(funded_store):
    order = make_order(funded_store)
    cs = MembershipFactory(store=funded_store, role="customer_service").user
    with pytest.raises(ActionForbidden):
        order_ship(order=order, carrier=carrier("sf"), tracking_no="SF1234567890123", actor=cs)


def test_first_pickup_scan_is_the_dispatch_time_and_delivery_delivers(funded_store):
    order = make_order(funded_store)
    order_ship(order=order, carrier=carrier("sf"), tracking_no="SF1234567890123")
    shipment = Shipment.objects.get(order=order)
    pickup = timezone.now() - timedelta(minutes=30)
    tracking_event_record(shipment=shipment, kind="sorting", occurred_at=pickup + timedelta(hours=1))
    _, created = tracking_event_record(shipment=shipment, kind="pickup", occurred_at=pickup)
    _, again = tracking_event_record(shipment=shipment, kind="pickup", occurred_at=pickup)
    assert (created, again) == (True, False)
    order.refresh_from_db()
    assert order.dispatched_at == pickup
    tracking_event_record(shipment=shipment, kind="delivered", occurred_at=pickup + timedelta(days=1))
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    assert TrackingEvent.objects.count() == 3
    order_confirm_receipt(order=order)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED


def test_cancel_needs_a_reason_and_happens_only_before_dispatch(funded_store):
    order = make_order(funded_store)
    with pytest.raises(OrderRefused):
        order_cancel(order=order, reason="")
    order_cancel(order=order, reason="Out of stock")
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert OrderEvent.objects.filter(order=order, kind="cancelled", reason="Out of stock").count() == 1


def test_reveal_is_logged_and_limited_per_hour(funded_store, owner):
    order = make_order(funded_store)
    revealed = buyer_data_reveal(order=order, user=owner)
    assert (revealed.name, revealed.phone, revealed.address) == (
        "张三丰",
        "13812345678",
        "文三路 123 号 4 幢 501",
    )
    now = timezone.now()
    BuyerDataReveal.objects.bulk_create(
        BuyerDataReveal(user=owner, order=order, created_at=now) for _ in range(49)
    )
    with pytest.raises(DomainError, match="revealed 50 recipients in the last hour"):
        buyer_data_reveal(order=order, user=owner)
    assert BuyerDataReveal.objects.filter(user=owner).count() == 50
    # An hour later the window has moved on.
    assert (
        buyer_data_reveal(order=order, user=owner, now=now + timedelta(hours=1, seconds=1)).name == "张三丰"
    )


def test_customer_service_may_not_reveal(funded_store):
    order = make_order(funded_store)
    cs = MembershipFactory(store=funded_store, role="customer_service").user
    with pytest.raises(ActionForbidden):
        buyer_data_reveal(order=order, user=cs)
    assert not BuyerDataReveal.objects.exists()


def test_completed_order_settles_income_minus_fee_three_days_later(funded_store):
    from merchants.selectors import settlement_position

    order = make_order(funded_store, amount="200.00")
    order_ship(order=order, carrier=carrier("sf"), tracking_no="SF1234567890123")
    shipment = Shipment.objects.get(order=order)
    now = timezone.now()
    tracking_event_record(shipment=shipment, kind="delivered", occurred_at=now)
    order_confirm_receipt(order=order, now=now)
    assert (
        settlement_position(store=funded_store, now=now + timedelta(days=3) - timedelta(seconds=1)).available
        == 0
    )
    from merchants.services import settlement_release_check

    settlement_release_check(now=now + timedelta(days=3) - timedelta(seconds=1))
    assert settlement_position(store=funded_store, now=now + timedelta(days=3)).available == 0
    settlement_release_check(now=now + timedelta(days=3))  # the daily release run
    position = settlement_position(store=funded_store, now=now + timedelta(days=3))
    assert position.available == Decimal("190.00")  # 200 − 5% fee


# --- Correcting a waybill before the carrier scans it ----------------------------------------------------


def test_a_waybill_not_scanned_yet_may_be_corrected_once_each_check_passes(funded_store):
    order = order_ship(order=make_order(funded_store), carrier=carrier("sf"), tracking_no="SF1234567890123")
    other = order_ship(
        order=make_order(funded_store, recipient=RecipientData(name="李四", phone="13900000000",
                         region="上海市 上海市 浦东新区", address="世纪大道 1 号")),
        carrier=carrier("sf"),
        tracking_no="SF7777777777777",
    )  # fmt: skip
    cs = MembershipFactory(store=funded_store, role="customer_service").user
    events = OrderEvent.objects.count()

    with pytest.raises(ActionForbidden):
        shipment_correct(order=order, carrier=carrier("sf"), tracking_no="SF9999999999999", actor=cs)
    with pytest.raises(OrderRefused, match="is not a SF Express tracking number"):
        shipment_correct(order=order, carrier=carrier("sf"), tracking_no="12")
    with pytest.raises(OrderRefused, match="already used for another order to a different address"):
        shipment_correct(order=order, carrier=carrier("sf"), tracking_no=other.shipment.tracking_no)
    assert (Shipment.objects.get(order=order).tracking_no, OrderEvent.objects.count()) == (
        "SF1234567890123",
        events,
    )

    shipment = shipment_correct(order=order, carrier=carrier("sf"), tracking_no="sf 9999 9999 99999")

    assert Shipment.objects.get(order=order).tracking_no == shipment.tracking_no == "SF9999999999999"
    assert OrderEvent.objects.filter(order=order, kind="tracking_corrected").count() == 1


def test_a_scanned_waybill_cannot_be_corrected(funded_store):
    order = order_ship(order=make_order(funded_store), carrier=carrier("sf"), tracking_no="SF1234567890123")
    tracking_event_record(
        shipment=Shipment.objects.get(order=order), kind="sorting", occurred_at=timezone.now()
    )

    with pytest.raises(OrderRefused, match="a scanned waybill cannot change"):
        shipment_correct(order=order, carrier=carrier("sf"), tracking_no="SF9999999999999")
    assert Shipment.objects.get(order=order).tracking_no == "SF1234567890123"


def test_only_a_shipped_seller_order_has_its_waybill_corrected(funded_store):
    order = order_ship(order=make_order(funded_store), carrier=carrier("sf"), tracking_no="SF1234567890123")
    platform = make_order(funded_store, fulfilment="platform")
    staff = MembershipFactory(store=funded_store, role="owner").user
    staff.is_staff, staff.is_superuser = True, True
    staff.save()
    platform = order_ship(order=platform, carrier=carrier("sf"), tracking_no="SF2222222222222", actor=staff)
    owner = MembershipFactory(store=funded_store, role="owner").user

    with pytest.raises(OrderRefused, match="shipped by the platform's warehouse"):
        shipment_correct(order=platform, carrier=carrier("sf"), tracking_no="SF9999999999999", actor=owner)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.REFUNDED)
    with pytest.raises(TransitionRefused, match="only a shipped order's waybill can be corrected"):
        shipment_correct(order=order, carrier=carrier("sf"), tracking_no="SF9999999999999")

    assert list(Shipment.objects.order_by("id").values_list("tracking_no", flat=True)) == [
        "SF1234567890123",
        "SF2222222222222",
    ]
