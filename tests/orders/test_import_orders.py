"""Bulk import of orders (issue 4): TikTok Shop and Douyin exports and our template, CSV and XLSX, with the
damage exports carry; all orders or none, or the good ones with an error file; re-importing changes nothing."""

import csv
import io
import sys
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook

from merchants.services import sanction_impose
from orders.imports import (
    OrderImportError,
    order_import_template,
    orders_import,
)
from orders.models import Order, OrderEvent, OrderLine, OrderStatus, Shipment
from tests.merchants.factories import ListingFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=SHANGHAI)

TIKTOK_HEADER = [
    "Order ID", "Order Status", "Order Substatus", "SKU ID", "Seller SKU", "Product Name", "Variation",
    "Quantity", "SKU Unit Original Price", "SKU Subtotal After Discount", "Order Amount", "Created Time",
    "Paid Time", "Shipped Time", "Delivered Time", "Cancelled Time", "Fulfillment Type", "Tracking ID",
    "Shipping Provider Name", "Buyer Message", "Buyer Username", "Recipient", "Phone #", "Country", "State",
    "City", "Zipcode", "Detail Address",
]  # fmt: skip
DOUYIN_HEADER = [
    "主订单编号", "子订单编号", "商家编码", "选购商品", "商品数量", "商品单价", "订单应付金额", "收件人",
    "收件人手机号", "省", "市", "区", "详细地址", "订单提交时间", "支付完成时间", "快递公司", "快递单号",
    "订单状态", "买家留言",
]  # fmt: skip


def tiktok_row(**overrides):
    row = {
        "Order ID": "576461413038785752",
        "Order Status": "Awaiting Shipment",
        "Order Substatus": "",
        "SKU ID": "1729384756",
        "Seller SKU": "TOWEL-1",
        "Product Name": "Cotton towel",
        "Variation": "Blue",
        "Quantity": "1",
        "SKU Unit Original Price": "39.90",
        "SKU Subtotal After Discount": "39.90",
        "Order Amount": "39.90",
        "Created Time": "2025-03-01 10:14:00",
        "Paid Time": "2025-03-01 10:15:00",
        "Shipped Time": "",
        "Delivered Time": "",
        "Cancelled Time": "",
        "Fulfillment Type": "Fulfillment by seller",
        "Tracking ID": "",
        "Shipping Provider Name": "",
        "Buyer Message": "",
        "Buyer Username": "buyer1",
        "Recipient": "张三",
        "Phone #": "13812345678",
        "Country": "China",
        "State": "浙江省",
        "City": "杭州市",
        "Zipcode": "310000",
        "Detail Address": "文三路 123 号",
    }
    row.update(overrides)
    return row


def tiktok_csv(*rows, header=TIKTOK_HEADER, delimiter=",", encoding="utf-8", extra_lines=()):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for line in extra_lines:
        writer.writerow(line)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return out.getvalue().encode(encoding)


@pytest.fixture
def listings(funded_store):
    return {
        "TOWEL-1": ListingFactory(store=funded_store, sku="TOWEL-1", promised_dispatch="48h"),
        "MUG-2": ListingFactory(store=funded_store, sku="MUG-2", promised_dispatch="24h"),
    }


def run(store, data, **kwargs):
    return orders_import(store=store, source=data, now=NOW, **kwargs)


def state():
    """Everything an import may write, to assert that a refused one wrote nothing."""
    return (
        Order.objects.count(),
        OrderLine.objects.count(),
        OrderEvent.objects.count(),
        Shipment.objects.count(),
    )


def messages(result):
    return [str(error) for error in result.errors]


# --- The good path --------------------------------------------------------------------------------------


def test_a_tiktok_export_becomes_orders_like_any_other(funded_store, listings):
    data = tiktok_csv(
        tiktok_row(),
        tiktok_row(
            **{
                "Seller SKU": "MUG-2",
                "SKU ID": "99",
                "Product Name": "Mug",
                "Variation": "",
                "Quantity": "2",
                "SKU Unit Original Price": "10.00",
            }
        ),
        tiktok_row(
            **{
                "Order ID": "576461413038785999",
                "Order Status": "Delivered",
                "Order Amount": "$1,039.90",
                "Quantity": "26",
                "Shipped Time": "2025-03-02 09:00:00",
                "Delivered Time": "2025-03-04 15:30:00",
                "Tracking ID": "SF1234567890123",
                "Shipping Provider Name": "SF Express",
            }
        ),
    )

    result = run(funded_store, data)

    assert (result.format, result.lines, result.orders, result.created, result.error_count) == (
        "tiktok",
        3,
        2,
        2,
        0,
    )
    assert result.written is True
    first = Order.objects.get(order_no="576461413038785752")
    assert first.store == funded_store
    assert first.status == OrderStatus.PAID
    assert first.paid_at == datetime(2025, 3, 1, 10, 15, tzinfo=SHANGHAI)
    # the shortest promise of its lines (24 h, the mug) sets the deadline
    assert first.dispatch_deadline == datetime(2025, 3, 2, 10, 15, tzinfo=SHANGHAI)
    assert first.amount_paid == Decimal("39.90")
    assert first.service_fee == Decimal("2.00")  # 39.90 at the general rate (5 %), half-up
    assert (first.recipient_name, first.recipient_phone, first.recipient_region, first.recipient_address) == (
        "张三",
        "13812345678",
        "浙江省 杭州市",
        "文三路 123 号",
    )
    assert [(x.sku, x.title, x.quantity, x.unit_price, x.promised_dispatch) for x in first.lines.all()] == [
        ("TOWEL-1", "Cotton towel Blue", 1, Decimal("39.90"), "48h"),
        ("MUG-2", "Mug", 2, Decimal("10.00"), "24h"),
    ]
    assert [(e.kind, e.to_status, e.created_at) for e in first.events.all()] == [
        ("paid", "paid", datetime(2025, 3, 1, 10, 15, tzinfo=SHANGHAI))
    ]
    second = Order.objects.get(order_no="576461413038785999")
    assert second.status == OrderStatus.DELIVERED
    assert second.amount_paid == Decimal("1039.90")
    assert second.dispatched_at == datetime(2025, 3, 2, 9, 0, tzinfo=SHANGHAI)
    assert second.delivered_at == datetime(2025, 3, 4, 15, 30, tzinfo=SHANGHAI)
    assert [(e.kind, e.from_status, e.to_status) for e in second.events.all()] == [
        ("paid", "", "paid"),
        ("shipped", "paid", "shipped"),
        ("delivered", "shipped", "delivered"),
    ]
    shipment = second.shipment
    assert (shipment.carrier.code, shipment.tracking_no, shipment.address_digest) == (
        "sf",
        "SF1234567890123",
        second.address_digest,
    )
    # delivered: the carrier picked it up, so the tracking check has nothing to judge
    assert shipment.first_pickup_at == datetime(2025, 3, 2, 9, 0, tzinfo=SHANGHAI)


