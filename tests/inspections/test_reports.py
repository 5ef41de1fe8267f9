"""Lab report files: attacks refused before anything is stored; downloads only for staff and members."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from inspections import reports
from inspections.models import Inspection, InspectionEvent, InspectionStatus, LabReport
from inspections.services import inspection_record_fail, inspection_record_pass
from merchants.errors import DomainError
from merchants.models import Listing, Violation
from tests.inspections.conftest import stored_files
from tests.inspections.factories import PDF_BYTES, PNG_BYTES, pdf_upload, to_at_lab, to_failed
from tests.merchants.factories import ListingFactory, MembershipFactory, StoreFactory

pytestmark = pytest.mark.django_db

HTML = b"<!DOCTYPE html><html><body><script>fetch('/admin/')</script></body></html>"


@pytest.fixture
def at_lab(inspection_factory, funded_store, inspector):
    return to_at_lab(inspection_factory(listing=ListingFactory(store=funded_store)), actor=inspector)


def state(inspection):
    inspection = Inspection.objects.get(pk=inspection.pk)
    return (
        inspection.status,
        InspectionEvent.objects.filter(inspection=inspection).count(),
        LabReport.objects.count(),
        Listing.objects.get(pk=inspection.listing_id).status,
        Violation.objects.count(),
    )


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            SimpleUploadedFile("report.pdf", HTML, content_type="application/pdf"),
            "The report is not a PDF, PNG or JPEG file by its content, whatever its name says.",
        ),
        (
            SimpleUploadedFile("report.pdf", b"", content_type="application/pdf"),
            "The report file is empty.",
        ),
        (
            SimpleUploadedFile("report.html", PDF_BYTES, content_type="text/html"),
            "The file is named report.html but its content is application/pdf; upload it with the right name.",
        ),
        (
            SimpleUploadedFile("scan.pdf", PNG_BYTES, content_type="application/pdf"),
            "The file is named scan.pdf but its content is image/png; upload it with the right name.",
        ),
        (
            SimpleUploadedFile("..\\..\\settings.pdf", PDF_BYTES, content_type="application/pdf"),
            "The report's file name must be a plain name like report.pdf, not a path: settings.pdf",
        ),
        (
            SimpleUploadedFile("..report.pdf", PDF_BYTES, content_type="application/pdf"),
            "The report's file name must be a plain name like report.pdf, not a path: ..report.pdf",
        ),
        (
            SimpleUploadedFile("report.pdf", b"%PDF-1.4\n<< /OpenAction << /S /JavaScript /JS (x) >> >>"),
            "The PDF carries active content (/JavaScript, /JS); ask the lab for a plain PDF.",
        ),
    ],
    ids=["html-renamed-pdf", "empty", "pdf-named-html", "png-named-pdf", "path", "dot-dot", "javascript"],
)
def test_a_bad_report_is_refused_and_nothing_is_stored(at_lab, inspector, media_root, upload, message):
    before = state(at_lab)
    with pytest.raises(DomainError) as refused:
        inspection_record_fail(inspection=at_lab, defects=["material"], report=upload, actor=inspector)
    assert refused.value.messages == [message]
    assert state(at_lab) == before
    assert stored_files(media_root) == []


def test_an_oversize_report_is_refused(at_lab, inspector, media_root, monkeypatch):
    monkeypatch.setattr(reports, "REPORT_MAX_BYTES", 1024 * 1024)
    upload = pdf_upload(data=PDF_BYTES + b"0" * (1024 * 1024))
    before = state(at_lab)

    with pytest.raises(DomainError) as refused:
        inspection_record_fail(inspection=at_lab, defects=["material"], report=upload, actor=inspector)

    assert refused.value.messages == ["The report is larger than the limit of 1.0\xa0MB."]
    assert state(at_lab) == before
    assert stored_files(media_root) == []


def test_a_report_is_needed_for_a_failure(at_lab, inspector):
    before = state(at_lab)
    with pytest.raises(DomainError, match=r"Attach the lab's report \(PDF, PNG or JPEG\)."):
        inspection_record_fail(inspection=at_lab, defects=["material"], report=None, actor=inspector)
    assert state(at_lab) == before


def test_a_refused_step_deletes_the_file_it_had_written(at_lab, reviewer, media_root):
    # The reviewer lacks the permission: refused inside the transaction, after the checks on the file.
    before = state(at_lab)
    with pytest.raises(DomainError):
        inspection_record_pass(inspection=at_lab, report=pdf_upload(), actor=reviewer)
    assert state(at_lab) == before
    assert stored_files(media_root) == []


def test_a_png_report_is_accepted(at_lab, inspector, media_root):
    upload = SimpleUploadedFile("photo.PNG", PNG_BYTES, content_type="image/png")
    inspection_record_pass(inspection=at_lab, report=upload, actor=inspector)
    report = LabReport.objects.get()
    assert (report.content_type, report.extension, report.size) == ("image/png", ".png", len(PNG_BYTES))
    assert stored_files(media_root) == [report.file.name]


def test_through_the_admin_a_path_in_the_name_never_places_the_file(client, at_lab, inspector, media_root):
    """Django's upload parser keeps only the base name; the file is stored under a fresh name anyway."""
    client.force_login(inspector)
    upload = SimpleUploadedFile("../../../../tmp/evil.pdf", PDF_BYTES, content_type="application/pdf")
    response = client.post(
        f"/admin/inspections/inspection/{at_lab.pk}/fail/",
        {"defects": ["labelling"], "report": upload, "notes": ""},
    )
    assert response.status_code == 302
    report = LabReport.objects.get()
    assert report.original_name == "evil.pdf"
    assert stored_files(media_root) == [report.file.name]
    assert report.file.name.startswith("inspections/reports/")


