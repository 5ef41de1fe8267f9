"""The seller's violations page: each violation with its cause (linked), cost, status and appeal window."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from merchants.models import Violation
from merchants.services import violation_record, violation_revoke
from orders.checks import late_dispatch_check, tracking_check
from orders.services import order_ship
from tests.orders.factories import carrier, make_order

pytestmark = pytest.mark.django_db


def test_violations_link_their_order_and_show_compensation_deduction_and_appeal_window(
    client, funded_store, owner, admin_user
):
    late = make_order(
        funded_store, paid_at=timezone.now() - timedelta(days=2), promise="24h", amount="250.00"
    )
    late_dispatch_check(now=late.dispatch_deadline + timedelta(minutes=1))
    shipped = make_order(funded_store, paid_at=timezone.now() - timedelta(days=5), amount="240.00")
    order_ship(
        order=shipped,
        carrier=carrier("sf"),
        tracking_no="SF1234567890123",
        now=timezone.now() - timedelta(days=3),
    )
    tracking_check(now=timezone.now())
    old, _ = violation_record(
        store=funded_store,
        type_code="lost_contact",
        cause_kind="contact",
        cause_id="call-1",
        occurred_at=timezone.now() - timedelta(days=8),
        now=timezone.now() - timedelta(days=8),  # recorded then: its appeal window has closed
    )
    revoked, _ = violation_record(
        store=funded_store, type_code="negative_service", cause_kind="manual", cause_id="m1"
    )
    violation_revoke(violation=revoked, actor=admin_user, reason="misread chat")

    client.force_login(owner)
    page = client.get(reverse("violations", args=[funded_store.code])).content.decode()
    assert f'<a href="/s/{funded_store.code}/orders/{late.pk}/">{late.order_no} #1</a>' in page
    assert f'<a href="/s/{funded_store.code}/orders/{shipped.pk}/">' in page  # the shipment's order
    assert "¥3.00" in page  # 1% of 250, half up
    assert "¥60.00" in page  # false dispatch: 25% of 240
    assert "¥500.00" in page  # the lost-contact deduction
    assert page.count("left)") == 3  # late dispatch, tracking overdue, false dispatch: within 7 days
    assert Violation.objects.filter(store=funded_store).count() == 5
    # Compensation paid this year: 3 + 60 (the revoked one paid none)
    assert "¥63.00" in page
    assert old.pk  # older than 7 days: its window is closed
    assert page.count('<span class="muted">closed</span>') == 2  # the old one and the revoked one


def test_the_violations_page_costs_a_fixed_number_of_queries(
    client, funded_store, owner, django_assert_max_num_queries
):
    client.force_login(owner)
    url = reverse("violations", args=[funded_store.code])
    for _n in range(12):
        # late by 22 hours (one strike), and never picked up (tracking overdue)
        order = make_order(funded_store, paid_at=timezone.now() - timedelta(days=3), promise="24h")
        order_ship(
            order=order,
            carrier=carrier("sf"),
            tracking_no=f"SF{order.pk:013d}",
            now=timezone.now() - timedelta(hours=26),
        )
    late_dispatch_check(now=timezone.now())
    tracking_check(now=timezone.now())
    assert Violation.objects.count() == 24
    with django_assert_max_num_queries(21) as captured:  # the appeal windows: their rules and two queries
        assert client.get(url).status_code == 200
    fixed = len(captured)
    make_order(funded_store, paid_at=timezone.now() - timedelta(days=2), promise="24h")
    late_dispatch_check(now=timezone.now())
    with django_assert_max_num_queries(fixed):
        client.get(url)