def test_a_douyin_export_maps_its_statuses_and_carriers(funded_store, listings):
    rows = [
        ["6920000000000000001", "69200000000000000011", "TOWEL-1", "纯棉浴巾", "1", "39.90", "39.90", "李四",
         "13900000000", "上海市", "上海市", "浦东新区", "世纪大道 1 号", "2025/03/01 09:00", "2025/03/01 09:01",
         "", "", "待发货", "请尽快发货"],
        ["6920000000000000002", "69200000000000000021", "MUG-2", "马克杯", "1", "¥10.00", "¥10.00", "王五",
         "13700000000", "北京市", "北京市", "朝阳区", "建国路 8 号", "2025/03/01 09:00", "2025/03/01 09:02",
         "中通快递", "75123456789012", "已发货", ""],
        ["6920000000000000003", "69200000000000000031", "MUG-2", "马克杯", "1", "10.00", "10.00", "赵六",
         "13600000000", "北京市", "北京市", "朝阳区", "建国路 9 号", "2025/03/01 09:00", "2025/03/01 09:03",
         "", "", "已关闭", ""],
    ]  # fmt: skip
    data = "\r\n".join(",".join(r) for r in [DOUYIN_HEADER, *rows]).encode("utf-8")

    result = run(funded_store, data)

    assert (result.format, result.created, result.error_count) == ("douyin", 3, 0)
    statuses = dict(Order.objects.values_list("order_no", "status"))
    assert statuses == {
        "6920000000000000001": "paid",
        "6920000000000000002": "shipped",
        "6920000000000000003": "cancelled",
    }
    assert Order.objects.get(order_no="6920000000000000001").buyer_message == "请尽快发货"
    shipped = Order.objects.get(order_no="6920000000000000002")
    assert (shipped.shipment.carrier.code, shipped.shipment.tracking_no) == ("zto", "75123456789012")
    # no ship time in a Douyin export: the best known is the payment
    assert shipped.dispatched_at == datetime(2025, 3, 1, 9, 2, tzinfo=SHANGHAI)
    assert shipped.shipment.first_pickup_at is None


def test_our_template_imports_its_own_example(funded_store):
    ListingFactory(store=funded_store, sku="TOWEL-70140")
    template = order_import_template()

    result = run(funded_store, template.encode("utf-8"))

    assert template.splitlines()[0].startswith(
        "order_no,status,sku,title,quantity,unit_price,amount_paid,paid_at"
    )
    assert (result.format, result.created, result.error_count) == ("template", 1, 0)
    order = Order.objects.get(order_no="ORD-2025-000001")
    assert (order.status, order.amount_paid, order.shipment.tracking_no) == (
        "shipped",
        Decimal("69.80"),
        "SF1234567890123",
    )


def test_unpaid_orders_are_left_out_and_counted(funded_store, listings):
    data = tiktok_csv(
        tiktok_row(**{"Order ID": "1", "Order Status": "Unpaid", "Paid Time": "", "Seller SKU": "GONE"}),
        tiktok_row(**{"Order ID": "2", "Order Status": "Cancelled", "Paid Time": ""}),
        tiktok_row(**{"Order ID": "3", "Order Status": "Cancelled", "Cancelled Time": "2025-03-01 11:00:00"}),
    )

    result = run(funded_store, data)

    assert (result.created, result.unpaid, result.error_count) == (1, 2, 0)
    order = Order.objects.get()
    assert (order.order_no, order.status, order.closed_at) == (
        "3",
        "cancelled",
        datetime(2025, 3, 1, 11, 0, tzinfo=SHANGHAI),
    )


# --- Encodings, delimiters, XLSX ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8", ","), ("utf-8-sig", ","), ("gb18030", ","), ("gbk", ","), ("utf-8", "\t"), ("gb18030", "\t"),
     ("utf-16", "\t")],
)  # fmt: skip
def test_encodings_and_delimiters(funded_store, listings, encoding, delimiter):
    data = tiktok_csv(tiktok_row(), encoding=encoding, delimiter=delimiter)

    result = run(funded_store, data)

    assert (result.created, result.error_count) == (1, 0)
    order = Order.objects.get()
    assert (order.recipient_name, order.recipient_region) == ("张三", "浙江省 杭州市")


def test_a_gb18030_file_whose_first_megabyte_is_ascii(funded_store, listings):
    ascii_rows = [
        tiktok_row(**{"Order ID": str(10_000 + i), "Recipient": "Zhang San", "State": "Zhejiang",
                      "City": "Hangzhou", "Detail Address": "Wensan Road 123, building 4, room 501 " + "x" * 60})
        for i in range(3500)
    ]  # fmt: skip
    data = tiktok_csv(*ascii_rows, tiktok_row(), encoding="gb18030")
    assert len(data) > 1 << 20

    result = run(funded_store, data, dry_run=True)

    assert (result.lines, result.created, result.error_count) == (3501, 3501, 0)


def xlsx(rows):
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_export_with_its_description_row(funded_store, listings):
    row = tiktok_row(**{"Paid Time": datetime(2025, 3, 1, 10, 15), "Quantity": 2, "Order Amount": 79.8,
                        "Phone #": 13812345678})  # fmt: skip
    descriptions = ["Platform unique order ID.", "Order status."] + [""] * (len(TIKTOK_HEADER) - 2)
    data = xlsx([TIKTOK_HEADER, descriptions, [row[c] for c in TIKTOK_HEADER]])

    result = run(funded_store, data)

    assert (result.lines, result.created, result.error_count) == (1, 1, 0)
    order = Order.objects.get()
    assert (order.paid_at, order.amount_paid, order.recipient_phone, order.lines.get().quantity) == (
        datetime(2025, 3, 1, 10, 15, tzinfo=SHANGHAI),
        Decimal("79.80"),
        "13812345678",
        2,
    )


def test_an_xlsx_order_id_stored_as_a_number_is_refused(funded_store, listings):
    row = tiktok_row(**{"Order ID": 576461413038785752})
    data = xlsx([TIKTOK_HEADER, [row[c] for c in TIKTOK_HEADER]])

    result = run(funded_store, data)

    assert result.error_count == 1
    assert messages(result)[0].startswith(
        "row 2: Order ID: 5.76E+17 is an order ID that a spreadsheet turned into a number"
    )
    assert state() == (0, 0, 0, 0)


def test_a_csv_description_row_is_skipped(funded_store, listings):
    descriptions = ["Platform unique order ID.", "Order status."] + [""] * (len(TIKTOK_HEADER) - 2)
    result = run(funded_store, tiktok_csv(tiktok_row(), extra_lines=[descriptions]))

    assert (result.lines, result.created, result.error_count) == (1, 1, 0)


# --- Damaged cells ----------------------------------------------------------------------------------------


def test_values_protected_by_a_leading_tab_or_an_equals_wrapper(funded_store, listings):
    data = tiktok_csv(
        tiktok_row(**{"Order ID": "\t576461413038785752", "Phone #": '="13812345678"', "Seller SKU": "\tTOWEL-1",
                      "Paid Time": "\t2025-03-01 10:15:00"}),
        tiktok_row(**{"Order ID": '="576461413038785753"', "Tracking ID": '="SF1234567890123"',
                      "Order Status": "Shipped", "Shipping Provider Name": "SF Express",
                      "Shipped Time": "2025-03-01 12:00:00"}),
    )  # fmt: skip

    result = run(funded_store, data)

    assert (result.created, result.error_count) == (2, 0)
    first = Order.objects.get(order_no="576461413038785752")
    assert (first.recipient_phone, first.lines.get().sku) == ("13812345678", "TOWEL-1")
    assert Shipment.objects.get().tracking_no == "SF1234567890123"


