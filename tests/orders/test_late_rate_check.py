"""The store-level late-rate escalation: products dispatched late too often are banned (RULES §4)."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from merchants.models import Sanction, StoreEvent
from merchants.services import sanction_impose
from orders.checks import late_rate_check, late_rate_days
from orders.rules import LateRateDay
from orders.services import OrderRefused, order_cancel, order_ship
from tests.merchants.factories import ListingFactory
from tests.orders.factories import carrier, make_order

pytestmark = pytest.mark.django_db

ZONE = timezone.get_default_timezone()
TODAY = timezone.localdate(timezone.now(), ZONE)


def at(days_ago: int, hour: int = 10) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), time(hour), tzinfo=ZONE)


def orders_due(store, *, days_ago: int, late: int, on_time: int, sku="SKU-1"):
    """Orders of `sku` due `days_ago` days back (24 h promise): `late` never shipped, `on_time` shipped at once."""
    for n in range(late + on_time):
        order = make_order(store, paid_at=at(days_ago + 1), promise="24h", sku=sku)
        if n >= late:
            order_ship(
                order=order, carrier=carrier("sf"), tracking_no=f"SF{order.pk:013d}", now=order.paid_at
            )


@pytest.fixture
def product(funded_store):
    return ListingFactory(store=funded_store, sku="SKU-1")


def test_the_days_are_counted_per_product_with_late_and_due(funded_store, product):
    orders_due(funded_store, days_ago=2, late=3, on_time=1)
    cancelled = make_order(funded_store, paid_at=at(3), promise="24h")
    order_cancel(order=cancelled, reason="buyer asked", now=at(3, 11))  # closed in time: not counted
    start, end = at(7, 0), at(0, 0)
    assert late_rate_days(start=start, end=end) == {(funded_store.pk, "SKU-1"): [LateRateDay(late=3, due=4)]}


def test_three_bad_days_ban_the_product_for_three_days_once(funded_store, product, client):
    for days_ago in (1, 3, 5):
        orders_due(funded_store, days_ago=days_ago, late=10, on_time=20)  # 10 of 30: a third, ten late
    now = timezone.now()
    assert str(late_rate_check(now=now)) == "products_banned=1 severe=0"
    ban = Sanction.objects.get(kind="product_ban")
    assert (ban.listing, ban.ends_at - ban.starts_at) == (product, timedelta(days=3))
    assert StoreEvent.objects.filter(kind="sanction_imposed", data__sku="SKU-1").count() == 1
    # the store may still take orders, of its other products
    funded_store.refresh_from_db()
    assert funded_store.can_take_orders is True
    # again the same day, and the next day (the same bad days in the window): nothing more
    assert str(late_rate_check(now=now)) == "products_banned=0 severe=0"
    assert str(late_rate_check(now=now + timedelta(days=1))) == "products_banned=0 severe=0"
    assert Sanction.objects.filter(kind="product_ban").count() == 1


def test_a_banned_product_takes_no_new_orders(funded_store, product):
    sanction_impose(
        store=funded_store,
        kind="product_ban",
        listing=product,
        reason="late",
        ends_at=timezone.now() + timedelta(days=3),
    )
    with pytest.raises(OrderRefused, match="Product SKU-1 is banned from sale until"):
        make_order(funded_store, check_store=True)
    make_order(funded_store, sku="SKU-2", check_store=True)  # another product sells


def test_the_severe_rate_bans_longer_and_restricts_new_orders(funded_store, product):
    for days_ago in (1, 2, 6):
        orders_due(funded_store, days_ago=days_ago, late=5, on_time=1)  # 5 of 6: above four fifths
    assert str(late_rate_check(now=timezone.now())) == "products_banned=1 severe=1"
    kinds = sorted((s.kind, s.ends_at - s.starts_at) for s in Sanction.objects.filter(store=funded_store))
    assert kinds == [("order_restriction", timedelta(days=7)), ("product_ban", timedelta(days=7))]
    funded_store.refresh_from_db()
    assert funded_store.can_take_orders is False


def test_two_bad_days_or_a_bad_day_outside_the_window_ban_nothing(funded_store, product):
    for days_ago in (1, 3, 8):  # the 8th day back is outside the 7-day window
        orders_due(funded_store, days_ago=days_ago, late=10, on_time=5)
    orders_due(funded_store, days_ago=0, late=10, on_time=0)  # today is not complete: not judged
    assert str(late_rate_check(now=timezone.now())) == "products_banned=0 severe=0"


def test_a_product_ban_must_name_its_own_stores_product(funded_store, product, store_factory):
    from merchants.errors import DomainError

    with pytest.raises(DomainError, match="names the product"):
        sanction_impose(store=funded_store, kind="product_ban", reason="x")
    with pytest.raises(DomainError, match="another store"):
        sanction_impose(store=store_factory(), kind="product_ban", listing=product, reason="x")
    assert not Sanction.objects.exists()


def test_the_check_reads_the_rule_table(funded_store, product):
    from merchants.models import RuleParameter

    RuleParameter.objects.filter(key="late_rate_ban_min_late_orders").update(value=Decimal("20"))
    for days_ago in (1, 3, 5):
        orders_due(funded_store, days_ago=days_ago, late=10, on_time=20)
    assert str(late_rate_check(now=timezone.now())) == "products_banned=0 severe=0"


def test_the_dashboard_names_the_banned_product(client, funded_store, product, owner):
    sanction_impose(
        store=funded_store,
        kind="product_ban",
        listing=product,
        reason="Late-dispatch rate of this product above the limit on several days",
        ends_at=timezone.now() + timedelta(days=3),
    )
    client.force_login(owner)
    page = client.get(f"/s/{funded_store.code}/").content.decode()
    assert "product banned from sale" in page
    assert f'href="/s/{funded_store.code}/listings/{product.pk}/">SKU-1</a>' in page
