"""Bulk shipping from a seller's file and tracking scans from a carrier's file: a result per row, good rows
go through the services, bad rows change nothing, a file uploaded again changes nothing."""

import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from openpyxl import Workbook

from merchants.errors import ActionForbidden
from merchants.models import Sanction
from merchants.services import sanction_impose
from merchants.spreadsheets import SpreadsheetError
from orders.bulk import shipments_bulk_ship, tracking_events_import
from orders.models import Order, OrderEvent, OrderStatus, Shipment, TrackingEvent
from orders.services import RecipientData, order_ship
from tests.merchants.factories import MembershipFactory, StoreFactory
from tests.orders.factories import carrier, make_order

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
ELSEWHERE = RecipientData("李四", "13900000000", "上海市 浦东新区", "世纪大道 1 号")


def csv_bytes(*rows, header="order_no,carrier,tracking_no"):
    return (header + "\n" + "".join(r + "\n" for r in rows)).encode("utf-8")


def _state(*orders):
    """What a refused row must leave alone: status, shipment and number of events of each order."""
    return [
        (o.order_no, o.status, Shipment.objects.filter(order=o).exists(), o.events.count())
        for o in Order.objects.filter(pk__in=[o.pk for o in orders]).order_by("order_no")
    ]


@pytest.fixture
def mixed(funded_store):
    """Orders of the store (and one of another store) and a file with good and bad rows."""
    orders = {no: make_order(funded_store, order_no=no) for no in ("A1", "A2", "A4", "A5")}
    orders["A3"] = make_order(funded_store, order_no="A3")
    order_ship(order=orders["A3"], carrier=carrier("sf"), tracking_no="SF9999999999999")
    orders["A6"] = make_order(funded_store, order_no="A6", recipient=ELSEWHERE)
    other_store = StoreFactory()
    orders["OTHER"] = make_order(other_store, order_no="OTHER-1")
    data = csv_bytes(
        "A1,sf,SF1234567890123",
        "A2,SF Express, sf 1234-5678-90124 ",
        "NOPE,sf,SF1234567890125",
        "OTHER-1,sf,SF1234567890126",
        "A3,顺丰速运,SF1234567890127",
        "A4,dhl,1234567890",
        "A5,YTO,SF1234",
        "A1,sf,SF1234567890123",
        "A6,sf,SF1234567890123",
        ",,",
        ",sf,",
    )
    return orders, data


EXPECTED_ERRORS = [
    "row 4: order_no: unknown order number NOPE",
    "row 5: order_no: unknown order number OTHER-1",
    "row 6: order_no: Order A3 is shipped; only an order awaiting dispatch can be shipped.",
    "row 7: carrier: unknown carrier dhl (use one of: ems, fedex, jd, jt, sf, sto, ups, usps, yto, yunda, zto)",
    "row 8: tracking_no: SF1234 is not a YTO Express tracking number (e.g. YT1234567890123).",
    "row 9: order_no: order A1 appears again (first on row 2)",
    "row 10: tracking_no: SF1234567890123 was already used for another order to a different address; "
    "a waybill cannot be reused.",
    "row 12: order_no: required",
    "row 12: tracking_no: required",
]


def test_a_mixed_file_ships_the_good_rows_and_names_the_bad_ones(mixed, funded_store):
    orders, data = mixed
    untouched_before = _state(*(orders[no] for no in ("A3", "A4", "A5", "A6", "OTHER")))

    result = shipments_bulk_ship(store=funded_store, data=data)

    assert [(r.line, r.order_no, r.outcome) for r in result.rows] == [
        (2, "A1", "shipped"),
        (3, "A2", "shipped"),
        (4, "NOPE", "error"),
        (5, "OTHER-1", "error"),
        (6, "A3", "error"),
        (7, "A4", "error"),
        (8, "A5", "error"),
        (9, "A1", "error"),
        (10, "A6", "error"),
        (12, "", "error"),
    ]
    assert [str(e) for e in result.errors] == EXPECTED_ERRORS
    assert (result.shipped, result.written) == (2, True)
    assert sorted(
        Shipment.objects.exclude(order__order_no="A3").values_list("order__order_no", "tracking_no")
    ) == [
        ("A1", "SF1234567890123"),
        ("A2", "SF1234567890124"),
    ]
    assert list(
        Order.objects.filter(order_no__in=["A1", "A2"]).order_by("order_no").values_list("status", flat=True)
    ) == [OrderStatus.SHIPPED, OrderStatus.SHIPPED]
    assert _state(*(orders[no] for no in ("A3", "A4", "A5", "A6", "OTHER"))) == untouched_before