@pytest.mark.parametrize(
    ("text", "amount"),
    [("39.90", "39.90"), ("¥1,299.00", "1299.00"), ("$1,299.5", "1299.50"), ("￥ 39.9", "39.90"),
     ("1299", "1299.00"), ("USD 12.00", "12.00"), ("39.90元", "39.90")],
)  # fmt: skip
def test_money_with_currency_signs_and_thousands_separators(funded_store, listings, text, amount):
    result = run(
        funded_store, tiktok_csv(tiktok_row(**{"Order Amount": text, "SKU Unit Original Price": text}))
    )

    assert result.error_count == 0
    order = Order.objects.get()
    assert (order.amount_paid, order.lines.get().unit_price) == (Decimal(amount), Decimal(amount))


@pytest.mark.parametrize(
    ("text", "message"),
    [("1.999", "1.999 has more than two decimals"), ("-5.00", "-5.00 is negative"),
     ("1.299,00", "1.299,00 is not an amount (use digits, e.g. 1299.00)"),
     ("free", "free is not an amount (use digits, e.g. 1299.00)")],
)  # fmt: skip
def test_money_that_is_not_an_amount_is_refused(funded_store, listings, text, message):
    result = run(funded_store, tiktok_csv(tiktok_row(**{"Order Amount": text})))

    assert messages(result) == [f"row 2: Order Amount: {message}"]
    assert state() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "text", ["2025-03-01 10:15:00", "2025/03/01 10:15", "03/01/2025 10:15:00 AM", "\t2025-03-01 10:15"]
)
def test_the_three_time_formats_are_read_in_the_stores_zone(funded_store, listings, text):
    result = run(funded_store, tiktok_csv(tiktok_row(**{"Paid Time": text})))

    assert result.error_count == 0
    assert Order.objects.get().paid_at == datetime(2025, 3, 1, 2, 15, tzinfo=ZoneInfo("UTC"))


def test_times_are_read_in_the_time_zone_of_the_store(funded_store, listings):
    funded_store.time_zone = "America/Los_Angeles"
    funded_store.save(update_fields=["time_zone"])

    result = run(funded_store, tiktok_csv(tiktok_row(**{"Paid Time": "03/01/2025 10:15:00 PM"})))

    assert result.error_count == 0
    assert Order.objects.get().paid_at == datetime(2025, 3, 2, 6, 15, tzinfo=ZoneInfo("UTC"))


def test_the_same_time_text_is_read_in_each_imports_own_zone(funded_store, listings):
    # Times are remembered per import (many lines share one): a later import in another zone reads afresh.
    run(funded_store, tiktok_csv(tiktok_row(**{"Order ID": "1", "Paid Time": "2025-03-01 10:15:00"})))
    funded_store.time_zone = "America/Los_Angeles"
    funded_store.save(update_fields=["time_zone"])

    run(funded_store, tiktok_csv(tiktok_row(**{"Order ID": "2", "Paid Time": "2025-03-01 10:15:00"})))

    paid = dict(Order.objects.values_list("order_no", "paid_at"))
    assert paid == {
        "1": datetime(2025, 3, 1, 2, 15, tzinfo=ZoneInfo("UTC")),
        "2": datetime(2025, 3, 1, 18, 15, tzinfo=ZoneInfo("UTC")),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [("2025-02-30 10:00:00", "2025-02-30 10:00:00 is not a time"), ("13/01/2025 10:00", "13/01/2025 10:00 is not a time"),
     ("yesterday", "yesterday is not a time"), ("2025-03-01 24:00:00", "2025-03-01 24:00:00 is not a time"),
     ("2025-03-01 10:15: 0", "2025-03-01 10:15: 0 is not a time")],
)  # fmt: skip
def test_a_time_that_is_not_one_is_refused(funded_store, listings, text, message):
    result = run(funded_store, tiktok_csv(tiktok_row(**{"Paid Time": text})))

    assert messages(result) == [
        f"row 2: Paid Time: {message} (use YYYY-MM-DD HH:MM:SS, YYYY/MM/DD HH:MM, MM/DD/YYYY HH:MM:SS AM)"
    ]


def test_a_time_in_the_future_is_refused(funded_store, listings):
    result = run(funded_store, tiktok_csv(tiktok_row(**{"Paid Time": "2025-03-11 10:00:00"})))

    assert messages(result) == ["row 2: Paid Time: 2025-03-11 10:00:00 is in the future"]


def test_an_order_id_a_spreadsheet_turned_into_a_number_is_refused_with_how_to_export_it(
    funded_store, listings
):
    result = run(funded_store, tiktok_csv(tiktok_row(), tiktok_row(**{"Order ID": "6.91E+18"})))

    assert messages(result) == [
        "row 3: Order ID: 6.91E+18 is an order ID that a spreadsheet turned into a number: its last digits are "
        "lost. Export the orders again and upload the file as it was downloaded, or open it in Excel through "
        "Data → From Text/CSV with this column set to Text."
    ]
    assert state() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("text", "stored"),
    [("13812345678", "13812345678"), ("8613812345678", "+8613812345678"), ("(+86)138 1234 5678", "+8613812345678"),
     ("57188886666", "057188886666"), ("2188886666", "02188886666"), ("1088886666", "01088886666"),
     ("0571-8888-6666", "057188886666"), ("138****5678", "138****5678")],
)  # fmt: skip
def test_phone_numbers_that_lost_their_leading_zero_or_plus(funded_store, listings, text, stored):
    result = run(funded_store, tiktok_csv(tiktok_row(**{"Phone #": text})))

    assert result.error_count == 0
    assert Order.objects.get().recipient_phone == stored


def test_a_phone_number_a_spreadsheet_turned_into_a_number_is_refused(funded_store, listings):
    result = run(funded_store, tiktok_csv(tiktok_row(**{"Phone #": "1.38123E+10"})))

    assert messages(result) == [
        "row 2: Phone #: 1.38123E+10 is a phone number that a spreadsheet turned into a number: digits are "
        "lost. Export the orders again and keep this column as text."
    ]


# --- Orders made of several lines ------------------------------------------------------------------------


def test_lines_of_one_order_that_disagree_are_refused(funded_store, listings):
    data = tiktok_csv(
        tiktok_row(),
        tiktok_row(**{"Order ID": "2"}),
        tiktok_row(**{"Seller SKU": "MUG-2", "Recipient": "李四"}),
        tiktok_row(**{"Order ID": "2", "Seller SKU": "MUG-2", "Paid Time": "2025-03-01 10:16:00"}),
    )

    result = run(funded_store, data)

    assert messages(result) == [
        "row 4: Recipient: recipient, phone or address differs from row 2 of the same order 576461413038785752",
        "row 5: Paid Time: differs from row 3 of the same order 2",
    ]
    assert state() == (0, 0, 0, 0)


