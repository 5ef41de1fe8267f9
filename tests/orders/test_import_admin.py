"""The admin's import and export of orders (issue 4): import-export's preview and confirm steps over the one
import path (`orders_import`: a dry run, then an import job), only for staff with the import permission; the
export masks buyer data and is formula-safe."""

import csv
import io
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orders.models import ImportJob, ImportJobStatus, Order
from orders.resources import EXPORT_COLUMNS
from tests.merchants.factories import ListingFactory, UserFactory
from tests.orders.factories import RECIPIENT, make_order
from tests.orders.test_import_orders import tiktok_csv, tiktok_row

pytestmark = pytest.mark.django_db

GOOD_1 = tiktok_row()
GOOD_2 = tiktok_row(**{"Order ID": "576461413038785999", "Seller SKU": "MUG-2", "Quantity": "2"})
UNKNOWN_SKU = tiktok_row(**{"Order ID": "576461413038785111", "Seller SKU": "NOPE-9"})
IMPORT_URL = "admin:orders_order_import"
CONFIRM_URL = "admin:orders_order_process_import"


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


def staff_with(*perms):
    user = UserFactory(is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def importer_client(client):
    client.force_login(staff_with("orders.import_orders", "orders.view_order"))
    return client


def preview(client, store, data: bytes, **options):
    return client.post(
        reverse(IMPORT_URL),
        {
            "store": store.pk,
            "import_file": SimpleUploadedFile("tiktok.csv", data, content_type="text/csv"),
            "resource": "0",
            **{name: "on" for name, value in options.items() if value},
        },
    )


def preview_files(media_root: Path) -> list[Path]:
    return sorted((media_root / "imports" / "preview").glob("*")) if media_root.exists() else []


def test_the_preview_shows_the_row_errors_and_writes_nothing(
    importer_client, funded_store, listings, media_root
):
    response = preview(importer_client, funded_store, tiktok_csv(GOOD_1, UNKNOWN_SKU))

    assert response.status_code == 200
    result = response.context["preview"]
    assert (result.lines, result.orders, result.created, result.error_count) == (2, 2, 0, 1)
    assert len(response.context["preview_errors"]) == 1
    assert response.context["preview_errors"][0].startswith("row 3: Seller SKU: ")
    assert "NOPE-9" in response.context["preview_errors"][0]
    assert "confirm_form" not in response.context
    html = response.content.decode()
    assert "row 3: Seller SKU: " in html
    assert "Nothing can be imported from this file as it is" in html
    # nothing written, nothing kept
    assert (Order.objects.count(), ImportJob.objects.count(), preview_files(media_root)) == (0, 0, [])


def test_preview_then_confirm_imports_through_a_job(
    importer_client, funded_store, listings, media_root, django_capture_on_commit_callbacks
):
    # Given a previewed file (with one refused order, and skip_invalid)
    response = preview(
        importer_client, funded_store, tiktok_csv(GOOD_1, UNKNOWN_SKU, GOOD_2), skip_invalid=True
    )
    result = response.context["preview"]
    assert (result.created, result.refused, result.error_count) == (2, 1, 1)
    assert (Order.objects.count(), ImportJob.objects.count()) == (0, 0)
    [kept] = preview_files(media_root)
    confirm = response.context["confirm_form"]
    assert confirm.initial["skip_invalid"] is True and confirm.initial["store"] == funded_store.pk
    html = response.content.decode()
    assert 'id="confirm"' in html and reverse(CONFIRM_URL) in html

    # When the reviewer confirms
    data = {name: confirm.initial.get(name, "") for name in confirm.fields}
    data["skip_invalid"] = "True"
    data["update_existing"] = "False"
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = importer_client.post(reverse(CONFIRM_URL), data)

    # Then the file was imported by a job, as the seller page imports
    job = ImportJob.objects.get()
    assert confirmed.status_code == 302
    assert confirmed.url == reverse("admin:orders_importjob_change", args=[job.pk])
    assert (job.store, job.status, job.created, job.refused, job.original_filename) == (
        funded_store,
        ImportJobStatus.FINISHED,
        2,
        1,
        "tiktok.csv",
    )
    assert job.error_file
    assert Order.objects.filter(store=funded_store).count() == 2
    assert not kept.exists()
    # the job's admin page shows it, and its files come through the admin only
    page = importer_client.get(confirmed.url)
    assert page.status_code == 200
    assert importer_client.get(reverse("admin:orders_importjob_changelist")).status_code == 200
    assert "row 3: Seller SKU:" in page.content.decode()
    errors = importer_client.get(reverse("admin:orders_importjob_file", args=[job.pk, "errors"]))
    assert errors.status_code == 200
    assert "error" in b"".join(errors.streaming_content).decode("utf-8-sig").splitlines()[0]

    # and confirming the same preview again imports nothing more
    again = importer_client.post(reverse(CONFIRM_URL), data)
    assert again.status_code == 302 and again.url == reverse(IMPORT_URL)
    assert (ImportJob.objects.count(), Order.objects.count()) == (1, 2)


def test_a_file_the_import_cannot_read_is_refused_on_the_form(importer_client, funded_store, media_root):
    response = preview(importer_client, funded_store, b"name,colour\nfoo,blue\n")
    assert response.status_code == 200
    assert response.context["form"].errors["import_file"]
    assert "preview" not in response.context
    assert preview_files(media_root) == []


def test_the_size_limit_applies_to_the_admin_too(importer_client, funded_store, settings, media_root):
    settings.ORDER_IMPORT_MAX_BYTES = 1024 * 1024
    response = preview(importer_client, funded_store, tiktok_csv(GOOD_1) + b"\n" * (2 * 1024 * 1024))
    assert response.context["form"].errors["import_file"] == [
        "The file is 2.0 MB; the limit is 1 MB. Split it into smaller files."
    ]
    assert preview_files(media_root) == []


def test_staff_without_the_import_permission_get_403(client, funded_store, listings):
    client.force_login(staff_with("orders.view_order", "orders.change_order"))
    assert client.get(reverse(IMPORT_URL)).status_code == 403
    assert preview(client, funded_store, tiktok_csv(GOOD_1)).status_code == 403
    assert client.post(reverse(CONFIRM_URL), {"import_file_name": "x.csv"}).status_code == 403
    changelist = client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert reverse(IMPORT_URL) not in changelist
    assert Order.objects.count() == 0


def test_the_import_link_shows_for_staff_with_the_permission(importer_client):
    changelist = importer_client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert reverse(IMPORT_URL) in changelist
    assert importer_client.get(reverse(IMPORT_URL)).status_code == 200


def test_the_export_masks_buyer_data_and_is_formula_safe(client, funded_store):
    client.force_login(staff_with("orders.view_order"))
    make_order(funded_store, order_no="EXP-1", buyer_message='=HYPERLINK("http://evil.example","x")')

    # the export form with every column ticked (as it opens)
    form = client.get(reverse("admin:orders_order_export")).context["form"]
    ticked = {
        name: "on" for name, field in form.fields.items() if getattr(field, "is_selectable_field", False)
    }
    assert len(ticked) == len(EXPORT_COLUMNS)
    response = client.post(reverse("admin:orders_order_export"), {"format": "0", "resource": "0", **ticked})

    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    row = rows[0]
    assert (row["store"], row["order_no"], row["recipient_name"], row["recipient_phone"]) == (
        funded_store.code,
        "EXP-1",
        "张**",
        "138****5678",
    )
    assert row["recipient_address"] == "浙江省 杭州市 西湖区 ****"
    assert row["buyer_message"] == '\'=HYPERLINK("http://evil.example","x")'
    for clear in (RECIPIENT.name, RECIPIENT.phone, RECIPIENT.address):
        assert clear not in text
