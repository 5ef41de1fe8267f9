"""The seller's complaints desk: list, detail, reply with evidence, evidence downloads, contacts pages."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from complaints.models import ComplaintEvidence, ComplaintKind, ComplaintStatus
from complaints.services import complaint_request_info
from tests.complaints.factories import (
    EXE_BYTES,
    HTML_BYTES,
    JPEG_BYTES,
    PDF_BYTES,
    jpeg,
    open_complaint,
    shipped_order,
    upload,
)
from tests.merchants.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def awaiting(funded_store, reviewer):
    complaint = open_complaint(funded_store, order=shipped_order(funded_store), actor=reviewer)
    return complaint_request_info(complaint=complaint, actor=reviewer, reason="Please send photos.")


def detail_url(complaint):
    return reverse("complaint-detail", args=[complaint.store.code, complaint.pk])


def reply_url(complaint):
    return reverse("complaint-reply", args=[complaint.store.code, complaint.pk])


def test_list_shows_the_countdown_and_filters_by_status(client, owner, awaiting, funded_store, reviewer):
    open_complaint(funded_store, kind=ComplaintKind.PRODUCT_QUALITY, actor=reviewer)
    client.force_login(owner)
    response = client.get(reverse("complaint-list", args=[funded_store.code]))
    assert response.status_code == 200
    rows = list(response.context["page"])
    assert rows[0] == awaiting  # the one with a deadline first
    assert rows[0].countdown.text.startswith("due in 1 d 23 h") or rows[0].countdown.text.startswith(
        "due in 47 h"
    )
    assert rows[1].countdown is None
    content = response.content.decode()
    assert reverse("complaint-list", args=[funded_store.code]) in content  # the nav link
    response = client.get(reverse("complaint-list", args=[funded_store.code]), {"status": "awaiting_seller"})
    assert list(response.context["page"]) == [awaiting]


def test_list_costs_the_same_queries_for_1_or_20_complaints(
    client, owner, funded_store, reviewer, django_assert_max_num_queries, django_assert_num_queries
):
    url = reverse("complaint-list", args=[funded_store.code])
    open_complaint(funded_store, order=shipped_order(funded_store), actor=reviewer)
    client.force_login(owner)
    client.get(url)
    with django_assert_max_num_queries(12) as small:
        client.get(url)
    for _ in range(19):
        open_complaint(funded_store, order=shipped_order(funded_store), actor=reviewer)
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert len(response.context["page"]) == 20


def test_carrier_desk_complaints_are_not_shown_to_the_seller(client, owner, funded_store, reviewer):
    order = shipped_order(funded_store, fulfilment="platform")
    complaint = open_complaint(funded_store, kind=ComplaintKind.LOGISTICS, order=order, actor=reviewer)
    client.force_login(owner)
    assert list(client.get(reverse("complaint-list", args=[funded_store.code])).context["page"]) == []
    assert client.get(detail_url(complaint)).status_code == 404


def test_another_stores_complaint_is_a_404(client, awaiting, other_store):
    stranger = MembershipFactory(store=other_store, role="owner").user
    client.force_login(stranger)
    wrong_store_url = reverse("complaint-detail", args=[other_store.code, awaiting.pk])
    assert client.get(wrong_store_url).status_code == 404
    assert client.get(detail_url(awaiting)).status_code == 404
    response = client.post(
        reverse("complaint-reply", args=[other_store.code, awaiting.pk]), {"statement": "mine now"}
    )
    assert response.status_code == 404
    awaiting.refresh_from_db()
    assert awaiting.status == ComplaintStatus.AWAITING_SELLER


def test_customer_service_replies_with_evidence(client, cs_user, awaiting, media_files):
    client.force_login(cs_user)
    page = client.get(detail_url(awaiting))
    assert page.context["form"] is not None
    response = client.post(
        reply_url(awaiting),
        {
            "statement": "Right item sent; see the packing photo.",
            "evidence": [jpeg("packing.jpg"), upload("invoice.pdf", PDF_BYTES, "application/pdf")],
        },
    )
    assert response.status_code == 302
    awaiting.refresh_from_db()
    assert (awaiting.status, awaiting.seller_statement) == (
        ComplaintStatus.UNDER_REVIEW,
        "Right item sent; see the packing photo.",
    )
    stored = list(
        ComplaintEvidence.objects.filter(complaint=awaiting).values_list("original_name", "content_type")
    )
    assert stored == [("packing.jpg", "image/jpeg"), ("invoice.pdf", "application/pdf")]
    files = media_files()
    assert len(files) == 2
    assert all(f.startswith(f"complaints/{awaiting.pk}/") for f in files)
    assert not any("packing" in f or "invoice" in f for f in files)  # our names, not theirs


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("photo.jpg", HTML_BYTES, "“photo.jpg” is a web page (HTML)."),
        ("photo.jpg", EXE_BYTES, "“photo.jpg” is a program (executable)."),
        (
            "big.jpg",
            JPEG_BYTES + b"\x00" * (10 * 1024 * 1024),
            "“big.jpg” is 10.0 MB; the limit is 10 MB per file.",
        ),
        ("photo.jpg.exe", JPEG_BYTES, "“photo.jpg.exe” is a JPEG file but its name ends in “.exe”"),
    ],
)
def test_upload_attacks_are_refused_with_a_message_and_nothing_stored(
    client, owner, awaiting, media_files, snapshot, name, data, message
):
    before = snapshot(awaiting)
    client.force_login(owner)
    response = client.post(
        reply_url(awaiting),
        {"statement": "Here is my evidence", "evidence": [jpeg("ok.jpg"), upload(name, data)]},
    )
    assert response.status_code == 400
    errors = response.context["form"].non_field_errors()
    assert len(errors) == 1 and errors[0].startswith(message)
    assert message.split("”")[0] in response.content.decode()
    assert snapshot(awaiting) == before
    assert media_files() == []


def test_path_tricks_in_the_file_name_never_reach_the_disk(client, owner, awaiting, media_files):
    client.force_login(owner)
    # Django's multipart parser keeps only the last part of a name with folders; we store under our own name.
    response = client.post(
        reply_url(awaiting), {"statement": "evidence", "evidence": [jpeg("..\\..\\static\\evil.jpg")]}
    )
    assert response.status_code == 302
    assert ComplaintEvidence.objects.get().original_name == "evil.jpg"
    (stored,) = media_files()
    assert stored.startswith(f"complaints/{awaiting.pk}/") and "evil" not in stored and ".." not in stored


@pytest.mark.parametrize("name", ["..\\..\\static\\evil.jpg", "../../evil.jpg", "evil\x00.html.jpg"])
def test_path_tricks_reaching_the_service_are_refused_and_nothing_stored(
    owner, awaiting, media_files, snapshot, name
):
    from complaints.services import complaint_seller_reply
    from complaints.uploads import EvidenceRefused

    before = snapshot(awaiting)
    import io

    file = io.BytesIO(JPEG_BYTES)  # a raw file object: no upload class cleans the name first
    file.name, file.size = name, len(JPEG_BYTES)
    with pytest.raises(EvidenceRefused) as refused:
        complaint_seller_reply(complaint=awaiting, statement="evidence", evidence=[file], actor=owner)
    assert "rename the file" in refused.value.messages[0]
    assert snapshot(awaiting) == before
    assert media_files() == []


def test_a_reply_that_fails_in_the_database_leaves_no_file(client, owner, awaiting, media_files, monkeypatch):
    import complaints.services

    def broken_event(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(complaints.services, "_event", broken_event)
    client.force_login(owner)
    client.raise_request_exception = False
    client.post(reply_url(awaiting), {"statement": "evidence", "evidence": [jpeg()]})
    assert media_files() == []
    assert ComplaintEvidence.objects.count() == 0


def test_evidence_is_served_to_the_store_only_and_never_sniffed(
    client, owner, cs_user, awaiting, other_store
):
    client.force_login(cs_user)
    client.post(reply_url(awaiting), {"statement": "photo", "evidence": [jpeg("packing.jpg")]})
    evidence = ComplaintEvidence.objects.get()
    url = reverse("complaint-evidence", args=[awaiting.store.code, awaiting.pk, evidence.pk])
    client.force_login(owner)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == JPEG_BYTES
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    client.force_login(MembershipFactory(store=other_store).user)
    assert client.get(url).status_code == 404
    assert (
        client.get(
            reverse("complaint-evidence", args=[other_store.code, awaiting.pk, evidence.pk])
        ).status_code
        == 404
    )
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


def test_a_late_reply_form_is_not_offered(client, owner, funded_store, reviewer):
    asked = timezone.now() - timedelta(hours=50)
    complaint = open_complaint(funded_store, actor=reviewer, now=asked)
    complaint_request_info(complaint=complaint, actor=reviewer, reason="r", now=asked)
    client.force_login(owner)
    response = client.get(detail_url(complaint))
    assert response.context["form"] is None
    assert "The reply deadline has passed" in response.content.decode()
    assert response.context["complaint"].countdown.overdue is True


def test_contacts_pages_record_a_call_and_show_the_figures(client, cs_user, funded_store):
    from tests.orders.factories import make_order

    order = make_order(funded_store)
    client.force_login(cs_user)
    url = reverse("order-contacts", args=[funded_store.code, order.pk])
    assert client.get(url).status_code == 200
    when = timezone.localtime(timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("order-call-record", args=[funded_store.code, order.pk]), {"called_at": when}
    )
    assert response.status_code == 302
    assert order.call_attempts.get().connected is False
    assert client.get(reverse("contacts", args=[funded_store.code])).status_code == 200


def test_the_notification_mark_read_view(client, owner, awaiting, funded_store):
    client.force_login(owner)
    response = client.post(reverse("notifications-read", args=[funded_store.code]))
    assert response.status_code == 302
    assert funded_store.notifications.filter(read_at__isnull=True).count() == 0