def test_duplicate_lines_are_refused(funded_store, listings):
    data = tiktok_csv(
        tiktok_row(),
        tiktok_row(**{"Seller SKU": "MUG-2", "SKU ID": "2", "Product Name": "Mug", "Variation": ""}),
        tiktok_row(**{"Seller SKU": "MUG-2", "SKU ID": "2", "Product Name": "Mug", "Variation": ""}),
        tiktok_row(),
    )

    result = run(funded_store, data)

    assert messages(result) == [
        "row 4: Seller SKU: duplicate line: row 3 of order 576461413038785752 has the same product",
        "row 5: Seller SKU: duplicate line: row 2 of order 576461413038785752 has the same product",
    ]


def test_lines_of_an_order_may_stand_apart_in_the_file(funded_store, listings):
    data = tiktok_csv(
        tiktok_row(),
        tiktok_row(**{"Order ID": "2"}),
        tiktok_row(**{"Seller SKU": "MUG-2", "SKU ID": "2"}),
    )

    result = run(funded_store, data)

    assert (result.orders, result.created, result.error_count) == (2, 2, 0)
    assert Order.objects.get(order_no="576461413038785752").lines.count() == 2


def test_an_order_for_a_banned_product_is_refused_as_order_create_refuses_it(funded_store, listings):
    # Given MUG-2 banned from sale for a week (late dispatch)
    sanction_impose(
        store=funded_store,
        kind="product_ban",
        listing=listings["MUG-2"],
        reason="late",
        starts_at=datetime(2025, 3, 9, 12, 0, tzinfo=SHANGHAI),
        ends_at=datetime(2025, 3, 16, 12, 0, tzinfo=SHANGHAI),
    )
    data = tiktok_csv(
        tiktok_row(),
        tiktok_row(**{"Order ID": "2"}),
        tiktok_row(**{"Order ID": "2", "Seller SKU": "MUG-2", "SKU ID": "2"}),
    )

    # When the file is imported, then the order with MUG-2 is refused, naming the SKU, and nothing is written
    result = run(funded_store, data)

    assert messages(result) == [
        "row 4: Seller SKU: Product MUG-2 is banned from sale until 2025-03-16 12:00 (late dispatch)."
    ]
    assert (result.created, result.written) == (0, False)
    assert state() == (0, 0, 0, 0)

    # When it is imported skipping refused orders, then the other order goes in and order 2 is in the error file
    errors_out = io.StringIO()
    result = run(funded_store, data, skip_invalid=True, errors_out=errors_out)

    assert (result.created, result.refused, result.refused_lines) == (1, 1, 2)
    assert list(Order.objects.values_list("order_no", flat=True)) == ["576461413038785752"]
    refused = list(csv.reader(io.StringIO(errors_out.getvalue())))[1:]
    assert [(row[0], row[-1]) for row in refused] == [
        ("2", "not imported: row 4 of the same order was refused"),
        ("2", "Seller SKU: Product MUG-2 is banned from sale until 2025-03-16 12:00 (late dispatch)."),
    ]


def test_a_lifted_or_ended_ban_no_longer_refuses(funded_store, listings):
    sanction_impose(
        store=funded_store,
        kind="product_ban",
        listing=listings["MUG-2"],
        reason="late",
        starts_at=datetime(2025, 3, 1, 12, 0, tzinfo=SHANGHAI),
        ends_at=datetime(2025, 3, 8, 12, 0, tzinfo=SHANGHAI),
    )

    result = run(funded_store, tiktok_csv(tiktok_row(**{"Seller SKU": "MUG-2"})))

    assert (result.error_count, result.created) == (0, 1)


def test_the_import_leaves_the_interpreters_switch_interval_as_it_was(funded_store, listings):
    before = sys.getswitchinterval()

    run(funded_store, tiktok_csv(tiktok_row()))
    with pytest.raises(OrderImportError):
        run(funded_store, b"not, an, order, export\n1,2,3,4\n")

    assert sys.getswitchinterval() == before


# --- Orders the store already has ----------------------------------------------------------------------------


def test_importing_the_same_file_again_changes_nothing(funded_store, listings):
    data = tiktok_csv(
        tiktok_row(),
        tiktok_row(**{"Order ID": "2", "Order Status": "Shipped", "Tracking ID": "SF1234567890123",
                      "Shipping Provider Name": "顺丰速运", "Shipped Time": "2025-03-02 09:00"}),
    )  # fmt: skip
    run(funded_store, data)
    before = state()

    result = run(funded_store, data)

    assert (result.created, result.updated, result.skipped, result.error_count) == (0, 0, 2, 0)
    assert state() == before == (2, 2, 3, 1)


def test_update_moves_orders_forward_to_the_files_status(funded_store, listings):
    run(funded_store, tiktok_csv(tiktok_row(), tiktok_row(**{"Order ID": "2"})))
    later = tiktok_csv(
        tiktok_row(**{"Order Status": "Delivered", "Tracking ID": "SF1234567890123", "Shipping Provider Name": "sf",
                      "Shipped Time": "2025-03-02 09:00", "Delivered Time": "2025-03-03 18:00"}),
        tiktok_row(**{"Order ID": "2"}),
    )  # fmt: skip

    result = run(funded_store, later, update_existing=True)

    assert (result.created, result.updated, result.skipped, result.error_count) == (0, 1, 1, 0)
    order = Order.objects.get(order_no="576461413038785752")
    assert (order.status, order.dispatched_at, order.delivered_at) == (
        "delivered",
        datetime(2025, 3, 2, 9, 0, tzinfo=SHANGHAI),
        datetime(2025, 3, 3, 18, 0, tzinfo=SHANGHAI),
    )
    assert (order.shipment.tracking_no, order.shipment.first_pickup_at) == (
        "SF1234567890123",
        datetime(2025, 3, 2, 9, 0, tzinfo=SHANGHAI),
    )
    assert [e.kind for e in order.events.all()] == ["paid", "shipped", "delivered"]
    assert Order.objects.get(order_no="2").status == "paid"


def test_update_never_moves_an_order_back(funded_store, listings):
    shipped = tiktok_row(**{"Order Status": "Shipped", "Tracking ID": "SF1234567890123",
                            "Shipping Provider Name": "sf", "Shipped Time": "2025-03-02 09:00"})  # fmt: skip
    run(funded_store, tiktok_csv(shipped))
    before = state()

    result = run(
        funded_store, tiktok_csv(tiktok_row(), tiktok_row(**{"Order ID": "2"})), update_existing=True
    )

    assert messages(result) == [
        "row 2: Order Status: order 576461413038785752 is already shipped here; it cannot become awaiting dispatch"
    ]
    assert (result.created, result.updated) == (0, 0)
    assert state() == before  # the new order 2 was rolled back with the rest


# --- Rows and files that are refused ------------------------------------------------------------------------


