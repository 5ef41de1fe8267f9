"""The orders back office: pages render, the big changelist costs a fixed number of queries and no full count,
buyer data is masked, refunds go through the service and are refused for what cannot be refunded, carriers
validate their patterns and rotate their webhook keys."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from orders.models import BuyerDataReveal, Carrier, Order, OrderEvent, OrderStatus, Shipment, TrackingEvent
from orders.services import order_ship, tracking_event_record
from orders.webhooks import body_signature
from tests.merchants.factories import StoreFactory, UserFactory
from tests.orders.factories import carrier, make_order

pytestmark = pytest.mark.django_db


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def _shipped(store, **kwargs):
    order = make_order(store, **kwargs)
    order_ship(order=order, carrier=carrier("sf"), tracking_no="SF1234567890123")
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def one_of_each(funded_store, owner):
    order = _shipped(funded_store, order_no="X1")
    shipment = Shipment.objects.get(order=order)
    tracking_event_record(shipment=shipment, kind="pickup", occurred_at=timezone.now() - timedelta(minutes=5))
    reveal = BuyerDataReveal.objects.create(user=owner, order=order)
    return {
        Order: order,
        Shipment: shipment,
        TrackingEvent: TrackingEvent.objects.get(),
        Carrier: carrier("sf"),
        BuyerDataReveal: reveal,
    }


@pytest.mark.parametrize("model", [Order, Shipment, TrackingEvent, Carrier, BuyerDataReveal])
def test_changelists_and_change_pages_render_for_a_superuser(admin_client, one_of_each, model):
    prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    assert admin_client.get(reverse(f"{prefix}_changelist")).status_code == 200
    obj = one_of_each[model]
    assert admin_client.get(reverse(f"{prefix}_change", args=[obj.pk])).status_code == 200


def test_the_carrier_add_page_renders_and_orders_cannot_be_added_or_deleted(admin_client, one_of_each):
    assert admin_client.get(reverse("admin:orders_carrier_add")).status_code == 200
    assert admin_client.get(reverse("admin:orders_order_add")).status_code == 403
    order = one_of_each[Order]
    assert admin_client.get(reverse("admin:orders_order_delete", args=[order.pk])).status_code == 403


def test_the_order_page_shows_the_recipient_masked_and_never_in_clear(admin_client, funded_store):
    order = make_order(funded_store)
    response = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    content = response.content.decode()
    assert "张**" in content
    assert "138****5678" in content
    assert "浙江省 杭州市 西湖区 ****" in content
    for clear in ("张三丰", "13812345678", "文三路"):
        assert clear not in content
    assert not [name for name in response.context["adminform"].form.fields if name.startswith("recipient")]


def test_the_order_changelist_costs_the_same_queries_for_3_or_60_orders(
    admin_client, funded_store, django_assert_max_num_queries
):
    url = reverse("admin:orders_order_changelist")
    stores = [funded_store, StoreFactory()]
    for i in range(3):
        make_order(stores[i % 2])
    admin_client.get(url)  # warm the session and content-type caches
    with django_assert_max_num_queries(8) as few:
        admin_client.get(url)
    for i in range(57):
        make_order(stores[i % 2])

    with django_assert_max_num_queries(len(few.captured_queries)) as many:
        response = admin_client.get(url)

    assert response.context["cl"].result_count == 60
    assert len(response.context["cl"].result_list) == 60
    # The encrypted recipient columns are not even read for a list page.
    assert not [q for q in many.captured_queries if "recipient_" in q["sql"]]


def test_the_order_changelist_filters_and_searches_exactly(admin_client, funded_store):
    other = StoreFactory(code="OTHER-1")
    make_order(funded_store, order_no="S-100")
    make_order(other, order_no="S-200")
    _shipped(funded_store, order_no="S-300")
    url = reverse("admin:orders_order_changelist")

    def order_nos(params):
        response = admin_client.get(url, params)
        return sorted(o.order_no for o in response.context["cl"].result_list)

    assert order_nos({"q": "S-100"}) == ["S-100"]
    assert order_nos({"q": "S-1"}) == []  # exact, not a LIKE
    assert order_nos({"q": "other-1"}) == ["S-200"]
    assert order_nos({"status__exact": "shipped"}) == ["S-300"]
    assert order_nos({"fulfilment__exact": "seller", "is_advertising__exact": "0"}) == [
        "S-100",
        "S-200",
        "S-300",
    ]


@pytest.mark.postgres
def test_an_unfiltered_order_changelist_is_not_counted_in_full(admin_client, funded_store, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    import merchants.admin

    for _ in range(3):
        make_order(funded_store)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")
    monkeypatch.setattr(merchants.admin, "EXACT_COUNT_BELOW_ROWS", 1)
    url = reverse("admin:orders_order_changelist")

    with CaptureQueriesContext(connection) as unfiltered:
        unfiltered_page = admin_client.get(url)
    with CaptureQueriesContext(connection) as filtered:
        filtered_page = admin_client.get(url, {"status__exact": "paid"})

    def counts(captured):
        return [
            q["sql"]
            for q in captured.captured_queries
            if "COUNT(" in q["sql"].upper() and "orders_order" in q["sql"]
        ]

    assert unfiltered_page.context["cl"].result_count == 3
    assert counts(unfiltered) == []
    assert filtered_page.context["cl"].result_count == 3
    assert len(counts(filtered)) == 1  # a filtered list is counted exactly, once, through its index
    page_query = next(q["sql"] for q in unfiltered.captured_queries if 'FROM "orders_order"' in q["sql"])
    assert 'INNER JOIN "merchants_store"' in page_query


# --- Refund ---------------------------------------------------------------------------------------


def test_refund_of_a_shipped_order_goes_through_the_service(admin_client, admin_user, funded_store):
    order = _shipped(funded_store, order_no="R1")
    change_url = reverse("admin:orders_order_change", args=[order.pk])
    refund_url = reverse("admin:orders_order_refund", args=[order.pk])
    assert refund_url in admin_client.get(change_url).content.decode()

    response = admin_client.post(refund_url, {"reason": "parcel lost"}, follow=True)

    assert _messages(response) == ["Order R1 refunded (100.00 CNY)."]
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert order.closed_at is not None
    event = order.events.get(kind="refunded")
    assert (event.actor, event.reason, event.from_status, event.to_status) == (
        admin_user,
        "parcel lost",
        "shipped",
        "refunded",
    )


def test_refund_of_a_paid_order_is_refused_and_changes_nothing(admin_client, funded_store):
    order = make_order(funded_store, order_no="R2")
    change_url = reverse("admin:orders_order_change", args=[order.pk])
    refund_url = reverse("admin:orders_order_refund", args=[order.pk])
    assert refund_url not in admin_client.get(change_url).content.decode()

    response = admin_client.post(refund_url, {"reason": "why not"})

    assert response.status_code == 200
    assert _messages(response) == ["Order R2 is awaiting dispatch and cannot be refunded."]
    order.refresh_from_db()
    assert (order.status, order.closed_at) == (OrderStatus.PAID, None)
    assert list(order.events.values_list("kind", flat=True)) == ["paid"]


def test_refund_needs_a_reason(admin_client, funded_store):
    order = _shipped(funded_store)
    response = admin_client.post(reverse("admin:orders_order_refund", args=[order.pk]), {"reason": ""})
    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED


def test_staff_who_may_only_view_orders_cannot_refund(client, funded_store):
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_order", content_type__app_label="orders")
    )
    client.force_login(viewer)
    order = _shipped(funded_store)
    events_before = OrderEvent.objects.count()

    assert client.get(reverse("admin:orders_order_change", args=[order.pk])).status_code == 200
    response = client.post(reverse("admin:orders_order_refund", args=[order.pk]), {"reason": "x"})

    assert response.status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert OrderEvent.objects.count() == events_before


# --- Carriers -------------------------------------------------------------------------------------


def _carrier_form(**overrides):
    return {
        "code": "dhl",
        "name": "DHL",
        "name_zh": "敦豪",
        "tracking_pattern": r"\d{10}",
        "tracking_example": "1234567890",
        "is_cross_border": "on",
        "is_active": "on",
        **overrides,
    }


def test_a_carrier_is_added_with_a_fresh_secret(admin_client):
    response = admin_client.post(reverse("admin:orders_carrier_add"), _carrier_form())
    assert response.status_code == 302
    dhl = Carrier.objects.get(code="dhl")
    assert re.fullmatch(r"[0-9a-f]{64}", dhl.webhook_secret)


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"tracking_pattern": r"SF(\d{12"}, "tracking_pattern", "This is not a valid regular expression"),
        ({"tracking_example": "ABC"}, "tracking_example", "The example does not match"),
    ],
)
def test_a_carrier_pattern_must_compile_and_match_its_example(admin_client, overrides, field, message):
    sf = carrier("sf")
    response = admin_client.post(
        reverse("admin:orders_carrier_change", args=[sf.pk]), _carrier_form(code="sf", **overrides)
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field][0].startswith(message)
    assert Carrier.objects.get(pk=sf.pk).tracking_pattern == r"SF\d{12,13}"


def test_the_carrier_page_shows_the_secret_masked(admin_client):
    sf = carrier("sf")
    content = admin_client.get(reverse("admin:orders_carrier_change", args=[sf.pk])).content.decode()
    assert sf.webhook_secret not in content
    assert f"••••••••{sf.webhook_secret[-4:]}" in content
    assert "/webhooks/carriers/sf/tracking/" in content


def test_rotating_the_secret_shows_the_new_one_once_and_the_old_one_stops_working(admin_client, funded_store):
    sf = carrier("sf")
    old = sf.webhook_secret
    url = reverse("admin:orders_carrier_rotate_secret", args=[sf.pk])
    assert admin_client.get(url).status_code == 200
    assert Carrier.objects.get(pk=sf.pk).webhook_secret == old  # a GET changes nothing

    response = admin_client.post(url, {})

    new = Carrier.objects.get(pk=sf.pk).webhook_secret
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    assert re.fullmatch(r"[0-9a-f]{64}", new) and new != old
    assert new in response.content.decode()
    assert new not in admin_client.get(reverse("admin:orders_carrier_change", args=[sf.pk])).content.decode()

    _shipped(funded_store)
    body = b'{"events": []}'
    webhook = reverse("webhooks:carrier_tracking", args=["sf"])
    old_call = admin_client.post(
        webhook, body, content_type="application/json", HTTP_X_SIGNATURE=body_signature(old, body)
    )
    new_call = admin_client.post(
        webhook, body, content_type="application/json", HTTP_X_SIGNATURE=body_signature(new, body)
    )
    assert (old_call.status_code, new_call.status_code) == (403, 200)


def test_rotating_needs_the_change_carrier_permission(client):
    viewer = UserFactory(username="carrier-viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_carrier"))
    client.force_login(viewer)
    sf = carrier("sf")
    response = client.post(reverse("admin:orders_carrier_rotate_secret", args=[sf.pk]), {})
    assert response.status_code == 403
    assert Carrier.objects.get(pk=sf.pk).webhook_secret == sf.webhook_secret


# --- Reveals --------------------------------------------------------------------------------------


def test_reveals_are_filtered_by_user(admin_client, funded_store, owner):
    order = make_order(funded_store)
    someone = UserFactory(username="someone")
    BuyerDataReveal.objects.create(user=owner, order=order)
    BuyerDataReveal.objects.create(user=someone, order=order)
    response = admin_client.get(
        reverse("admin:orders_buyerdatareveal_changelist"), {"user__id__exact": owner.pk}
    )
    assert [r.user for r in response.context["cl"].result_list] == [owner]
    yesterday = timezone.now() - timedelta(days=1)
    BuyerDataReveal.objects.filter(user=someone).update(created_at=yesterday - timedelta(days=30))
    recent = admin_client.get(
        reverse("admin:orders_buyerdatareveal_changelist"),
        {"created_at__gte": timezone.localtime(yesterday).isoformat()},
    )
    assert [r.user for r in recent.context["cl"].result_list] == [owner]
    assert admin_client.get(reverse("admin:orders_buyerdatareveal_add")).status_code == 403
