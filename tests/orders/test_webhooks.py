"""The carriers' signed tracking webhook: a good signature stores each scan once; anything else stores nothing."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderEvent, OrderStatus, TrackingEvent
from orders.services import order_ship
from orders.webhooks import WEBHOOK_MAX_BYTES, body_signature
from tests.orders.factories import carrier, make_order

pytestmark = pytest.mark.django_db

URL = "/webhooks/carriers/sf/tracking/"


@pytest.fixture
def shipped(funded_store):
    order = make_order(funded_store, order_no="W1", paid_at=timezone.now() - timedelta(days=2))
    order_ship(order=order, carrier=carrier("sf"), tracking_no="SF1234567890123")
    return Order.objects.get(pk=order.pk)


def _pickup_time():
    return (timezone.now() - timedelta(days=1)).replace(microsecond=0)


def _body(*events) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def _event(tracking_no="SF1234567890123", kind="pickup", at=None, **extra):
    at = at or _pickup_time()
    return {"tracking_no": tracking_no, "kind": kind, "occurred_at": at.isoformat(), **extra}


def _post(client, body: bytes, *, code="sf", signature=None, secret=None):
    headers = {}
    if signature is None:
        signature = body_signature(secret or carrier(code).webhook_secret, body) if secret != "" else None
    if signature:
        headers["HTTP_X_SIGNATURE"] = signature
    url = reverse("webhooks:carrier_tracking", args=[code])
    return client.post(url, data=body, content_type="application/json", **headers)


def _stored():
    return (TrackingEvent.objects.count(), OrderEvent.objects.count())


def test_the_url():
    assert reverse("webhooks:carrier_tracking", args=["sf"]) == URL


def test_a_signed_call_stores_the_scans_and_the_first_pickup_is_the_dispatch_time(client, shipped):
    pickup = _pickup_time().astimezone(UTC)
    body = _body(
        _event(at=pickup + timedelta(hours=2), kind="sorting", location="杭州转运中心"),
        _event(at=pickup, location="杭州", description="快件已揽收"),
        _event(tracking_no="sf 0000 0000 00000", kind="in_transit"),
    )

    response = _post(client, body)

    assert response.status_code == 200
    assert response.json() == {"stored": 2, "duplicates": 0, "unknown": ["SF0000000000000"]}
    assert list(TrackingEvent.objects.order_by("occurred_at").values_list("kind", "location", "source")) == [
        ("pickup", "杭州", "webhook"),
        ("sorting", "杭州转运中心", "webhook"),
    ]
    shipped.refresh_from_db()
    assert (shipped.status, shipped.dispatched_at) == (OrderStatus.SHIPPED, pickup)
    assert shipped.shipment.first_pickup_at == pickup
    assert list(shipped.events.order_by("id").values_list("kind", flat=True)) == [
        "paid",
        "shipped",
        "picked_up",
    ]


def test_a_delivery_scan_delivers(client, shipped):
    response = _post(client, _body(_event(kind="delivered")))
    assert response.json() == {"stored": 1, "duplicates": 0, "unknown": []}
    shipped.refresh_from_db()
    assert shipped.status == OrderStatus.DELIVERED


def test_a_replayed_call_is_counted_as_duplicates_and_changes_nothing(client, shipped):
    body = _body(_event(), _event(kind="sorting", at=_pickup_time() + timedelta(hours=1)))
    assert _post(client, body).json() == {"stored": 2, "duplicates": 0, "unknown": []}
    before = _stored()

    response = _post(client, body)

    assert response.status_code == 200
    assert response.json() == {"stored": 0, "duplicates": 2, "unknown": []}
    assert _stored() == before


@pytest.mark.parametrize(
    "signature",
    [
        None,  # no header
        "sha256=" + "0" * 64,
        "0" * 64,
        "sha256=",
        "sha256=ünïcode",
    ],
)
def test_a_missing_or_wrong_signature_is_403_and_stores_nothing(client, shipped, signature):
    before = _stored()
    body = _body(_event())
    if signature is None:
        response = _post(client, body, secret="")
    else:
        response = _post(client, body, signature=signature)
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden"}
    assert _stored() == before
    shipped.refresh_from_db()
    assert shipped.dispatched_at == shipped.shipment.created_at  # still the ship action's time


def test_a_body_signed_with_another_carriers_key_is_403(client, shipped):
    before = _stored()
    response = _post(client, _body(_event()), secret=carrier("yto").webhook_secret)
    assert response.status_code == 403
    assert _stored() == before


def test_a_changed_body_breaks_the_signature(client, shipped):
    body = _body(_event())
    signature = body_signature(carrier("sf").webhook_secret, body)
    response = _post(client, body.replace(b"pickup", b"sorting"), signature=signature)
    assert response.status_code == 403
    assert not TrackingEvent.objects.exists()


def test_an_unknown_carrier_is_403(client, shipped):
    body = _body(_event())
    response = _post(client, body, code="dhl", signature=body_signature("anything", body))
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden"}
    assert not TrackingEvent.objects.exists()


def test_a_carrier_without_a_secret_accepts_nothing(client, shipped):
    sf = carrier("sf")
    sf.webhook_secret = ""
    sf.save(update_fields=["webhook_secret"])
    body = _body(_event())
    response = _post(client, body, signature=body_signature("", body))
    assert response.status_code == 403
    assert not TrackingEvent.objects.exists()


def test_malformed_json_is_400(client, shipped):
    response = _post(client, b'{"events": [')
    assert response.status_code == 400
    assert response.json() == {"error": "body: not valid JSON", "index": None, "field": "body"}
    assert not TrackingEvent.objects.exists()


@pytest.mark.parametrize(
    "payload, error",
    [
        ([], {"error": "body: must be a JSON object with an `events` list", "index": None, "field": "body"}),
        ({"events": "x"}, {"error": "events: must be a list", "index": None, "field": "events"}),
        (
            {"events": [{"kind": "pickup", "occurred_at": "2025-01-02T09:00:00+08:00"}]},
            {"error": "events[0].tracking_no: required", "index": 0, "field": "tracking_no"},
        ),
        (
            {
                "events": [
                    {"tracking_no": "SF1234567890123", "kind": "lost", "occurred_at": "2025-01-02T09:00:00Z"}
                ]
            },
            {
                "error": "events[0].kind: must be one of pickup, sorting, in_transit, delivered",
                "index": 0,
                "field": "kind",
            },
        ),
        (
            {"events": [{"tracking_no": 123, "kind": "pickup", "occurred_at": "2025-01-02T09:00:00Z"}]},
            {"error": "events[0].tracking_no: must be a string", "index": 0, "field": "tracking_no"},
        ),
    ],
)
def test_a_bad_body_is_400_naming_the_field(client, shipped, payload, error):
    response = _post(client, json.dumps(payload).encode())
    assert response.status_code == 400
    assert response.json() == error
    assert not TrackingEvent.objects.exists()


def test_one_bad_event_stores_nothing_of_the_call(client, shipped):
    before = _stored()
    body = _body(
        _event(),
        {"tracking_no": "SF1234567890123", "kind": "sorting", "occurred_at": "2025-01-02 09:00:00"},
    )
    response = _post(client, body)
    assert response.status_code == 400
    assert response.json() == {
        "error": "events[1].occurred_at: must be an ISO-8601 time with a UTC offset",
        "index": 1,
        "field": "occurred_at",
    }
    assert _stored() == before
    shipped.refresh_from_db()
    assert shipped.shipment.first_pickup_at is None


def test_a_scan_from_the_future_is_400(client, shipped):
    response = _post(client, _body(_event(at=timezone.now() + timedelta(hours=2))))
    assert response.status_code == 400
    assert response.json()["field"] == "occurred_at"
    assert not TrackingEvent.objects.exists()


def test_only_post(client, shipped):
    response = client.get(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_a_body_over_the_limit_is_413(client, shipped):
    body = b'{"events": [], "padding": "' + b"x" * WEBHOOK_MAX_BYTES + b'"}'
    response = _post(client, body)
    assert response.status_code == 413
    assert not TrackingEvent.objects.exists()


def test_no_csrf_token_is_needed(shipped):
    from django.test import Client

    response = _post(Client(enforce_csrf_checks=True), _body(_event()))
    assert response.status_code == 200


def test_the_log_holds_no_buyer_or_parcel_data(client, shipped, caplog):
    caplog.set_level("INFO", logger="orders.webhooks")
    _post(client, _body(_event(location="杭州西湖区文三路", description="张三丰 13812345678")))
    _post(client, _body(_event()), signature="sha256=bad")
    assert [r.getMessage() for r in caplog.records if r.name == "orders.webhooks"] == [
        "tracking webhook sf: 1 stored, 0 duplicates, 0 unknown",
        "tracking webhook sf: refused (unknown carrier or bad signature)",
    ]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("SF1234567890123", "张三丰", "13812345678", "文三路"):
        assert secret not in logged


def test_an_event_naming_a_time_in_another_zone_is_stored_in_utc(client, shipped):
    at = datetime(2025, 1, 2, 9, 0, tzinfo=UTC)
    body = _body(
        {"tracking_no": "SF1234567890123", "kind": "pickup", "occurred_at": "2025-01-02T17:00:00+08:00"}
    )
    assert _post(client, body).json()["stored"] == 1
    assert TrackingEvent.objects.get().occurred_at == at