def test_unknown_sku_and_bad_quantities_are_refused_and_nothing_is_written(funded_store, listings):
    data = tiktok_csv(
        tiktok_row(),
        tiktok_row(**{"Order ID": "2", "Seller SKU": "NOPE"}),
        tiktok_row(**{"Order ID": "3", "Quantity": "0"}),
        tiktok_row(**{"Order ID": "4", "Quantity": "-2"}),
        tiktok_row(**{"Order ID": "5", "Quantity": "1.5"}),
    )

    result = run(funded_store, data)

    assert messages(result) == [
        "row 3: Seller SKU: unknown SKU NOPE: no listing of this store has it",
        "row 4: Quantity: must be at least 1; got 0",
        "row 5: Quantity: must be at least 1; got -2",
        "row 6: Quantity: 1.5 is not a whole number",
    ]
    assert result.written is False
    assert state() == (0, 0, 0, 0)


def test_a_shipped_order_needs_a_known_carrier_and_a_valid_tracking_number(funded_store, listings):
    data = tiktok_csv(
        tiktok_row(**{"Order Status": "Shipped"}),
        tiktok_row(**{"Order ID": "2", "Order Status": "Shipped", "Shipping Provider Name": "Pigeon Post",
                      "Tracking ID": "123"}),
        tiktok_row(**{"Order ID": "3", "Order Status": "Shipped", "Shipping Provider Name": "SF Express",
                      "Tracking ID": "123"}),
    )  # fmt: skip

    result = run(funded_store, data)

    assert messages(result) == [
        "row 2: Shipping Provider Name: required for a shipped order",
        "row 2: Tracking ID: required for a shipped order",
        "row 3: Shipping Provider Name: unknown carrier Pigeon Post "
        "(use one of: ems, fedex, jd, jt, sf, sto, ups, usps, yto, yunda, zto)",
        "row 4: Tracking ID: 123 is not a SF Express tracking number (e.g. SF1234567890123).",
    ]


def test_a_missing_required_column_is_named(funded_store, listings):
    header = [c for c in TIKTOK_HEADER if c not in ("Quantity", "Paid Time")]

    with pytest.raises(OrderImportError) as refused:
        run(funded_store, tiktok_csv(tiktok_row(), header=header))

    assert refused.value.messages == [
        "Missing required column(s) for a TikTok Shop file: Quantity, Paid Time."
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b" \r\n\r\n", "The file is empty."),
        (tiktok_csv(), "The file has a header row but no order lines."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "This is not a spreadsheet: upload a CSV (UTF-8 or GB18030) or an XLSX file."),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
         "This is an old Excel .xls file: save it as .xlsx or as CSV (UTF-8) and upload that."),
        (b"PK\x03\x04garbage", "The XLSX file could not be opened (BadZipFile); save it again from Excel or as CSV."),
        (b"name,price\nfoo,1\n", "The first row is not the header of an order export we know. Upload a "
         "TikTok Shop order export (Order ID, Seller SKU, …), a Douyin order export (主订单编号, 商家编码, …) or our "
         "import template (order_no, sku, …)."),
    ],
)  # fmt: skip
def test_a_file_that_is_not_an_order_export_is_refused(funded_store, listings, data, message):
    with pytest.raises(OrderImportError) as refused:
        run(funded_store, data)

    assert refused.value.messages == [message]


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(funded_store, listings, settings):
    settings.ORDER_IMPORT_MAX_BYTES = 1024 * 1024
    data = tiktok_csv(tiktok_row()) + b" " * (1024 * 1024)

    with pytest.raises(OrderImportError) as refused:
        run(funded_store, data)

    assert refused.value.messages == ["The file is 1.0 MB; the limit is 1 MB. Split it into smaller files."]


def test_a_store_that_may_not_take_orders_imports_nothing(funded_store, listings):
    type(funded_store).objects.filter(pk=funded_store.pk).update(status="suspended")
    funded_store.refresh_from_db()

    with pytest.raises(OrderImportError) as refused:
        run(funded_store, tiktok_csv(tiktok_row()))

    assert refused.value.messages == [
        "The store may not take new orders at the moment, so it cannot import them."
    ]


def test_skip_invalid_imports_the_good_orders_and_returns_the_refused_rows(funded_store, listings):
    data = tiktok_csv(
        tiktok_row(),
        tiktok_row(**{"Order ID": "2"}),
        tiktok_row(**{"Order ID": "2", "Seller SKU": "NOPE"}),
        tiktok_row(**{"Order ID": "3", "Phone #": "=cmd|' /C calc'!A0"}),
    )
    out = io.StringIO()

    result = run(funded_store, data, skip_invalid=True, errors_out=out)

    assert (result.created, result.refused, result.refused_lines, result.error_count) == (1, 2, 3, 2)
    assert list(Order.objects.values_list("order_no", flat=True)) == ["576461413038785752"]
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == [*TIKTOK_HEADER, "error"]
    assert [(r[0], r[4], r[-1]) for r in rows[1:]] == [
        ("2", "TOWEL-1", "not imported: row 4 of the same order was refused"),
        ("2", "NOPE", "Seller SKU: unknown SKU NOPE: no listing of this store has it"),
        ("3", "TOWEL-1", "Phone #: =cmd|' /C calc'!A0 is not a phone number"),
    ]


def test_a_dry_run_counts_and_writes_nothing(funded_store, listings):
    run(funded_store, tiktok_csv(tiktok_row()))
    before = state()

    result = run(funded_store, tiktok_csv(tiktok_row(), tiktok_row(**{"Order ID": "2"})), dry_run=True)

    assert (result.created, result.skipped, result.written) == (1, 1, False)
    assert state() == before


def test_progress_is_reported_for_both_passes(funded_store, listings, monkeypatch):
    monkeypatch.setattr("orders.imports.PROGRESS_EVERY", 2)
    calls = []
    data = tiktok_csv(*[tiktok_row(**{"Order ID": str(i)}) for i in range(1, 5)])

    run(funded_store, data, progress=lambda **kw: calls.append((kw["phase"], kw["done"] == kw["total"])))

    assert [phase for phase, _end in calls] == ["check", "check", "write", "write", "write"]
    assert calls[-1] == ("write", True)


# --- The command ----------------------------------------------------------------------------------------------


