"""The seller's import page (issue 4): an upload becomes a Celery job that runs `orders_import`, with its
progress, its result and the refused rows as a file; the job survives a broker outage."""

import csv
import io
import logging
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

import orders.imports
import orders.jobs
from merchants.checks import CHECKS
from orders.jobs import (
    ImportOptions,
    ImportUploadRefused,
    ProgressRecorder,
    import_job_create,
    import_job_run,
    import_jobs_catch_up_check,
    progress_percent,
)
from orders.models import ImportJob, ImportJobStatus, Order, OrderEvent
from orders.tasks import import_job_run_task
from tests.merchants.factories import ListingFactory, MembershipFactory, StoreFactory
from tests.orders.test_import_orders import tiktok_csv, tiktok_row

pytestmark = pytest.mark.django_db

GOOD_1 = tiktok_row()
GOOD_2 = tiktok_row(**{"Order ID": "576461413038785999", "Seller SKU": "MUG-2", "Quantity": "2"})
UNKNOWN_SKU = tiktok_row(**{"Order ID": "576461413038785111", "Seller SKU": "NOPE-9"})


@pytest.fixture(autouse=True)
def project_celery_app():
    """The tasks run on the project's app (eager without a broker), whatever app another test made current."""
    from config.celery import app

    app.set_current()
    return app


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def listings(funded_store):
    return [
        ListingFactory(store=funded_store, sku="TOWEL-1", promised_dispatch="48h"),
        ListingFactory(store=funded_store, sku="MUG-2", promised_dispatch="24h"),
    ]


@pytest.fixture
def seller_client(client, owner):
    client.force_login(owner)
    return client