def test_a_dry_run_reports_the_same_rows_and_ships_nothing(mixed, funded_store):
    orders, data = mixed
    before = _state(*orders.values())
    events_before = OrderEvent.objects.count()

    result = shipments_bulk_ship(store=funded_store, data=data, dry_run=True)

    assert [(r.line, r.outcome) for r in result.rows][:2] == [(2, "ok"), (3, "ok")]
    # Row 10 reuses row 2's waybill: the dry run sees it too, though row 2 was never shipped.
    assert [str(e) for e in result.errors] == EXPECTED_ERRORS
    assert (result.shipped, result.ok, result.written) == (0, 2, False)
    assert _state(*orders.values()) == before
    assert Shipment.objects.count() == 1  # A3's, from the fixture
    assert OrderEvent.objects.count() == events_before


def test_a_store_that_may_not_take_orders_ships_nothing(funded_store):
    first, second = make_order(funded_store, order_no="B1"), make_order(funded_store, order_no="B2")
    sanction_impose(store=funded_store, kind=Sanction.Kind.ORDER_RESTRICTION, reason="36 points")
    before = _state(first, second)

    result = shipments_bulk_ship(
        store=funded_store, data=csv_bytes("B1,sf,SF1234567890123", "B2,sf,SF1234567890124", "NOPE,x,y")
    )

    message = "The store may not take orders at the moment, so it cannot ship them either."
    assert [str(e) for e in result.errors] == [
        f"row 2: order_no: {message}",
        f"row 3: order_no: {message}",
        f"row 4: order_no: {message}",
    ]
    assert (result.shipped, result.written) == (0, False)
    assert _state(first, second) == before


def test_customer_service_may_not_bulk_ship(funded_store):
    order = make_order(funded_store, order_no="C1")
    cs = MembershipFactory(store=funded_store, role="customer_service").user
    before = _state(order)
    with pytest.raises(ActionForbidden):
        shipments_bulk_ship(store=funded_store, data=csv_bytes("C1,sf,SF1234567890123"), actor=cs)
    assert _state(order) == before


def test_an_operator_ships_as_the_actor(funded_store):
    order = make_order(funded_store, order_no="D1")
    operator = MembershipFactory(store=funded_store, role="operator").user
    result = shipments_bulk_ship(store=funded_store, data=csv_bytes("D1,jt,JT1234567890123"), actor=operator)
    assert result.shipped == 1
    assert order.events.get(kind="shipped").actor == operator
    assert Shipment.objects.get(order=order).created_by == operator


def test_an_xlsx_file_ships_too(funded_store):
    make_order(funded_store, order_no="1001")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Order_No", "Carrier", "Tracking_No"])
    sheet.append([1001, "ZTO", 75123456789012])
    buffer = io.BytesIO()
    workbook.save(buffer)

    result = shipments_bulk_ship(store=funded_store, data=buffer.getvalue())

    assert [(r.order_no, r.outcome) for r in result.rows] == [("1001", "shipped")]
    assert Shipment.objects.get().tracking_no == "75123456789012"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The file is empty."),
        (b"order_no,tracking_no\nA1,SF1234567890123\n", "Missing required column(s): carrier."),
        (b"\x00\x01binary", "This is not a spreadsheet"),
    ],
)
def test_an_unreadable_file_is_refused_whole(funded_store, data, message):
    with pytest.raises(SpreadsheetError) as refused:
        shipments_bulk_ship(store=funded_store, data=data)
    assert refused.value.messages[0].startswith(message)