def test_command_imports_a_file(funded_store, listings, tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_bytes(tiktok_csv(tiktok_row(), tiktok_row(**{"Order ID": "2"})))

    call_command("import_orders", str(path), "--store", funded_store.code)

    out = capsys.readouterr().out
    assert "2 line(s), 2 order(s) (tiktok): 2 were created, 0 were updated, 0 already imported" in out
    assert Order.objects.count() == 2


def test_command_exits_1_with_the_row_errors_and_writes_nothing(funded_store, listings, tmp_path, capsys):
    path = tmp_path / "orders.csv"
    rows = [
        tiktok_row(**{"Order ID": str(i), "Seller SKU": "NOPE" if i % 2 else "TOWEL-1"}) for i in range(120)
    ]
    path.write_bytes(tiktok_csv(*rows))

    with pytest.raises(CommandError) as failed:
        call_command("import_orders", str(path), "--store", funded_store.code)

    assert failed.value.returncode == 1
    assert str(failed.value) == "60 problem(s) in the file; nothing was written."
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "row 3: Seller SKU: unknown SKU NOPE: no listing of this store has it"
    assert len(err) == 51
    assert err[-1] == "... and 10 more"
    assert state() == (0, 0, 0, 0)


def test_command_skip_invalid_writes_the_error_file(funded_store, listings, tmp_path, capsys):
    path, errors = tmp_path / "orders.csv", tmp_path / "errors.csv"
    path.write_bytes(tiktok_csv(tiktok_row(), tiktok_row(**{"Order ID": "2", "Quantity": "0"})))

    with pytest.raises(CommandError) as failed:
        call_command(
            "import_orders",
            str(path),
            "--store",
            funded_store.code,
            "--skip-invalid",
            "--errors-out",
            str(errors),
        )

    assert failed.value.returncode == 1
    assert Order.objects.count() == 1
    text = errors.read_bytes().decode("utf-8-sig")
    assert text.splitlines()[1].endswith(",Quantity: must be at least 1; got 0")


def test_command_refuses_an_unknown_store_and_an_unreadable_file(funded_store, tmp_path):
    with pytest.raises(CommandError, match="No store with code 'NOPE'"):
        call_command("import_orders", str(tmp_path / "x.csv"), "--store", "NOPE")
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_orders", str(tmp_path / "x.csv"), "--store", funded_store.code)


def test_imported_orders_carry_what_order_build_computes(funded_store, listings):
    """The import writes rows without model instances: its deadline, fee, digest and lines must be
    order_build's for the same order (a new store's rate included)."""
    from orders.services import LineData, OrderRules, RecipientData, order_build

    funded_store.opened_on = datetime(2025, 2, 20).date()  # 9 days old at payment: the new-store rate
    funded_store.save(update_fields=["opened_on"])
    row = tiktok_row(**{"Paid Time": "2025-03-01 16:30:00", "Order Amount": "55.00", "Quantity": "2"})
    mug = tiktok_row(**{"Paid Time": "2025-03-01 16:30:00", "Order Amount": "55.00", "Seller SKU": "MUG-2",
                        "SKU ID": "2", "SKU Unit Original Price": "12.50"})  # fmt: skip
    run(funded_store, tiktok_csv(row, mug))

    expected, expected_lines = order_build(
        store=funded_store,
        order_no="576461413038785752",
        paid_at=datetime(2025, 3, 1, 16, 30, tzinfo=SHANGHAI),
        amount_paid=Decimal("55.00"),
        lines=[
            LineData(sku="TOWEL-1", title="Cotton towel Blue", quantity=2, unit_price=Decimal("39.90"),
                     promised_dispatch="48h", listing=listings["TOWEL-1"]),
            LineData(sku="MUG-2", title="Cotton towel Blue", quantity=1, unit_price=Decimal("12.50"),
                     promised_dispatch="24h", listing=listings["MUG-2"]),
        ],
        recipient=RecipientData(name="张三", phone="13812345678", region="浙江省 杭州市", address="文三路 123 号"),
        is_advertising=False,
        fulfilment="seller",
        buyer_message="",
        rules=OrderRules.current(),
    )  # fmt: skip
    order = Order.objects.get()
    assert (order.dispatch_deadline, order.service_fee, order.address_digest) == (
        expected.dispatch_deadline,
        expected.service_fee,
        expected.address_digest,
    )
    assert order.service_fee == Decimal("0.55")  # 1 % for the store's first 30 days
    assert [
        (x.sku, x.quantity, x.unit_price, x.service_fee_rate, x.promised_dispatch) for x in order.lines.all()
    ] == [(x.sku, x.quantity, x.unit_price, x.service_fee_rate, x.promised_dispatch) for x in expected_lines]


# --- Settlement: imported completed orders book what a confirmed receipt books ---------------------------


def settlement_rows(store):
    from merchants.models import SettlementEntry

    return sorted(
        SettlementEntry.objects.filter(store=store).values_list(
            "cause_key", "kind", "amount", "available_at", "released_at", "reason"
        )
    )


COMPLETED = {
    "Order Status": "Completed",
    "Tracking ID": "SF1234567890123",
    "Shipping Provider Name": "SF Express",
    "Shipped Time": "2025-03-02 09:00:00",
    "Delivered Time": "2025-03-04 15:30:00",
}


def test_a_completed_order_books_its_income_and_fee_once(funded_store, listings):
    data = tiktok_csv(tiktok_row(**COMPLETED), tiktok_row(**{"Order ID": "2"}))

    run(funded_store, data)
    run(funded_store, data)  # again: nothing more

    order = Order.objects.get(order_no="576461413038785752")
    assert (order.status, order.completed_at) == ("completed", datetime(2025, 3, 4, 15, 30, tzinfo=SHANGHAI))
    withdrawable_from = datetime(2025, 3, 7, 15, 30, tzinfo=SHANGHAI)  # receipt + 3 days (rule table)
    assert settlement_rows(funded_store) == [
        (f"order:{order.pk}:fee", "service_fee", Decimal("-2.00"), withdrawable_from, None, order.order_no),
        (
            f"order:{order.pk}:income",
            "order_income",
            Decimal("39.90"),
            withdrawable_from,
            None,
            order.order_no,
        ),
    ]


def test_the_settlement_of_an_imported_order_is_that_of_a_confirmed_receipt(funded_store, listings):
    """The same order completed through the services books the same rows (ids aside)."""
    from merchants.models import SettlementEntry
    from orders.services import order_confirm_receipt

    run(funded_store, tiktok_csv(tiktok_row(**{**COMPLETED, "Order Status": "Delivered"})))
    delivered = Order.objects.get()
    order_confirm_receipt(order=delivered, now=datetime(2025, 3, 4, 15, 30, tzinfo=SHANGHAI))
    by_service = settlement_rows(funded_store)
    SettlementEntry.objects.all().delete()
    Order.objects.all().delete()

    run(funded_store, tiktok_csv(tiktok_row(**COMPLETED)))

    imported = Order.objects.get()
    assert [row[1:] for row in settlement_rows(funded_store)] == [row[1:] for row in by_service]
    assert [row[0] for row in settlement_rows(funded_store)] == [
        f"order:{imported.pk}:fee",
        f"order:{imported.pk}:income",
    ]


def test_update_to_completed_books_the_settlement(funded_store, listings):
    run(funded_store, tiktok_csv(tiktok_row()))

    result = run(funded_store, tiktok_csv(tiktok_row(**COMPLETED)), update_existing=True)

    order = Order.objects.get()
    assert (result.updated, order.status) == (1, "completed")
    assert [(key, amount) for key, _kind, amount, *_rest in settlement_rows(funded_store)] == [
        (f"order:{order.pk}:fee", Decimal("-2.00")),
        (f"order:{order.pk}:income", Decimal("39.90")),
    ]


def test_a_refused_import_books_no_settlement(funded_store, listings):
    data = tiktok_csv(tiktok_row(**COMPLETED), tiktok_row(**{"Order ID": "2", "Seller SKU": "NOPE"}))

    result = run(funded_store, data)

    assert (result.error_count, state(), settlement_rows(funded_store)) == (1, (0, 0, 0, 0), [])


# --- Waybills: a tracking number is not reused for another address (RULES §4) ---------------------------

SHIPPED = {
    "Order Status": "Shipped",
    "Tracking ID": "SF1234567890123",
    "Shipping Provider Name": "SF Express",
    "Shipped Time": "2025-03-02 09:00:00",
}
ELSEWHERE = {"Recipient": "李四", "State": "上海市", "City": "上海市", "Detail Address": "世纪大道 1 号"}


def test_a_waybill_two_orders_of_the_file_give_to_different_addresses_is_refused(
    funded_store, listings, monkeypatch
):
    monkeypatch.setattr("orders.imports.CHUNK_ORDERS", 1)  # each order its own chunk: the check spans them
    data = tiktok_csv(
        tiktok_row(**SHIPPED),
        tiktok_row(**{"Order ID": "2"}),
        tiktok_row(**{**SHIPPED, **ELSEWHERE, "Order ID": "3", "Tracking ID": "sf 1234-5678-90123"}),
    )

    result = run(funded_store, data)

    assert messages(result) == [
        "row 4: Tracking ID: SF1234567890123 is already the waybill of order 576461413038785752 in row 2, "
        "to a different address; a waybill cannot be reused."
    ]
    assert state() == (0, 0, 0, 0)


def test_orders_to_one_address_may_share_a_waybill(funded_store, listings):
    data = tiktok_csv(
        tiktok_row(**SHIPPED), tiktok_row(**{**SHIPPED, "Order ID": "2", "Recipient": "张三丰"})
    )

    result = run(funded_store, data)

    assert (result.created, result.error_count) == (2, 0)
    assert list(Shipment.objects.values_list("tracking_no", flat=True)) == ["SF1234567890123"] * 2


def test_a_waybill_the_store_shipped_to_another_address_is_refused(funded_store, listings):
    from orders.services import order_ship
    from tests.orders.factories import carrier, make_order

    shipped = make_order(funded_store, sku="TOWEL-1")
    order_ship(order=shipped, carrier=carrier("sf"), tracking_no="SF1234567890123")
    before = state()
    data = tiktok_csv(tiktok_row(**{**SHIPPED, **ELSEWHERE}), tiktok_row(**{"Order ID": "2"}))

    result = run(funded_store, data)

    assert messages(result) == [
        "row 2: Tracking ID: SF1234567890123 was already used for another order to a different address; "
        "a waybill cannot be reused."
    ]
    assert state() == before

    out = io.StringIO()
    result = run(funded_store, data, skip_invalid=True, errors_out=out)

    assert (result.created, result.refused, result.error_count) == (1, 1, 1)
    assert Order.objects.filter(order_no="2").exists()
    assert not Order.objects.filter(order_no="576461413038785752").exists()
    assert list(csv.reader(io.StringIO(out.getvalue())))[1][-1] == (
        "Tracking ID: SF1234567890123 was already used for another order to a different address; "
        "a waybill cannot be reused."
    )


def test_update_refuses_a_waybill_used_for_another_address(funded_store, listings):
    from orders.services import order_ship
    from tests.orders.factories import carrier, make_order

    run(funded_store, tiktok_csv(tiktok_row()))
    other = make_order(funded_store, sku="TOWEL-1")  # to the factories' recipient, not to 李四
    order_ship(order=other, carrier=carrier("sf"), tracking_no="SF1234567890123")

    result = run(funded_store, tiktok_csv(tiktok_row(**{**SHIPPED, **ELSEWHERE})), update_existing=True)

    assert result.updated == 0
    assert messages(result) == [
        "row 2: Tracking ID: SF1234567890123 was already used for another order to a different address; "
        "a waybill cannot be reused."
    ]
    assert Order.objects.get(order_no="576461413038785752").status == "paid"


def test_the_error_file_is_formula_safe_and_imports_again_once_fixed(funded_store, listings):
    data = tiktok_csv(
        tiktok_row(**{"Seller SKU": "NOPE", "Phone #": "+86 138 1234 5678", "Buyer Message": "=1+2"}),
        tiktok_row(**{"Order ID": "2", "Phone #": "=cmd|' /C calc'!A0"}),
    )
    out = io.StringIO()

    result = run(funded_store, data, skip_invalid=True, errors_out=out)

    assert (result.created, result.refused) == (0, 2)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    header = rows[0]
    first, second = (dict(zip(header, row, strict=True)) for row in rows[1:])
    assert (first["Order ID"], first["Phone #"], first["Buyer Message"]) == (
        "\t576461413038785752",  # kept as text when a spreadsheet opens it
        "'+86 138 1234 5678",
        "'=1+2",
    )
    assert second["Phone #"] == "'=cmd|' /C calc'!A0"

    # the seller fixes the SKU and the phone in the file and uploads it again, apostrophes and all
    first["Seller SKU"], second["Phone #"] = "TOWEL-1", "13900000000"
    fixed = io.StringIO()
    writer = csv.writer(fixed, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[row[column] for column in header] for row in (first, second)])

    result = run(funded_store, fixed.getvalue().encode())

    assert (result.created, result.error_count) == (2, 0)
    order = Order.objects.get(order_no="576461413038785752")
    assert (order.recipient_phone, order.buyer_message) == ("+8613812345678", "=1+2")


