"""The violations page links complaint, lost-contact and fraudulent-dispatch causes to the seller pages that
show them, and never to another store's (given / when / then)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from complaints.models import ComplaintKind
from complaints.services import complaint_start_review, complaint_uphold
from merchants.services import violation_record
from orders.models import Order
from tests.complaints.factories import open_complaint, shipped_order
from tests.orders.factories import make_order

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def violations_page(client, user, store):
    client.force_login(user)
    return client.get(reverse("violations", args=[store.code])).content.decode()


def record(store, type_code, cause_kind, cause_id, label):
    return violation_record(
        store=store, type_code=type_code, cause_kind=cause_kind, cause_id=cause_id, cause_label=label
    )[0]


def test_an_upheld_complaint_links_to_the_complaint(client, funded_store, owner, other_store, reviewer):
    # given a complaint upheld against the store (its violation's cause), and a violation naming another
    # store's complaint
    complaint = open_complaint(funded_store, order=shipped_order(funded_store), actor=reviewer)
    complaint_start_review(complaint=complaint, actor=reviewer)
    complaint_uphold(complaint=complaint, actor=reviewer, reason="Fake goods")
    strangers = open_complaint(other_store, order=shipped_order(other_store), actor=reviewer)
    record(funded_store, "not_as_described", "complaint", str(strangers.pk), "someone else's")
    # when the owner opens the violations page
    page = violations_page(client, owner, funded_store)
    # then the complaint's cause links to its detail page, and the stranger's is plain text
    url = f"/s/{funded_store.code}/complaints/{complaint.pk}/"
    assert url == reverse("complaint-detail", args=[funded_store.code, complaint.pk])
    assert f'<a href="{url}">#{complaint.pk} counterfeit</a>' in page
    assert f"/complaints/{strangers.pk}/" not in page
    assert "<td>someone else&#x27;s</td>" in page


def test_lost_contact_links_to_the_orders_contacts(client, funded_store, owner, other_store):
    # given a lost-contact violation about one of the store's orders, and one naming another store's order
    order = make_order(funded_store)
    strangers = make_order(other_store)
    record(funded_store, "lost_contact", "contact", str(order.pk), f"{order.order_no} (3 calls)")
    record(funded_store, "lost_contact", "contact", str(strangers.pk), "someone else's")
    # when the owner opens the violations page
    page = violations_page(client, owner, funded_store)
    # then the first links to the order's contacts page, the second to nothing
    url = f"/s/{funded_store.code}/orders/{order.pk}/contacts/"
    assert url == reverse("order-contacts", args=[funded_store.code, order.pk])
    assert f'<a href="{url}">{order.order_no} (3 calls)</a>' in page
    assert f"/orders/{strangers.pk}/" not in page
    assert "<td>someone else&#x27;s</td>" in page


def upheld_on(store, reviewer, dispatched_at):
    order = shipped_order(store)
    Order.objects.filter(pk=order.pk).update(dispatched_at=dispatched_at)
    complaint = open_complaint(store, kind=ComplaintKind.NOT_AS_DESCRIBED, order=order, actor=reviewer)
    complaint_start_review(complaint=complaint, actor=reviewer)
    return complaint_uphold(complaint=complaint, actor=reviewer, reason="Empty parcel")


def test_a_fraudulent_dispatch_day_links_to_that_days_upheld_complaints(
    client, funded_store, owner, other_store, reviewer
):
    # given a fraudulent-dispatch violation for 20 November, and one naming another store's day
    record(funded_store, "fraudulent_dispatch", "dispatch_day", f"{funded_store.pk}:2026-11-20", "3 × …")
    record(funded_store, "fraudulent_dispatch", "dispatch_day", f"{other_store.pk}:2026-11-21", "not ours")
    # when the owner opens the violations page
    page = violations_page(client, owner, funded_store)
    # then the day links to the complaints upheld about orders dispatched that day; the other does not link
    url = f"/s/{funded_store.code}/complaints/?status=upheld&amp;kind=not_as_described&amp;dispatched_on=2026-11-20"
    assert f'<a href="{url}">3 × …</a>' in page
    assert "2026-11-21" not in page
    assert "<td>not ours</td>" in page


def test_the_complaints_of_a_dispatch_day_are_those_dispatched_that_day_in_the_stores_time(
    client, funded_store, owner, reviewer
):
    # given upheld not-as-described complaints about orders dispatched at 00:30 and 23:30 on 20 November
    # (Shanghai), one at 23:30 the day before, and a dismissed-kind (counterfeit) one the same day
    day = datetime(2026, 11, 20, tzinfo=SHANGHAI)
    first = upheld_on(funded_store, reviewer, day + timedelta(minutes=30))
    last = upheld_on(funded_store, reviewer, day + timedelta(hours=23, minutes=30))
    day_before = upheld_on(funded_store, reviewer, day - timedelta(minutes=30))
    counterfeit = open_complaint(funded_store, order=shipped_order(funded_store), actor=reviewer)
    Order.objects.filter(pk=counterfeit.order_id).update(dispatched_at=day + timedelta(hours=12))
    complaint_start_review(complaint=counterfeit, actor=reviewer)
    complaint_uphold(complaint=counterfeit, actor=reviewer, reason="Fake")
    # when the owner follows the day's link
    client.force_login(owner)
    page = client.get(
        reverse("complaint-list", args=[funded_store.code]),
        {"status": "upheld", "kind": "not_as_described", "dispatched_on": "2026-11-20"},
    ).content.decode()
    # then exactly that day's two are listed
    listed = {c.pk for c in (first, last, day_before, counterfeit) if f"/complaints/{c.pk}/" in page}
    assert listed == {first.pk, last.pk}
