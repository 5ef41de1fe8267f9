import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook

from merchants.models import Listing, ListingEvent, ListingStatus
from merchants.services import SpreadsheetError, listing_bulk_upload
from tests.merchants.factories import ListingFactory

pytestmark = pytest.mark.django_db

HEADER = "sku,title,category,price,stock,promised_dispatch_hours,description,brand\n"


def csv_bytes(*rows, header=HEADER, encoding="utf-8"):
    return (header + "".join(r + "\n" for r in rows)).encode(encoding)


def test_all_good_rows_are_created_live(funded_store):
    result = listing_bulk_upload(
        store=funded_store,
        data=csv_bytes(
            'T-1,纯棉浴巾,general,"¥1,299.00",5,48,厚实柔软,',
            'T-2,"Bath mat, grey",general,15.5,0,same_day,,',
        ),
    )
    assert result.written and result.errors == []
    assert (result.created, result.updated) == (2, 0)
    rows = list(
        Listing.objects.order_by("sku").values_list("sku", "price", "stock", "promised_dispatch", "status")
    )
    assert rows == [
        ("T-1", Decimal("1299.00"), 5, "48h", "live"),
        ("T-2", Decimal("15.50"), 0, "same_day", "live"),
    ]
    assert sorted(ListingEvent.objects.values_list("listing__sku", "kind", "from_status", "to_status")) == [
        ("T-1", "created", "draft", "live"),
        ("T-2", "created", "draft", "live"),
    ]


def test_existing_skus_are_updated(funded_store):
    ListingFactory(store=funded_store, sku="T-1", title="Old title")
    result = listing_bulk_upload(store=funded_store, data=csv_bytes("T-1,New title,general,20,3,24,,"))
    assert (result.created, result.updated) == (0, 1)
    assert Listing.objects.get(sku="T-1").title == "New title"
    assert list(ListingEvent.objects.values_list("kind", "from_status", "to_status")) == [
        ("edited", "live", "live")
    ]


def test_one_bad_row_writes_nothing_and_names_row_and_column(funded_store):
    result = listing_bulk_upload(
        store=funded_store,
        data=csv_bytes(
            "T-1,Towel,general,20,3,24,,",
            "T-2,Towel,toys,abc,-1,96,加微信 abc123,NoSuchBrand",
            "T-1,Dup,general,20,3,24,,",
        ),
    )
    assert not result.written
    assert [str(e) for e in result.errors] == [
        "row 3: category: unknown category toys (use one of: apparel, beauty, electronics, food, general, health, jewelry)",
        "row 3: price: not a number: abc",
        "row 3: stock: must be a whole number of 0 or more, got -1",
        "row 3: promised_dispatch_hours: must be one of same_day, next_day, 24, 48, 72; got 96",
        "row 3: brand: unknown brand NoSuchBrand",
        "row 3: description: refused by screening: Outside contact handles: “微信 abc123”",
        "row 4: sku: SKU T-1 appears again (first on row 2)",
    ]
    assert Listing.objects.count() == 0


def test_screening_hits_are_row_errors(funded_store):
    result = listing_bulk_upload(
        store=funded_store, data=csv_bytes("T-1,Towel,general,20,3,24,see https://x.cn,")
    )
    assert [str(e) for e in result.errors] == [
        "row 2: description: refused by screening: Links: “https://x.cn”"
    ]
    assert Listing.objects.count() == 0


def test_dry_run_checks_but_writes_nothing(funded_store):
    result = listing_bulk_upload(
        store=funded_store, data=csv_bytes("T-1,Towel,general,20,3,24,,"), dry_run=True
    )
    assert (result.written, result.created, result.errors) == (False, 1, [])
    assert Listing.objects.count() == 0


def test_gb18030_tab_separated_with_bom_free_header(funded_store):
    data = csv_bytes(
        "T-1\t毛巾\tgeneral\t9.9\t1\t72\t\t", header=HEADER.replace(",", "\t"), encoding="gb18030"
    )
    result = listing_bulk_upload(store=funded_store, data=data)
    assert result.written
    assert Listing.objects.get().title == "毛巾"


def test_utf8_bom_is_accepted(funded_store):
    result = listing_bulk_upload(
        store=funded_store, data=b"\xef\xbb\xbf" + csv_bytes("T-1,Towel,general,9.9,1,72,,")
    )
    assert result.written


