"""The seller appeals against a violation with a photo; the reviewer approves it in the admin; the seller sees
the points and the deposit restored."""

import struct
import zlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from complaints.models import Appeal
from merchants.models import Violation
from merchants.services import deposit_record
from tests.complaints.factories import record_violation
from tests.merchants.factories import MembershipFactory, StoreFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def png_photo(width=4, height=3) -> bytes:
    """A real PNG (RGB, every pixel orange), as a phone would send it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x88\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def login(context, live_server, username, *, admin=False):
    page = context.new_page()
    page.set_default_timeout(10_000)
    if admin:
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", "pw-123456")
        page.click("input[type=submit]")
    else:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", "pw-123456")
        page.click("main form [type=submit]")
    return page


def test_the_seller_appeals_with_a_photo_and_the_reviewer_approves(page, live_server, chromium):
    store = StoreFactory(code="APL-001", name="Appealing store")
    deposit_record(store=store, kind="top_up", amount=Decimal("5000"), reason="bank")
    MembershipFactory(store=store, user=UserFactory(username="demo-seller"), role="owner")
    reviewer = UserFactory(username="demo-reviewer", is_staff=True)
    reviewer.groups.add(Group.objects.get(name="compliance reviewer"))
    violation = record_violation(
        store, "spot_check_failed", occurred_at=timezone.now() - timedelta(days=2), cause_id="lab-77"
    )
    photo = png_photo()

    # The seller sees the penalty and appeals from the violations page.
    seller_page = page
    seller_page.goto(f"{live_server.url}/accounts/login/")
    seller_page.fill("#id_username", "demo-seller")
    seller_page.fill("#id_password", "pw-123456")
    seller_page.click("main form [type=submit]")
    seller_page.goto(f"{live_server.url}/s/APL-001/deposit/")
    assert "¥3,000.00" in seller_page.inner_text("main")  # 5,000 less the 2,000 deduction
    seller_page.click("nav.mainnav >> text=Violations")
    assert seller_page.inner_text(".grid .card .figure >> nth=0") == "6"
    seller_page.click("a.appeal-link")
    seller_page.fill(
        "#id_statement", "The lab tested a towel from another seller: our batch label is on the photo."
    )
    seller_page.set_input_files(
        "#id_evidence", files=[{"name": "batch-label.png", "mimeType": "image/png", "buffer": photo}]
    )
    seller_page.click("#submit-appeal")
    assert "Appeal filed; the platform decides by" in seller_page.inner_text(".messages")
    assert seller_page.inner_text("#appeal-status") == "submitted"
    assert seller_page.inner_text("#violation-status") == "under appeal"
    appeal = Appeal.objects.get()
    assert appeal.evidence.get().size == len(photo)
    # The photo comes back to the seller as it was sent.
    with seller_page.expect_response(lambda r: "/evidence/" in r.url) as shown:
        seller_page.click("#evidence a")
    assert shown.value.body() == photo
    seller_page.go_back()

    # The reviewer takes and approves it in the admin.
    reviewer_context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    admin = login(reviewer_context, live_server, "demo-reviewer", admin=True)
    admin.goto(f"{live_server.url}/admin/complaints/appeal/")
    admin.click(f"#result_list a[href$='/appeal/{appeal.pk}/change/'] >> nth=0")
    assert "points: 6 (general) · deduction (CNY): 2000.00" in admin.inner_text("#content-main")
    admin.click("a.merchants-action-start_review")
    admin.click("#content-main input[type=submit]")
    assert f"Appeal #{appeal.pk} is under review." in admin.inner_text(".messagelist")
    admin.click("a.merchants-action-approve")
    admin.fill("#id_reason", "The batch label does not match the sample the lab received")
    admin.click("#content-main input[type=submit]")
    assert f"Appeal #{appeal.pk} approved" in admin.inner_text(".messagelist")
    reviewer_context.close()
    assert Violation.objects.get(pk=violation.pk).status == "revoked"

    # The seller sees the decision, the points and the deposit back.
    seller_page.goto(f"{live_server.url}/s/APL-001/appeals/{appeal.pk}/")
    assert seller_page.inner_text("#appeal-status") == "approved"
    assert "The batch label does not match the sample the lab received" in seller_page.inner_text("#decision")
    seller_page.goto(f"{live_server.url}/s/APL-001/violations/")
    assert seller_page.inner_text(".grid .card .figure >> nth=0") == "0"
    assert "revoked" in seller_page.locator("tr", has_text="lab-77").inner_text()
    seller_page.goto(f"{live_server.url}/s/APL-001/deposit/")
    assert "¥5,000.00" in seller_page.inner_text("main")