def upload(data: bytes, name: str = "orders.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def post_file(client, store, data: bytes, run, **options):
    """Post the form as a browser does; `run` executes what was queued after the commit (the eager task)."""
    with run(execute=True):
        return client.post(
            reverse("order-import", args=[store.code]),
            {"file": upload(data), **{name: "on" for name, value in options.items() if value}},
        )


def stored_files(media_root: Path) -> list[str]:
    return sorted(str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file())


# --- Upload → job → result --------------------------------------------------------------------------


def test_an_upload_becomes_a_job_that_imports_and_shows_its_figures(
    seller_client, funded_store, owner, listings, django_capture_on_commit_callbacks, media_root
):
    # Given a TikTok export with two orders
    data = tiktok_csv(GOOD_1, GOOD_2)

    # When the owner uploads it
    response = post_file(seller_client, funded_store, data, django_capture_on_commit_callbacks)

    # Then the browser goes to the job's page and the job has run (in-process, no broker on a laptop)
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("order-import-job", args=[funded_store.code, job.pk])
    assert (job.status, job.file_format, job.lines, job.orders, job.created, job.skipped, job.refused) == (
        ImportJobStatus.FINISHED,
        "tiktok",
        2,
        2,
        2,
        0,
        0,
    )
    assert (job.original_filename, job.size, job.created_by, job.progress_percent) == (
        "orders.csv",
        len(data),
        owner,
        100,
    )
    assert job.started_at is not None and job.finished_at >= job.started_at
    assert [e.kind for e in job.events.all()] == ["queued", "started", "finished"]
    assert sorted(Order.objects.filter(store=funded_store).values_list("order_no", flat=True)) == [
        "576461413038785752",
        "576461413038785999",
    ]
    # the file is ours under MEDIA_ROOT, named by us, never by the seller
    assert job.upload.name.startswith(f"imports/{funded_store.pk}/") and job.upload.name.endswith(".csv")
    assert "orders.csv" not in job.upload.name
    assert stored_files(media_root) == [job.upload.name]
    with pytest.raises(ValueError):
        job.upload.url  # noqa: B018 - no public URL

    page = seller_client.get(response.url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Import finished." in html
    assert 'http-equiv="refresh"' not in html
    assert [(row[0], row[1]) for row in _figures(html)] == [
        ("Format", "tiktok"),
        ("Lines read", "2"),
        ("Orders in the file", "2"),
        ("Orders created", "2"),
        ("Orders updated", "0"),
        ("Already imported, left as they are", "0"),
        ("Never paid, left out", "0"),
        ("Problems found", "0"),
    ]


def _figures(html: str) -> list[tuple[str, str]]:
    import re

    return re.findall(
        r'<tr><th>([^<]+)</th><td class="num[^"]*">([^<]+)</td></tr>',
        html.replace("<tr><th>Format</th><td>", '<tr><th>Format</th><td class="num">'),
    )


def test_an_xlsx_upload_is_imported_too(
    seller_client, funded_store, listings, django_capture_on_commit_callbacks
):
    from openpyxl import Workbook

    from tests.orders.test_import_orders import TIKTOK_HEADER

    book = Workbook()
    sheet = book.active
    sheet.append(TIKTOK_HEADER)
    for row in (GOOD_1, GOOD_2):
        sheet.append([row[column] for column in TIKTOK_HEADER])
    buffer = io.BytesIO()
    book.save(buffer)

    with django_capture_on_commit_callbacks(execute=True):
        response = seller_client.post(
            reverse("order-import", args=[funded_store.code]),
            {"file": SimpleUploadedFile("orders.xlsx", buffer.getvalue())},
        )

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert (job.status, job.file_format, job.created) == (ImportJobStatus.FINISHED, "tiktok", 2)
    assert job.upload.name.endswith(".xlsx")


def test_the_history_pages_in_a_fixed_number_of_queries(
    seller_client, funded_store, owner, django_assert_num_queries
):
    def add_jobs(n):
        for i in range(n):
            ImportJob.objects.create(
                store=funded_store, created_by=owner, upload=ContentFile(b"x", name="a.csv"),
                original_filename=f"file-{i}.csv", size=1, sha256=f"{ImportJob.objects.count():064d}",
            )  # fmt: skip

    url = reverse("order-import", args=[funded_store.code])
    add_jobs(2)
    seller_client.get(url)  # session and translations warmed up
    with CaptureQueriesContext(connection) as few:
        seller_client.get(url)
    add_jobs(30)
    with django_assert_num_queries(len(few.captured_queries)):
        response = seller_client.get(url)
    assert len(response.context["page"].object_list) == 20
    assert response.context["page"].has_next
    second = seller_client.get(url + "?page=2")
    assert len(second.context["page"].object_list) == 12


def test_a_running_job_shows_a_progress_bar_and_refreshes_itself(seller_client, funded_store, owner):
    job = ImportJob.objects.create(
        store=funded_store,
        created_by=owner,
        upload=ContentFile(b"x", name="a.csv"),
        original_filename="a.csv",
        size=1,
        sha256="0" * 64,
    )
    html = seller_client.get(reverse("order-import-job", args=[funded_store.code, job.pk])).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in html
    assert '<progress id="import-progress" max="100" value="0">' in html
    assert "Waiting for a worker" in html


def test_progress_is_recorded_on_the_job_as_the_import_goes(
    funded_store, owner, listings, django_capture_on_commit_callbacks, monkeypatch
):
    # Given progress reported on every line (the import reports every 10,000)
    monkeypatch.setattr(orders.imports, "PROGRESS_EVERY", 1)
    seen = []
    original_write = ProgressRecorder.write

    def write(self, values):
        original_write(self, values)
        seen.append(
            tuple(
                values[name]
                for name in ("progress_phase", "progress_done", "progress_total", "progress_percent")
            )
        )
        if (
            connection.vendor != "postgresql"
        ):  # there the row is the test's own, uncommitted: see the test below
            job = ImportJob.objects.get(pk=self.job_id)
            phase, done, _total, percent = seen[-1]
            assert (job.progress_phase, job.progress_done, job.progress_percent) == (phase, done, percent)

    monkeypatch.setattr(ProgressRecorder, "write", write)
    data = tiktok_csv(GOOD_1, GOOD_2)

    # When the job runs
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(store=funded_store, actor=owner, upload=upload(data), options=ImportOptions())

    # Then each report reached the job row: the check pass is the first half of the bar, the write the second
    size = len(data)
    assert [phase for phase, *_ in seen] == ["check", "check", "write", "write", "write"]
    assert seen[-1] == ("write", size, size, 99)
    assert all(total == size for _phase, _done, total, _percent in seen)
    assert [percent for *_, percent in seen] == sorted(percent for *_, percent in seen)
    job = ImportJob.objects.get(pk=job.pk)
    assert (job.status, job.progress_percent, job.progress_done) == (ImportJobStatus.FINISHED, 100, size)


def test_progress_percent_halves_the_bar_between_the_passes():
    assert progress_percent(phase="check", done=0, total=100) == 0
    assert progress_percent(phase="check", done=100, total=100) == 50
    assert progress_percent(phase="write", done=50, total=100) == 75
    assert progress_percent(phase="write", done=100, total=100) == 99  # 100 only when the job has finished
    assert progress_percent(phase="check", done=5, total=0) == 0


# --- Refused rows and the error file ------------------------------------------------------------------


def test_skip_invalid_imports_the_good_orders_and_serves_the_refused_rows_with_an_error_column(
    seller_client, funded_store, listings, django_capture_on_commit_callbacks
):
    data = tiktok_csv(GOOD_1, UNKNOWN_SKU, GOOD_2)

    response = post_file(
        seller_client, funded_store, data, django_capture_on_commit_callbacks, skip_invalid=True
    )

    job = ImportJob.objects.get()
    assert (job.status, job.created, job.refused, job.refused_lines, job.error_count) == (
        ImportJobStatus.FINISHED,
        2,
        1,
        1,
        1,
    )
    assert job.errors == [{"line": 3, "column": "Seller SKU", "message": job.errors[0]["message"]}]
    assert "NOPE-9" in job.errors[0]["message"]
    html = seller_client.get(response.url).content.decode()
    assert f"row 3: Seller SKU: {job.errors[0]['message']}" in html.replace("&#x27;", "'")
    download = seller_client.get(reverse("order-import-errors", args=[funded_store.code, job.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="orders-errors.csv"'
    assert "no-store" in download["Cache-Control"]
    text = b"".join(download.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][-1] == "error" and rows[0][:-1] == list(tiktok_csv_header())
    assert len(rows) == 2
    assert rows[1][0] == "\t576461413038785111"  # a long number stays text in a spreadsheet
    assert rows[1][-1].startswith("Seller SKU: ") and "NOPE-9" in rows[1][-1]


def tiktok_csv_header():
    from tests.orders.test_import_orders import TIKTOK_HEADER

    return TIKTOK_HEADER


def test_without_skip_invalid_one_refused_row_imports_nothing_and_lists_the_row(
    seller_client, funded_store, listings, django_capture_on_commit_callbacks
):
    response = post_file(
        seller_client, funded_store, tiktok_csv(GOOD_1, UNKNOWN_SKU), django_capture_on_commit_callbacks
    )

    job = ImportJob.objects.get()
    assert (job.status, job.created, job.error_count, bool(job.error_file)) == (
        ImportJobStatus.FINISHED,
        0,
        1,
        False,
    )
    assert Order.objects.filter(store=funded_store).count() == 0
    html = seller_client.get(response.url).content.decode()
    assert "Nothing was imported: the file has refused rows." in html
    assert "row 3: Seller SKU:" in html
    # no error file: its URL is a 404
    assert (
        seller_client.get(reverse("order-import-errors", args=[funded_store.code, job.pk])).status_code == 404
    )


def test_a_file_the_import_cannot_read_ends_the_job_failed_with_the_import_message(
    funded_store, owner, listings, django_capture_on_commit_callbacks
):
    data = b"name,colour\nfoo,blue\n"
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(store=funded_store, actor=owner, upload=upload(data), options=ImportOptions())
    job = ImportJob.objects.get(pk=job.pk)
    assert job.status == ImportJobStatus.FAILED
    assert job.failure_message
    assert [e.kind for e in job.events.all()] == ["queued", "started", "failed"]


def test_a_crash_inside_the_import_ends_the_job_failed_and_writes_nothing(
    funded_store, owner, listings, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def crash(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(orders.jobs, "orders_import", crash)
    with (
        caplog.at_level(logging.ERROR, logger="orders.jobs"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        job = import_job_create(
            store=funded_store, actor=owner, upload=upload(tiktok_csv(GOOD_1)), options=ImportOptions()
        )
    job = ImportJob.objects.get(pk=job.pk)
    assert job.status == ImportJobStatus.FAILED
    assert job.failure_message.startswith(
        "The import stopped because of an internal error; no order was written."
    )
    assert f"order import job {job.pk} stopped" in caplog.text
    assert Order.objects.count() == 0


# --- Access -----------------------------------------------------------------------------------------


def test_another_stores_job_and_its_files_are_404(
    seller_client, funded_store, listings, django_capture_on_commit_callbacks
):
    # Given a job of another store, with an error file
    other = StoreFactory()
    other_owner = MembershipFactory(store=other, role="owner").user
    ListingFactory(store=other, sku="TOWEL-1")
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(
            store=other,
            actor=other_owner,
            upload=upload(tiktok_csv(GOOD_1, UNKNOWN_SKU)),
            options=ImportOptions(skip_invalid=True),
        )
    assert ImportJob.objects.get(pk=job.pk).error_file
    # When our seller asks for it under their own store's code, or under the other store's code
    for code in (funded_store.code, other.code):
        for name in ("order-import-job", "order-import-errors", "order-import-upload"):
            # Then it is a 404
            assert seller_client.get(reverse(name, args=[code, job.pk])).status_code == 404, (code, name)
    # and the other store's history is not in ours
    assert (
        seller_client.get(reverse("order-import", args=[funded_store.code])).context["page"].object_list == []
    )


def test_customer_service_may_not_import(
    client, funded_store, listings, django_capture_on_commit_callbacks, media_root
):
    client.force_login(MembershipFactory(store=funded_store, role="customer_service").user)
    assert client.get(reverse("order-import", args=[funded_store.code])).status_code == 403
    response = post_file(client, funded_store, tiktok_csv(GOOD_1), django_capture_on_commit_callbacks)
    assert response.status_code == 403
    assert client.get(reverse("order-import-template", args=[funded_store.code])).status_code == 403
    assert (ImportJob.objects.count(), Order.objects.count(), stored_files(media_root)) == (0, 0, [])


def test_an_operator_may_import(client, funded_store, listings, django_capture_on_commit_callbacks):
    client.force_login(MembershipFactory(store=funded_store, role="operator").user)
    response = post_file(client, funded_store, tiktok_csv(GOOD_1), django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert ImportJob.objects.get().created == 1


def test_the_order_list_links_to_the_import_page(seller_client, funded_store):
    html = seller_client.get(reverse("order-list", args=[funded_store.code])).content.decode()
    assert f'href="{reverse("order-import", args=[funded_store.code])}"' in html


def test_the_template_download_is_our_template_with_a_bom(seller_client, funded_store):
    response = seller_client.get(reverse("order-import-template", args=[funded_store.code]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="order-import-template.csv"'
    assert response.content.decode("utf-8") == "\ufeff" + orders.imports.order_import_template()


# --- Size limit ---------------------------------------------------------------------------------------


def test_an_oversize_upload_is_refused_on_the_page_and_nothing_is_stored(
    seller_client, funded_store, listings, settings, django_capture_on_commit_callbacks, media_root
):
    settings.ORDER_IMPORT_MAX_BYTES = 1024 * 1024
    data = tiktok_csv(GOOD_1) + b"\n" * (2 * 1024 * 1024)

    response = post_file(seller_client, funded_store, data, django_capture_on_commit_callbacks)

    assert response.status_code == 400
    assert response.context["form"].errors["file"] == [
        "The file is 2.0 MB; the limit is 1 MB. Split it into smaller files."
    ]
    assert (ImportJob.objects.count(), Order.objects.count(), stored_files(media_root)) == (0, 0, [])


def test_an_oversize_upload_is_counted_not_kept_while_it_is_received(
    seller_client, funded_store, listings, settings, django_capture_on_commit_callbacks, monkeypatch
):
    # Given a 1 MB limit and a 3 MB file
    settings.ORDER_IMPORT_MAX_BYTES = 1024 * 1024
    kept = []
    original = TemporaryFileUploadHandler.receive_data_chunk

    def receive(self, raw_data, start):
        kept.append(len(raw_data))
        return original(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", receive)
    monkeypatch.setattr(MemoryFileUploadHandler, "receive_data_chunk", receive)
    data = tiktok_csv(GOOD_1) + b"\n" * (3 * 1024 * 1024)

    response = post_file(seller_client, funded_store, data, django_capture_on_commit_callbacks)

    # Then not one byte of it reached the handlers that keep files, and the message gives its real size
    assert kept == []
    assert response.status_code == 400
    assert response.context["form"].errors["file"] == [
        "The file is 3.0 MB; the limit is 1 MB. Split it into smaller files."
    ]
    assert ImportJob.objects.count() == 0


def test_the_upload_still_needs_its_csrf_token(funded_store, owner, listings):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(
        reverse("order-import", args=[funded_store.code]), {"file": upload(tiktok_csv(GOOD_1))}
    )
    assert response.status_code == 403
    assert ImportJob.objects.count() == 0


class _Huge:
    """An upload that says it is 200 MB (the size is checked before anything is read)."""

    name = "huge.csv"
    size = 200 * 1024 * 1024

    def seek(self, *args):
        raise AssertionError("a file over the limit must not be read")

    read = chunks = seek


def test_a_200_mb_file_is_refused_before_it_is_read_or_stored(funded_store, owner, media_root):
    with pytest.raises(ImportUploadRefused) as refused:
        import_job_create(store=funded_store, actor=owner, upload=_Huge(), options=ImportOptions())
    assert refused.value.messages == [
        "The file is 200.0 MB; the limit is 100 MB. Split it into smaller files."
    ]
    assert (ImportJob.objects.count(), stored_files(media_root)) == (0, [])


def test_a_file_that_is_not_a_spreadsheet_is_refused_at_upload(
    seller_client, funded_store, django_capture_on_commit_callbacks, media_root
):
    response = post_file(
        seller_client, funded_store, b"\xd0\xcf\x11\xe0" + b"\x00" * 600, django_capture_on_commit_callbacks
    )
    assert response.status_code == 400
    assert "old Excel .xls file" in response.context["form"].errors["file"][0]
    assert (ImportJob.objects.count(), stored_files(media_root)) == (0, [])


# --- Twice the same file ----------------------------------------------------------------------------


def test_the_same_file_posted_twice_imports_once(
    seller_client, funded_store, listings, django_capture_on_commit_callbacks
):
    data = tiktok_csv(GOOD_1, GOOD_2)
    post_file(seller_client, funded_store, data, django_capture_on_commit_callbacks)
    orders_after_first = list(Order.objects.order_by("pk").values_list("pk", "status"))
    events_after_first = OrderEvent.objects.count()

    post_file(seller_client, funded_store, data, django_capture_on_commit_callbacks)

    first, second = ImportJob.objects.order_by("pk")
    assert (first.created, first.skipped) == (2, 0)
    assert (second.status, second.created, second.updated, second.skipped) == (
        ImportJobStatus.FINISHED,
        0,
        0,
        2,
    )
    assert list(Order.objects.order_by("pk").values_list("pk", "status")) == orders_after_first
    assert OrderEvent.objects.count() == events_after_first


def test_a_double_click_while_the_first_job_is_pending_gives_the_same_job(
    funded_store, owner, listings, django_capture_on_commit_callbacks, media_root
):
    data = tiktok_csv(GOOD_1)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = import_job_create(
            store=funded_store, actor=owner, upload=upload(data), options=ImportOptions()
        )
        again = import_job_create(
            store=funded_store, actor=owner, upload=upload(data), options=ImportOptions()
        )
        other_options = import_job_create(
            store=funded_store, actor=owner, upload=upload(data), options=ImportOptions(dry_run=True)
        )
    assert again.pk == first.pk
    assert other_options.pk != first.pk
    assert len(queued) == 2
    assert len(stored_files(media_root)) == 2


# --- Broker down, the catch-up check ----------------------------------------------------------------


def test_with_the_broker_down_the_job_waits_queued_and_the_check_runs_it(
    seller_client, funded_store, listings, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")

    monkeypatch.setattr(import_job_run_task, "apply_async", broker_down)

    # When the seller uploads while the broker is down
    with caplog.at_level(logging.WARNING, logger="merchants.queue"):
        response = post_file(
            seller_client, funded_store, tiktok_csv(GOOD_1), django_capture_on_commit_callbacks
        )

    # Then the page still answers, with the job queued
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert job.status == ImportJobStatus.QUEUED
    assert f"could not queue orders.tasks.import_job_run args=({job.pk},)" in caplog.text
    assert Order.objects.count() == 0

    # The check leaves it for the first minute (the worker may still get it)
    assert CHECKS["import_jobs"](job.created_at + timedelta(seconds=30)) == "ran=0 stale=0 files_removed=0"
    assert ImportJob.objects.get(pk=job.pk).status == ImportJobStatus.QUEUED

    # After a minute it runs it, once
    assert CHECKS["import_jobs"](job.created_at + timedelta(minutes=2)) == "ran=1 stale=0 files_removed=0"
    job = ImportJob.objects.get(pk=job.pk)
    assert (job.status, job.created) == (ImportJobStatus.FINISHED, 1)
    assert Order.objects.count() == 1
    assert CHECKS["import_jobs"](job.created_at + timedelta(minutes=3)) == "ran=0 stale=0 files_removed=0"
    # and a late delivery of the task changes nothing
    assert import_job_run(job_id=job.pk) is None


def test_a_running_job_whose_worker_went_silent_is_failed_by_the_check(funded_store, owner):
    job = ImportJob.objects.create(
        store=funded_store, created_by=owner, upload=ContentFile(b"x", name="a.csv"), original_filename="a.csv",
        size=1, sha256="1" * 64,
    )  # fmt: skip
    now = timezone.now()
    job.start(at=now - timedelta(hours=2))
    job.save()
    ImportJob.objects.filter(pk=job.pk).update(progress_at=now - timedelta(minutes=31))

    assert str(import_jobs_catch_up_check(now=now)) == "ran=0 stale=1 files_removed=0"
    job = ImportJob.objects.get(pk=job.pk)
    assert job.status == ImportJobStatus.FAILED
    assert "the worker running it went away" in job.failure_message


def test_a_weeks_old_jobs_files_are_removed_and_its_figures_stay(
    seller_client, funded_store, owner, listings, django_capture_on_commit_callbacks, media_root
):
    # Given two finished jobs with their files, one ended 8 days ago, one 6 days ago
    with django_capture_on_commit_callbacks(execute=True):
        old = import_job_create(
            store=funded_store,
            actor=owner,
            upload=upload(tiktok_csv(GOOD_1, UNKNOWN_SKU)),
            options=ImportOptions(skip_invalid=True),
        )
        recent = import_job_create(
            store=funded_store, actor=owner, upload=upload(tiktok_csv(GOOD_2)), options=ImportOptions()
        )
    now = timezone.now()
    ImportJob.objects.filter(pk=old.pk).update(finished_at=now - timedelta(days=8))
    ImportJob.objects.filter(pk=recent.pk).update(finished_at=now - timedelta(days=6))
    old, recent = ImportJob.objects.get(pk=old.pk), ImportJob.objects.get(pk=recent.pk)
    assert len(stored_files(media_root)) == 3

    # When the scheduled check runs (twice: the second finds nothing more)
    assert str(import_jobs_catch_up_check(now=now)) == "ran=0 stale=0 files_removed=1"
    assert str(import_jobs_catch_up_check(now=now)) == "ran=0 stale=0 files_removed=0"

    # Then the old job's files are gone, its figures are not; the recent job keeps its file
    assert stored_files(media_root) == [recent.upload.name]
    old = ImportJob.objects.get(pk=old.pk)
    assert (old.upload.name, old.error_file.name, old.created, old.refused, len(old.errors)) == (
        "",
        "",
        1,
        1,
        1,
    )
    assert [e.kind for e in old.events.all()][-1] == "files_removed"
    page = seller_client.get(reverse("order-import-job", args=[funded_store.code, old.pk]))
    assert page.status_code == 200
    assert reverse("order-import-upload", args=[funded_store.code, old.pk]) not in page.content.decode()
    for name in ("order-import-errors", "order-import-upload"):
        assert seller_client.get(reverse(name, args=[funded_store.code, old.pk])).status_code == 404


# --- PostgreSQL: progress seen from another connection while the import's transaction is open ----------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_to_another_connection_during_the_write(funded_store, owner, monkeypatch):
    ListingFactory(store=funded_store, sku="TOWEL-1", promised_dispatch="48h")
    ListingFactory(store=funded_store, sku="MUG-2", promised_dispatch="24h")
    monkeypatch.setattr(orders.imports, "PROGRESS_EVERY", 1)
    seen_elsewhere = []
    original_write = ProgressRecorder.write

    def write(self, values):
        original_write(self, values)
        if values["progress_phase"] != "write":
            return
        assert connection.in_atomic_block  # inside the import's transaction

        def look():  # another thread: another connection, as the browser's request would have
            try:
                job = ImportJob.objects.get(pk=self.job_id)
                seen_elsewhere.append((job.progress_phase, job.progress_done, Order.objects.count()))
            finally:
                connections.close_all()

        thread = threading.Thread(target=look)
        thread.start()
        thread.join(10)

    monkeypatch.setattr(ProgressRecorder, "write", write)
    data = tiktok_csv(GOOD_1, GOOD_2)
    job = ImportJob.objects.create(
        store=funded_store,
        created_by=owner,
        upload=ContentFile(data, name="orders.csv"),
        original_filename="orders.csv",
        size=len(data),
        sha256="2" * 64,
    )

    import_job_run(job_id=job.pk)

    # the other connection saw the write pass move while no order was committed yet
    assert seen_elsewhere
    assert all(phase == "write" and orders_visible == 0 for phase, _done, orders_visible in seen_elsewhere)
    assert seen_elsewhere[-1][1] == len(data)
    assert ImportJob.objects.get(pk=job.pk).created == 2


# --- The demo --------------------------------------------------------------------------------------


def test_the_demo_seeds_one_finished_import_on_demo_001(media_root):
    from merchants.demo import seed_merchants
    from orders.demo import seed_import_job, seed_orders

    now = timezone.now()
    merchants = seed_merchants(now=now)
    seed_orders(stores=merchants["stores"], now=now, platform_actor=merchants["users"]["admin"])
    orders_before = Order.objects.count()

    job = seed_import_job(stores=merchants["stores"], actor=merchants["users"]["demo-seller"])

    assert (job.store.code, job.status, job.created, job.skipped, job.refused, job.error_count) == (
        "DEMO-001",
        ImportJobStatus.FINISHED,
        0,
        5,
        1,
        1,
    )
    assert job.errors[0]["column"] == "sku" and "DISCONTINUED-01" in job.errors[0]["message"]
    assert job.error_file
    assert Order.objects.count() == orders_before  # a re-upload: nothing new
    assert seed_import_job(stores=merchants["stores"]).pk == job.pk
    assert ImportJob.objects.count() == 1


def test_the_result_page_shows_every_figure_of_an_update_with_refusals(
    seller_client, funded_store, listings, django_capture_on_commit_callbacks
):
    # Given two orders imported earlier
    post_file(seller_client, funded_store, tiktok_csv(GOOD_1, GOOD_2), django_capture_on_commit_callbacks)
    shipped = tiktok_row(**{"Order Status": "Shipped", "Tracking ID": "SF1234567890123",
                            "Shipping Provider Name": "SF Express", "Shipped Time": "2025-03-02 09:00:00"})  # fmt: skip

    # When a later export moves one forward, repeats the other, and brings a new and a refused one
    response = post_file(
        seller_client,
        funded_store,
        tiktok_csv(shipped, GOOD_2, tiktok_row(**{"Order ID": "3"}), UNKNOWN_SKU),
        django_capture_on_commit_callbacks,
        skip_invalid=True,
        update_existing=True,
    )

    # Then the page shows each figure
    html = seller_client.get(response.url).content.decode()
    assert [(row[0], row[1]) for row in _figures(html)] == [
        ("Format", "tiktok"),
        ("Lines read", "4"),
        ("Orders in the file", "4"),
        ("Orders created", "1"),
        ("Orders updated", "1"),
        ("Already imported, left as they are", "1"),
        ("Never paid, left out", "0"),
        ("Orders refused", "1"),
        ("Problems found", "1"),
    ]
    assert "Orders already imported are updated." in html
