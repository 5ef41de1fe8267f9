"""The quality inspector records a failed lab result in the admin; the seller sees the listing removed, the
deduction on the deposit page and the report, and requests a re-test."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from inspections.models import Inspection, InspectionStatus
from merchants.models import Listing, ListingStatus, SettlementEntry
from merchants.services import deposit_record
from tests.inspections.factories import PDF_BYTES, InspectionFactory, to_at_lab
from tests.merchants.factories import ListingFactory, MembershipFactory, StoreFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_inspector_fails_a_sample_and_the_seller_asks_for_a_retest(page, live_server, chromium):
    store = StoreFactory(code="INS-001", name="Inspected store")
    deposit_record(store=store, kind="top_up", amount=Decimal("5000"), reason="bank")
    MembershipFactory(store=store, user=UserFactory(username="demo-seller"), role="owner")
    inspector = UserFactory(username="demo-inspector", is_staff=True)
    inspector.groups.add(Group.objects.get(name="quality inspector"))
    listing = ListingFactory(store=store, sku="TOWEL-7", title="Bath towel 70×140")
    inspection = to_at_lab(InspectionFactory(listing=listing), actor=inspector)

    # The inspector records the failure in the admin, with the lab's report.
    page.goto(f"{live_server.url}/admin/login/?next=/admin/inspections/inspection/{inspection.pk}/change/")
    page.fill("#id_username", "demo-inspector")
    page.fill("#id_password", "pw-123456")
    page.click("input[type=submit]")
    page.click("a.merchants-action-fail")
    page.check("input[name=defects][value=material]")
    page.check("input[name=defects][value=labelling]")
    page.set_input_files(
        "#id_report",
        files=[{"name": "SGS-2026-0815.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}],
    )
    page.fill("#id_notes", "Cotton 62% where the label says 100%")
    page.click("#content-main input[type=submit]")
    assert f"Inspection {inspection.pk} failed: listing TOWEL-7 removed" in page.inner_text(".messagelist")
    assert Listing.objects.get(pk=listing.pk).status == ListingStatus.REMOVED

    # The seller sees it.
    seller = chromium.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-US", accept_downloads=True
    )
    seller_page = seller.new_page()
    seller_page.set_default_timeout(10_000)
    seller_page.goto(f"{live_server.url}/accounts/login/")
    seller_page.fill("#id_username", "demo-seller")
    seller_page.fill("#id_password", "pw-123456")
    seller_page.click("main form [type=submit]")

    seller_page.goto(f"{live_server.url}/s/INS-001/listings/")
    row = seller_page.locator("tr", has_text="TOWEL-7")
    assert "removed by the platform" in row.inner_text()

    seller_page.goto(f"{live_server.url}/s/INS-001/deposit/")
    deduction = seller_page.locator("tr", has_text="Failed spot check")
    assert "-2000.00" in deduction.inner_text()
    assert "¥3,000.00" in seller_page.inner_text("main")

    seller_page.click("nav.mainnav >> text=Inspections")
    seller_page.click(f"text=#{inspection.pk}")
    main = seller_page.inner_text("main")
    assert "failed" in seller_page.inner_text("#inspection-status")
    assert seller_page.inner_text("#defects") == "material or composition, labelling"
    assert "You may ask for a re-test of the same sample until" in main
    with seller_page.expect_download() as download_info:
        seller_page.click("#reports a")
    download = download_info.value
    assert download.suggested_filename == f"inspection-{inspection.pk}-first.pdf"
    with open(download.path(), "rb") as report:
        assert report.read() == PDF_BYTES

    seller_page.click("#request-retest")
    assert "Re-test requested; the fee of 500.00 CNY" in seller_page.inner_text(".messages")
    assert seller_page.inner_text("#inspection-status") == "re-test requested"
    assert Inspection.objects.get(pk=inspection.pk).status == InspectionStatus.RETEST_REQUESTED
    assert SettlementEntry.objects.get(store=store).amount == Decimal("-500.00")
    seller.close()