def test_binary_data_past_the_first_kilobytes_is_refused_with_its_line(funded_store, listings):
    """The first 4 KB are sniffed for binary data; a NUL further down (which PostgreSQL's text cannot
    hold) is found while the file is read, and nothing is written."""
    rows = [tiktok_row(**{"Order ID": str(i)}) for i in range(1, 40)]
    rows.append(tiktok_row(**{"Order ID": "40", "Product Name": "Tow\x00el"}))
    data = tiktok_csv(*rows)
    assert len(data) > 4096 and b"\x00" not in data[:4096]

    with pytest.raises(OrderImportError) as refused:
        run(funded_store, data)

    assert refused.value.messages == [
        "The file has binary data (a NUL character) in line 41: it is not a text export. Save it again as "
        "UTF-8 CSV or as XLSX."
    ]
    assert state() == (0, 0, 0, 0)


# --- Douyin: an order of several lines (子订单), and a line given twice --------------------------------------


def douyin_csv(*rows):
    return "\r\n".join(",".join(row) for row in [DOUYIN_HEADER, *rows]).encode("utf-8")


def douyin_line(sub_order: str, sku: str, quantity: str = "1", price: str = "39.90"):
    return [
        "6920000000000000001", sub_order, sku, "纯棉浴巾", quantity, price, "59.80", "李四", "13900000000",
        "上海市", "上海市", "浦东新区", "世纪大道 1 号", "2025/03/01 09:00", "2025/03/01 09:01", "", "",
        "待发货", "",
    ]  # fmt: skip


