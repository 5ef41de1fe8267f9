import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from merchants.services import deposit_record
from orders.models import Order, OrderStatus, Shipment
from tests.merchants.factories import MembershipFactory, StoreFactory, UserFactory
from tests.orders.factories import make_order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _carriers():
    # A transactional test's flush empties every table; the shared reseed puts back the merchants' rule
    # table only, so put back the carriers and the order rules too (the migration's seed is idempotent).
    importlib.import_module("orders.migrations.0002_seed_carriers_and_rules").seed(apps, None)


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-123456")
    page.click("main form [type=submit]")


def test_seller_ships_an_order_and_a_malformed_number_changes_nothing(page, live_server):
    # Given a seller with two orders awaiting dispatch
    store = StoreFactory(code="SHIP-001", name="Ship store")
    deposit_record(store=store, kind="top_up", amount=Decimal("2000"), reason="bank")
    MembershipFactory(store=store, user=UserFactory(username="demo-seller"), role="owner")
    first = make_order(store, order_no="WEB-ORDER-1")
    second = make_order(store, order_no="WEB-ORDER-2")

    # When they open the first from the order list and ship it with a valid SF number
    log_in(page, live_server, "demo-seller")
    page.click("nav.mainnav >> text=Orders")
    assert page.inner_text("table.orders tbody").count("awaiting dispatch") == 2
    page.click("table.orders >> text=WEB-ORDER-1")
    assert page.inner_text("#order-status") == "awaiting dispatch"
    page.select_option("#id_carrier", label="SF Express")
    page.fill("#id_tracking_no", "SF1234567890123")
    page.click("form.ship-form [type=submit]")

    # Then they see it shipped, with the shipment on the page and in the database
    assert "Order WEB-ORDER-1 shipped with SF Express SF1234567890123." in page.inner_text("main")
    assert page.inner_text("#order-status") == "shipped"
    assert "SF1234567890123" in page.inner_text("#shipment")
    assert Order.objects.get(pk=first.pk).status == OrderStatus.SHIPPED
    assert Shipment.objects.get(order=first).tracking_no == "SF1234567890123"

    # When they try to ship the second with a malformed number
    page.click("text=← Orders")
    page.click("table.orders >> text=WEB-ORDER-2")
    page.select_option("#id_carrier", label="SF Express")
    page.fill("#id_tracking_no", "SF12345")
    page.click("form.ship-form [type=submit]")

    # Then the error is on the field, and the order stays awaiting dispatch
    assert "SF12345 is not a SF Express tracking number (e.g. SF1234567890123)." in page.inner_text("#ship")
    assert page.inner_text("#order-status") == "awaiting dispatch"
    assert page.input_value("#id_tracking_no") == "SF12345"
    second.refresh_from_db()
    assert second.status == OrderStatus.PAID
    assert not Shipment.objects.filter(order=second).exists()
    assert list(second.events.values_list("kind", flat=True)) == ["paid"]