def test_through_the_admin_html_renamed_pdf_shows_the_message(client, at_lab, inspector, media_root):
    client.force_login(inspector)
    before = state(at_lab)
    response = client.post(
        f"/admin/inspections/inspection/{at_lab.pk}/fail/",
        {"defects": ["labelling"], "report": SimpleUploadedFile("r.pdf", HTML), "notes": ""},
        follow=True,
    )
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        "The report is not a PDF, PNG or JPEG file by its content, whatever its name says."
    ]
    assert state(at_lab) == before
    assert stored_files(media_root) == []


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=None)
def test_through_the_admin_an_oversize_report_is_refused(client, at_lab, inspector, media_root, monkeypatch):
    monkeypatch.setattr(reports, "REPORT_MAX_BYTES", 2048)
    client.force_login(inspector)
    before = state(at_lab)
    response = client.post(
        f"/admin/inspections/inspection/{at_lab.pk}/fail/",
        {
            "defects": ["labelling"],
            "report": SimpleUploadedFile("r.pdf", PDF_BYTES + b"0" * 4096),
            "notes": "",
        },
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == [
        "The report is larger than the limit of 2.0\xa0KB."
    ]
    assert state(at_lab) == before
    assert stored_files(media_root) == []


# --- Downloads ------------------------------------------------------------------------------------


@pytest.fixture
def failed(inspection_factory, funded_store, inspector):
    return to_failed(inspection_factory(listing=ListingFactory(store=funded_store)), actor=inspector)


def report_url(inspection, report, code=None):
    return f"/s/{code or inspection.store.code}/inspections/{inspection.pk}/reports/{report.pk}/"


@pytest.mark.parametrize("role", ["owner", "operator", "customer_service"])
def test_members_of_the_store_download_the_report(client, failed, role):
    client.force_login(MembershipFactory(store=failed.store, role=role).user)
    report = LabReport.objects.get()

    response = client.get(report_url(failed, report))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="inspection-{failed.pk}-first.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_another_store_cannot_download_the_report(client, failed):
    other = StoreFactory()
    client.force_login(MembershipFactory(store=other, role="owner").user)
    report = LabReport.objects.get()
    assert client.get(report_url(failed, report)).status_code == 404
    assert client.get(report_url(failed, report, code=other.code)).status_code == 404


def test_a_stranger_is_sent_to_log_in(client, failed):
    response = client.get(report_url(failed, LabReport.objects.get()))
    assert (response.status_code, response["Location"].split("?")[0]) == (302, "/accounts/login/")


def test_staff_download_in_the_admin_with_the_permission_only(client, failed, inspector, staff_user):
    report = LabReport.objects.get()
    url = f"/admin/inspections/labreport/{report.pk}/download/"
    client.force_login(inspector)
    assert client.get(url).status_code == 200
    client.force_login(staff_user("finance", username="finance"))
    assert client.get(url).status_code == 403
    client.force_login(MembershipFactory(store=failed.store, role="owner").user)  # not staff
    assert client.get(url).status_code == 302


def test_a_report_of_an_inspection_not_yet_shown_to_the_seller_is_a_404(client, failed):
    Inspection.objects.filter(pk=failed.pk).update(status=InspectionStatus.PURCHASED)
    client.force_login(MembershipFactory(store=failed.store, role="owner").user)
    assert client.get(report_url(failed, LabReport.objects.get())).status_code == 404