def test_a_douyin_order_of_several_sub_orders_is_one_order(funded_store, listings):
    data = douyin_csv(
        douyin_line("69200000000000000011", "TOWEL-1"),
        douyin_line("69200000000000000012", "MUG-2", quantity="2", price="9.95"),
    )

    result = run(funded_store, data)

    assert (result.lines, result.orders, result.created, result.error_count) == (2, 1, 1, 0)
    order = Order.objects.get()
    assert order.amount_paid == Decimal("59.80")
    assert [(x.sku, x.quantity, x.unit_price) for x in order.lines.all()] == [
        ("TOWEL-1", 1, Decimal("39.90")),
        ("MUG-2", 2, Decimal("9.95")),
    ]


def test_a_douyin_sub_order_given_twice_is_a_duplicate_line(funded_store, listings):
    data = douyin_csv(
        douyin_line("69200000000000000011", "TOWEL-1"),
        douyin_line("69200000000000000011", "TOWEL-1"),
    )

    result = run(funded_store, data)

    assert messages(result) == [
        "row 3: 子订单编号: duplicate line: row 2 of order 6920000000000000001 has the same product"
    ]
    assert state() == (0, 0, 0, 0)


# --- The command's other options, and imported orders on screen ----------------------------------------------


def test_command_dry_run_checks_and_writes_nothing(funded_store, listings, tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_bytes(tiktok_csv(tiktok_row(), tiktok_row(**{"Order ID": "2"})))

    call_command("import_orders", str(path), "--store", funded_store.code, "--dry-run")

    out = capsys.readouterr().out
    assert "2 line(s), 2 order(s) (tiktok): 2 would be created" in out
    assert state() == (0, 0, 0, 0)


def test_command_update_moves_imported_orders_forward(funded_store, listings, tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_bytes(tiktok_csv(tiktok_row()))
    call_command("import_orders", str(path), "--store", funded_store.code)
    path.write_bytes(tiktok_csv(tiktok_row(**SHIPPED)))

    call_command("import_orders", str(path), "--store", funded_store.code, "--update")

    assert "0 were created, 1 were updated" in capsys.readouterr().out
    assert Order.objects.get().status == "shipped"


def test_an_imported_order_is_masked_on_the_sellers_pages(funded_store, listings, client):
    from django.urls import reverse

    from tests.merchants.factories import MembershipFactory

    run(funded_store, tiktok_csv(tiktok_row()))
    order = Order.objects.get()
    client.force_login(MembershipFactory(store=funded_store, role="owner").user)

    listed = client.get(reverse("order-list", args=[funded_store.code])).content.decode()
    detail = client.get(reverse("order-detail", args=[funded_store.code, order.pk])).content.decode()

    assert order.recipient_name == "张三"  # stored (encrypted) as the file gave it
    assert "张**" in detail and "138****5678" in detail and "浙江省 杭州市 ****" in detail
    for html in (listed, detail):
        assert "张三" not in html and "13812345678" not in html and "文三路" not in html


# --- The update option corrects a shipment the carrier has not scanned yet --------------------------------


def test_update_corrects_the_waybill_of_an_order_not_scanned_yet(funded_store, listings, client):
    run(funded_store, tiktok_csv(tiktok_row(**SHIPPED)))
    corrected = tiktok_row(
        **{**SHIPPED, "Tracking ID": "JT0001112223334", "Shipping Provider Name": "J&T Express"}
    )

    assert run(funded_store, tiktok_csv(corrected)).skipped == 1  # without the option: left as it is
    result = run(funded_store, tiktok_csv(corrected), update_existing=True)

    assert (result.updated, result.skipped, result.error_count) == (1, 0, 0)
    order = Order.objects.get()
    assert (order.status, order.shipment.carrier.code, order.shipment.tracking_no) == (
        "shipped",
        "jt",
        "JT0001112223334",
    )
    event = order.events.get(kind="tracking_corrected")
    assert (event.from_status, event.to_status, event.data, event.created_at) == (
        "shipped",
        "shipped",
        {"before": {"carrier": "sf", "tracking_no": "SF1234567890123"}, "carrier": "jt",
         "tracking_no": "JT0001112223334"},
        NOW,
    )  # fmt: skip
    assert run(funded_store, tiktok_csv(corrected), update_existing=True).skipped == 1  # once
    from django.urls import reverse

    from tests.merchants.factories import MembershipFactory

    client.force_login(MembershipFactory(store=funded_store, role="owner").user)
    page = client.get(reverse("order-detail", args=[funded_store.code, order.pk])).content.decode()
    assert 'tracking number corrected <small class="muted">SF1234567890123 → JT0001112223334</small>' in page


def test_update_keeps_the_waybill_of_a_scanned_parcel_and_moves_the_status_on(funded_store, listings):
    delivered = {**SHIPPED, "Order Status": "Delivered", "Delivered Time": "2025-03-04 15:30:00"}
    run(funded_store, tiktok_csv(tiktok_row(**delivered)))

    result = run(
        funded_store,
        tiktok_csv(
            tiktok_row(**{**delivered, "Order Status": "Completed", "Tracking ID": "SF9999999999999"})
        ),
        update_existing=True,
    )

    assert (result.updated, result.error_count) == (1, 0)
    order = Order.objects.get()
    assert (order.status, order.shipment.tracking_no) == ("completed", "SF1234567890123")
    assert not order.events.filter(kind="tracking_corrected").exists()


def test_a_reused_waybill_is_refused_on_its_own_row_whatever_the_chunks(funded_store, listings, monkeypatch):
    """PostgreSQL writes each chunk in a thread and hears of its refusals while the next chunk is built: the
    refusal must land on the row it belongs to."""
    from orders.services import order_ship
    from tests.orders.factories import carrier, make_order

    monkeypatch.setattr("orders.imports.CHUNK_ORDERS", 1)
    order_ship(
        order=make_order(funded_store, sku="TOWEL-1"), carrier=carrier("sf"), tracking_no="SF1234567890123"
    )
    data = tiktok_csv(
        tiktok_row(**{"Order ID": "1"}),
        tiktok_row(**{**SHIPPED, **ELSEWHERE, "Order ID": "2"}),
        tiktok_row(**{"Order ID": "3"}),
        tiktok_row(**{"Order ID": "4"}),
    )
    out = io.StringIO()

    result = run(funded_store, data, skip_invalid=True, errors_out=out)

    assert (result.created, result.refused, messages(result)) == (
        3,
        1,
        [
            "row 3: Tracking ID: SF1234567890123 was already used for another order to a different address; "
            "a waybill cannot be reused."
        ],
    )
    assert sorted(
        Order.objects.filter(order_no__in=["1", "2", "3", "4"]).values_list("order_no", flat=True)
    ) == [
        "1",
        "3",
        "4",
    ]
    assert [row[0] for row in csv.reader(io.StringIO(out.getvalue()))][1:] == ["2"]


def test_a_refused_row_does_not_claim_its_waybill(funded_store, listings):
    data = tiktok_csv(
        tiktok_row(**{**SHIPPED, "Seller SKU": "NOPE"}),  # refused: unknown SKU
        tiktok_row(**{**SHIPPED, **ELSEWHERE, "Order ID": "2"}),
    )

    result = run(funded_store, data, skip_invalid=True, errors_out=io.StringIO())

    assert (result.created, result.refused) == (1, 1)
    assert messages(result) == ["row 2: Seller SKU: unknown SKU NOPE: no listing of this store has it"]
