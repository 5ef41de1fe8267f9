"""Seller pages: the list, the detail with the report and the re-test button, and the re-test request."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inspections.models import Inspection, InspectionEvent, InspectionStatus
from inspections.services import inspection_request_retest
from merchants.models import SettlementEntry
from tests.inspections.factories import to_at_lab, to_failed, to_purchased
from tests.merchants.factories import ListingFactory, MembershipFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def seller(client, funded_store, owner):
    client.force_login(owner)
    return client


def list_url(store):
    return f"/s/{store.code}/inspections/"


def detail_url(inspection):
    return f"/s/{inspection.store.code}/inspections/{inspection.pk}/"


def test_the_list_shows_inspections_from_the_lab_on_never_the_mystery_purchase(
    seller, funded_store, inspection_factory, inspector
):
    hidden_selected = inspection_factory(listing=ListingFactory(store=funded_store))
    hidden_purchased = to_purchased(
        inspection_factory(listing=ListingFactory(store=funded_store)), actor=inspector
    )
    at_lab = to_at_lab(inspection_factory(listing=ListingFactory(store=funded_store)), actor=inspector)
    failed = to_failed(inspection_factory(listing=ListingFactory(store=funded_store)), actor=inspector)
    inspection_factory(listing=ListingFactory())  # another store's

    response = seller.get(list_url(funded_store))

    assert response.status_code == 200
    assert [i.pk for i in response.context["page"]] == [failed.pk, at_lab.pk]
    html = response.content.decode()
    assert hidden_selected.listing.sku not in html and hidden_purchased.listing.sku not in html
    assert "open until" in html


def test_the_list_costs_the_same_queries_whatever_its_length(
    seller, funded_store, inspection_factory, inspector, django_assert_num_queries
):
    for _ in range(3):
        to_at_lab(inspection_factory(listing=ListingFactory(store=funded_store)), actor=inspector)
    # session, user, membership (+ live sanctions), count, store switcher, page; the session's current
    # store is saved again (savepoint, update, release)
    with django_assert_num_queries(10):
        assert seller.get(list_url(funded_store)).status_code == 200
    for _ in range(10):
        to_at_lab(inspection_factory(listing=ListingFactory(store=funded_store)), actor=inspector)
    with django_assert_num_queries(10):
        response = seller.get(list_url(funded_store))
    assert len(response.context["page"]) == 13


def test_the_detail_shows_the_result_defects_report_and_retest_button(
    seller, funded_store, inspection_factory, inspector
):
    failed = to_failed(inspection_factory(listing=ListingFactory(store=funded_store)), actor=inspector)

    response = seller.get(detail_url(failed))

    html = response.content.decode()
    assert response.status_code == 200
    assert "material or composition, labelling" in html
    assert f"/s/{funded_store.code}/inspections/{failed.pk}/reports/" in html
    assert 'id="request-retest"' in html
    last_minute = timezone.localtime(failed.retest_deadline, timezone.get_fixed_timezone(480)) - timedelta(
        minutes=1
    )
    assert f"until {last_minute:%Y-%m-%d %H:%M} (3 working days after the result)" in html
    assert last_minute.strftime("%H:%M") == "23:59"
    assert "The fee is 500.00 CNY" in html


@pytest.mark.parametrize("role", ["operator", "customer_service"])
def test_only_the_owner_sees_the_retest_button_and_may_post_it(
    client, funded_store, inspection_factory, inspector, role
):
    failed = to_failed(inspection_factory(listing=ListingFactory(store=funded_store)), actor=inspector)
    client.force_login(MembershipFactory(store=funded_store, role=role).user)

    html = client.get(detail_url(failed)).content.decode()
    response = client.post(detail_url(failed) + "retest/")

    assert 'id="request-retest"' not in html
    assert "Only the store's owner may request a re-test." in html
    assert response.status_code == 403
    assert Inspection.objects.get(pk=failed.pk).status == InspectionStatus.FAILED
    assert SettlementEntry.objects.count() == 0


def test_the_owner_requests_the_retest_from_the_page(seller, funded_store, inspection_factory, inspector):
    failed = to_failed(inspection_factory(listing=ListingFactory(store=funded_store)), actor=inspector)

    response = seller.post(detail_url(failed) + "retest/", follow=True)

    assert response.redirect_chain == [(detail_url(failed), 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "Re-test requested; the fee of 500.00 CNY was charged to the store's settlement account."
    ]
    done = Inspection.objects.get(pk=failed.pk)
    assert (done.status, done.retest_fee) == (InspectionStatus.RETEST_REQUESTED, Decimal("500.00"))
    assert "Re-test requested" in response.content.decode()


def test_a_second_retest_request_is_refused_with_a_message(
    seller, funded_store, inspection_factory, inspector, owner
):
    failed = to_failed(inspection_factory(listing=ListingFactory(store=funded_store)), actor=inspector)
    inspection_request_retest(inspection=failed, actor=owner)
    events = InspectionEvent.objects.count()

    response = seller.post(detail_url(failed) + "retest/", follow=True)

    assert [str(m) for m in response.context["messages"]] == [
        f"Inspection {failed.pk} is re-test requested: a re-test can be requested only after a failed result."
    ]
    assert (InspectionEvent.objects.count(), SettlementEntry.objects.count()) == (events, 1)


def test_another_stores_inspection_is_a_404(seller, inspection_factory, inspector):
    other = to_failed(inspection_factory(listing=ListingFactory(store=StoreFactory())), actor=inspector)
    assert seller.get(detail_url(other)).status_code == 404
    assert seller.post(detail_url(other) + "retest/").status_code == 404
    assert Inspection.objects.get(pk=other.pk).status == InspectionStatus.FAILED


def test_the_nav_links_to_inspections(seller, funded_store):
    html = seller.get(f"/s/{funded_store.code}/").content.decode()
    assert f'href="/s/{funded_store.code}/inspections/"' in html