def test_xlsx_upload(funded_store):
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER.strip().split(","))
    ws.append(["X-1", "Towel", "general", 19.9, 12, 48, "", None])
    buffer = io.BytesIO()
    wb.save(buffer)
    result = listing_bulk_upload(store=funded_store, data=buffer.getvalue())
    assert result.written
    assert Listing.objects.values_list("sku", "price", "stock").get() == ("X-1", Decimal("19.90"), 12)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The file is empty."),
        (b"\x00\x01\x02garbage\x00", "This is not a spreadsheet"),
        (b"PK\x03\x04not really a zip", "The XLSX file could not be opened"),
        (
            b"sku,title,price\nA,B,1\n",
            "Missing required column(s): category, stock, promised_dispatch_hours.",
        ),
        (HEADER.encode(), "The file has a header row but no data rows."),
    ],
)
def test_unreadable_files_get_a_clear_message(funded_store, data, message):
    with pytest.raises(SpreadsheetError) as error:
        listing_bulk_upload(store=funded_store, data=data)
    assert message in error.value.messages[0]


def test_size_limit(funded_store, settings):
    settings.LISTING_UPLOAD_MAX_BYTES = 100
    with pytest.raises(SpreadsheetError) as error:
        listing_bulk_upload(
            store=funded_store, data=csv_bytes(*[f"T-{i},Towel,general,1,1,24,," for i in range(9)])
        )
    assert "the limit is" in error.value.messages[0]


def test_removed_listing_cannot_be_changed_by_upload(funded_store):
    ListingFactory(store=funded_store, sku="T-1", status=ListingStatus.REMOVED)
    result = listing_bulk_upload(store=funded_store, data=csv_bytes("T-1,Towel,general,9.9,1,24,,"))
    assert [str(e) for e in result.errors] == [
        "row 2: sku: listing T-1 was removed by the platform and cannot be changed"
    ]


def test_command_exit_0_when_all_rows_are_in(funded_store, tmp_path: Path, capsys):
    path = tmp_path / "listings.csv"
    path.write_bytes(csv_bytes("T-1,Towel,general,9.9,1,24,,"))
    call_command("import_listings", str(path), "--store", funded_store.code)
    assert "1 row(s) OK: 1 were created, 0 were updated." in capsys.readouterr().out
    assert Listing.objects.count() == 1


def test_command_exit_1_prints_rows_and_writes_nothing(funded_store, tmp_path: Path, capsys):
    path = tmp_path / "listings.csv"
    path.write_bytes(csv_bytes("T-1,Towel,general,9.9,1,24,,", "T-2,Towel,general,0,1,24,,"))
    with pytest.raises(CommandError) as error:
        call_command("import_listings", str(path), "--store", funded_store.code)
    assert error.value.returncode == 1
    assert capsys.readouterr().err.splitlines() == ["row 3: price: must be greater than zero, got 0"]
    assert Listing.objects.count() == 0


def test_command_unknown_store(tmp_path: Path, db):
    path = tmp_path / "x.csv"
    path.write_bytes(csv_bytes("T-1,Towel,general,9.9,1,24,,"))
    with pytest.raises(CommandError, match="No store with code 'NOPE'"):
        call_command("import_listings", str(path), "--store", "NOPE")


def _zip_with(files: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data, message",
    [
        (_zip_with({"[Content_Types].xml": b"<not xml"}), "The XLSX file could not be opened"),
        (_zip_with({"xl/huge.bin": b"\0" * (401 * 1024 * 1024)}), "unpacks to 401 MB"),
        (('sku,title\n"' + "x" * 200_000 + "\n").encode(), "The CSV cannot be read near line"),
    ],
)
def test_damaged_files_get_a_clear_message(funded_store, settings, data, message):
    settings.LISTING_UPLOAD_MAX_BYTES = 50 * 1024 * 1024
    with pytest.raises(SpreadsheetError) as error:
        listing_bulk_upload(store=funded_store, data=data)
    assert message in error.value.messages[0]


def test_out_of_range_numbers_are_row_errors(funded_store):
    result = listing_bulk_upload(
        store=funded_store,
        data=csv_bytes("T-1,Towel,general,99999999999999,1,24,,", "T-2,Towel,general,1,99999999999,24,,"),
    )
    assert [str(e) for e in result.errors] == [
        "row 2: price: The price can be at most 9999999999.99.",
        "row 3: stock: Stock can be at most 2147483647.",
    ]
    assert Listing.objects.count() == 0
