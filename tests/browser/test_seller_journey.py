from decimal import Decimal

import pytest

from merchants.models import Listing, ListingStatus
from merchants.services import deposit_record
from tests.merchants.factories import MembershipFactory, StoreFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-123456")
    page.click("main form [type=submit]")


def test_seller_lists_a_product_sees_screening_and_switches_to_chinese(page, live_server):
    store = StoreFactory(code="WEB-001", name="Web store")
    deposit_record(store=store, kind="top_up", amount=Decimal("2000"), reason="bank")
    MembershipFactory(store=store, user=UserFactory(username="web-seller"), role="owner")
    other = StoreFactory(code="WEB-999")

    log_in(page, live_server, "web-seller")
    assert page.url == f"{live_server.url}/s/WEB-001/"
    assert "¥2,000.00" in page.inner_text("main")

    page.goto(f"{live_server.url}/s/WEB-001/listings/new/")
    page.fill("#id_sku", "WEB-TOWEL")
    page.fill("#id_title", "Bath towel")
    page.fill("#id_description", "同款淘宝店更便宜")
    page.select_option("#id_category", label=str(store.main_category))
    page.fill("#id_price", "29.90")
    page.fill("#id_stock", "5")
    page.click("main form.stacked [type=submit]")
    assert "Screening rejected this listing" in page.inner_text("main")
    assert "“淘宝”" in page.inner_text("main")
    assert Listing.objects.get(sku="WEB-TOWEL").status == ListingStatus.REJECTED

    page.fill("#id_description", "Thick cotton")
    page.click("main form.stacked [type=submit]")
    assert "Listing WEB-TOWEL saved." in page.inner_text("main")
    assert Listing.objects.get(sku="WEB-TOWEL").status == ListingStatus.LIVE

    page.select_option("#language", "zh-hans")
    page.click("header form.inline:has(#language) button")
    page.goto(f"{live_server.url}/s/WEB-001/")
    assert "保证金" in page.inner_text("main")

    response = page.goto(f"{live_server.url}/s/{other.code}/")
    assert response.status == 404