def test_a_web_upload_has_a_row_limit(funded_store):
    with pytest.raises(SpreadsheetError, match="The file has 3 rows; at most 2 orders"):
        shipments_bulk_ship(store=funded_store, data=csv_bytes("a,sf,x", "b,sf,y", "c,sf,z"), max_rows=2)


# --- The import_shipments command -----------------------------------------------------------------


def test_command_ships_and_exits_0(funded_store, tmp_path: Path, capsys):
    make_order(funded_store, order_no="E1")
    path = tmp_path / "shipments.csv"
    path.write_bytes(csv_bytes("E1,sf,SF1234567890123"))

    call_command("import_shipments", str(path), "--store", funded_store.code)

    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("1 row(s): 1 shipped, 0 refused.\n", "")
    assert Order.objects.get(order_no="E1").status == OrderStatus.SHIPPED


def test_command_prints_refused_rows_and_exits_1(funded_store, tmp_path: Path, capsys):
    make_order(funded_store, order_no="E1")
    path = tmp_path / "shipments.csv"
    path.write_bytes(csv_bytes("E1,sf,SF1234567890123", "E2,sf,SF1234567890124", "E1,sf,SF1"))

    with pytest.raises(CommandError) as error:
        call_command("import_shipments", str(path), "--store", funded_store.code)

    assert error.value.returncode == 1
    assert str(error.value) == "2 of 3 row(s) refused."
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "row 3: order_no: unknown order number E2",
        "row 4: order_no: order E1 appears again (first on row 2)",
        "row 4: tracking_no: SF1 is not a SF Express tracking number (e.g. SF1234567890123).",
    ]
    assert captured.out == "3 row(s): 1 shipped, 2 refused.\n"
    assert Order.objects.get(order_no="E1").status == OrderStatus.SHIPPED


def test_command_dry_run_ships_nothing(funded_store, tmp_path: Path, capsys):
    make_order(funded_store, order_no="E1")
    path = tmp_path / "shipments.csv"
    path.write_bytes(csv_bytes("E1,sf,SF1234567890123"))

    call_command("import_shipments", str(path), "--store", funded_store.code, "--dry-run")

    assert capsys.readouterr().out == "1 row(s): 1 would ship, 0 refused.\n"
    assert Order.objects.get(order_no="E1").status == OrderStatus.PAID
    assert not Shipment.objects.exists()


def test_command_unknown_store_and_unreadable_file(funded_store, tmp_path: Path):
    path = tmp_path / "shipments.csv"
    path.write_bytes(b"order_no\nE1\n")
    with pytest.raises(CommandError, match="No store with code 'NOPE'"):
        call_command("import_shipments", str(path), "--store", "NOPE")
    with pytest.raises(CommandError, match="Missing required column"):
        call_command("import_shipments", str(path), "--store", funded_store.code)


# --- Tracking scans from a carrier's CSV ----------------------------------------------------------

TRACKING_HEADER = "carrier,tracking_no,kind,occurred_at,location,description"


@pytest.fixture
def shipped(funded_store):
    order = make_order(funded_store, order_no="T1", paid_at=timezone.now() - timedelta(days=3))
    order_ship(order=order, carrier=carrier("sf"), tracking_no="SF1234567890123")
    return Order.objects.get(pk=order.pk)


def _tracking_file(now):
    day = (now - timedelta(days=2)).astimezone(SHANGHAI).date()
    return (
        csv_bytes(
            f"sf,SF1234567890123,pickup,{day} 09:30:00,杭州,揽收",
            f"sf,SF 1234 5678 90123,sorting,{day}T12:00:00+08:00,杭州转运中心,",
            f"SF Express,SF1234567890123,delivered,{day} 18:05,上海,已签收",
            f"sf,SF0000000000000,in_transit,{day} 10:00:00,,",
            f"yto,SF1234567890123,pickup,{day} 09:30:00,,",
            "sf,SF1234567890123,lost,2024-01-01 00:00:00,,",
            "dhl,SF1234567890123,pickup,yesterday,,",
            header=TRACKING_HEADER,
        ),
        day,
    )


def test_tracking_csv_records_scans_once_and_reports_unknown_numbers(shipped):
    now = timezone.now()
    data, day = _tracking_file(now)
    pickup = datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI).replace(hour=9, minute=30)

    result = tracking_events_import(data=data, now=now)

    assert [(r.line, r.outcome) for r in result.rows] == [
        (2, "stored"),
        (3, "stored"),
        (4, "stored"),
        (5, "error"),
        (6, "error"),
        (7, "error"),
        (8, "error"),
    ]
    assert [str(e) for e in result.errors] == [
        "row 5: tracking_no: no SF Express shipment has tracking number SF0000000000000",
        "row 6: tracking_no: no YTO Express shipment has tracking number SF1234567890123",
        "row 7: kind: must be one of pickup, sorting, in_transit, delivered; got lost",
        "row 8: carrier: unknown carrier dhl (use one of: ems, fedex, jd, jt, sf, sto, ups, usps, yto, yunda, zto)",
        "row 8: occurred_at: not a time: yesterday (use ISO-8601 or YYYY-MM-DD HH:MM:SS, China time)",
    ]
    shipped.refresh_from_db()
    assert (shipped.status, shipped.dispatched_at) == (OrderStatus.DELIVERED, pickup)
    assert list(TrackingEvent.objects.values_list("kind", "source", "location")) == [
        ("pickup", "csv", "杭州"),
        ("sorting", "csv", "杭州转运中心"),
        ("delivered", "csv", "上海"),
    ]
    assert shipped.shipment.first_pickup_at == pickup

    # The same file again: every scan is already there, nothing changes.
    events_before = (TrackingEvent.objects.count(), OrderEvent.objects.count())
    again = tracking_events_import(data=data, now=now)
    assert [r.outcome for r in again.rows[:3]] == ["duplicate", "duplicate", "duplicate"]
    assert (again.stored, again.duplicates) == (0, 3)
    assert (TrackingEvent.objects.count(), OrderEvent.objects.count()) == events_before


def test_a_scan_in_the_future_is_refused(shipped):
    now = timezone.now()
    later = (now + timedelta(hours=2)).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    result = tracking_events_import(
        data=csv_bytes(f"sf,SF1234567890123,pickup,{later},,", header=TRACKING_HEADER), now=now
    )
    assert [str(e) for e in result.errors] == [f"row 2: occurred_at: {later} is in the future"]
    assert not TrackingEvent.objects.exists()


def test_a_merged_parcel_scan_reaches_every_order_on_the_waybill(funded_store):
    first, second = make_order(funded_store, order_no="M1"), make_order(funded_store, order_no="M2")
    for order in (first, second):
        order_ship(order=order, carrier=carrier("sf"), tracking_no="SF1234567890123")
    result = tracking_events_import(
        data=csv_bytes("sf,SF1234567890123,pickup,2025-01-02 09:00:00,,", header=TRACKING_HEADER)
    )
    assert (result.stored, result.errors) == (1, [])
    expected = datetime(2025, 1, 2, 9, 0, tzinfo=SHANGHAI)
    assert list(Order.objects.order_by("order_no").values_list("dispatched_at", flat=True)) == [expected] * 2


def test_import_tracking_command(shipped, tmp_path: Path, capsys):
    path = tmp_path / "scans.csv"
    path.write_bytes(
        csv_bytes(
            "sf,SF1234567890123,pickup,2025-01-02 09:00:00,,",
            "sf,SF0000000000000,pickup,2025-01-02 09:00:00,,",
            header=TRACKING_HEADER,
        )
    )
    with pytest.raises(CommandError) as error:
        call_command("import_tracking", str(path))
    assert error.value.returncode == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "row 3: tracking_no: no SF Express shipment has tracking number SF0000000000000"
    ]
    assert captured.out == "2 row(s): 1 stored, 0 already stored, 1 refused.\n"

    path.write_bytes(csv_bytes("sf,SF1234567890123,pickup,2025-01-02 09:00:00,,", header=TRACKING_HEADER))
    call_command("import_tracking", str(path))
    assert capsys.readouterr().out == "1 row(s): 0 stored, 1 already stored, 0 refused.\n"
    assert TrackingEvent.objects.count() == 1
