"""Bulk import of orders from the exports sellers bring: TikTok Shop, Douyin, or our own template.

One path for every caller (the `import_orders` command, the seller page's job, the admin): `orders_import`.

- **Formats** are told apart by their header row. A TikTok Shop export may carry a second row of column
  descriptions, which is skipped. One row is one order line; lines are grouped by order ID wherever they
  stand in the file.
- **Two streaming passes**, so a million lines never sit in memory: the first checks every row and the
  agreement of each order's lines, keeping per order only its first and last line and short fingerprints of
  its first line; the second reads again, holds each order until its last line, and writes complete orders
  in chunks (COPY on PostgreSQL) in one transaction. Without `skip_invalid` the second pass does not run
  when any row is refused: nothing is written.
- **Cells** are cleaned of what exports and spreadsheets do to them: a leading tab or `=""` wrapper, `¥`,
  `$` and thousands separators, three time formats (read in the store's time zone), order IDs that a
  spreadsheet turned into `6.91E+18`, phone numbers that lost their leading 0 or `+`.
- **Orders** are built by `order_build` (deadline from the paid time and the listings' promises, fee by
  the category rates), moved to their imported status by the model's transitions, with an event row per
  step, as `order_create` and `order_ship` write them. An order the store already has is left alone
  (re-importing a file changes nothing) or, with `update_existing`, moved forward to the file's status.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import sys
import threading
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchants.bulkwrite import copy_escape as _copy_escape
from merchants.bulkwrite import copy_text, insert_rows, reserve_ids
from merchants.errors import DomainError
from merchants.models import Listing, SettlementEntry, Store
from merchants.selectors import banned_skus, rule_int
from merchants.spreadsheets import EncodingChanged, RowError, SpreadsheetError, TableFile, formula_safe
from orders.crypto import FieldCipher, digest
from orders.models import Carrier, Fulfilment, Order, OrderEvent, OrderLine, OrderStatus, Shipment
from orders.rules import (
    FeeLine,
    line_dispatch_deadline,
    order_dispatch_deadline,
    order_settlement,
    service_fee,
)
from orders.services import (
    SETTLEMENT_KINDS,
    OrderRules,
    RecipientData,
    _store_time_text,
    normalise_tracking_no,
    order_settle,
    shipment_correct,
    tracking_problem,
    waybill_reused_message,
)

# The web upload's limit (the command lifts it); a million-line export is about 300 MB of CSV.
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
MAX_KEPT_ERRORS = 1000  # row errors kept in the result; the count covers them all
CHUNK_ORDERS = 2000  # orders written per round
PROGRESS_EVERY = 10_000  # lines between two progress calls
WRITER_SWITCH_INTERVAL = 0.0005  # seconds: the GIL switch interval while a thread writes (see `_Writer.run`)
# A time more than this ahead of our clock is refused (exports are written in the past).
CLOCK_TOLERANCE = timedelta(hours=1)
UNPAID = "unpaid"  # a status that means the order was never paid: not imported, counted as such


class OrderImportError(SpreadsheetError):
    """The file as a whole cannot be imported (not a table, no known header, a required column missing)."""


# --- Formats ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportFormat:
    code: str
    label: str
    # Our field → the headers that may name it (the first is the one the export or template writes).
    columns: dict[str, tuple[str, ...]]
    required: tuple[str, ...]
    signature: tuple[str, ...]  # fields whose headers tell this format apart
    statuses: dict[str, str]  # the file's status text, case-folded → our status (or UNPAID)


_OUR_STATUSES = {
    **{value: value for value in OrderStatus.values if value != OrderStatus.REFUNDED},
    "awaiting dispatch": OrderStatus.PAID,
    "awaiting shipment": OrderStatus.PAID,
}

TIKTOK = ImportFormat(
    code="tiktok",
    label="TikTok Shop",
    columns={
        "order_no": ("Order ID",),
        "status": ("Order Status",),
        "sku": ("Seller SKU",),
        "title": ("Product Name",),
        "variation": ("Variation",),
        "quantity": ("Quantity",),
        "unit_price": ("SKU Unit Original Price",),
        "amount_paid": ("Order Amount",),
        "created_at": ("Created Time",),
        "paid_at": ("Paid Time",),
        "shipped_at": ("Shipped Time",),
        "delivered_at": ("Delivered Time",),
        "cancelled_at": ("Cancelled Time",),
        "fulfilment": ("Fulfillment Type",),
        "tracking_no": ("Tracking ID",),
        "carrier": ("Shipping Provider Name",),
        "buyer_message": ("Buyer Message",),
        "name": ("Recipient",),
        "phone": ("Phone #",),
        "country": ("Country",),
        "province": ("State",),
        "city": ("City",),
        "district": ("Districts", "District"),
        "address": ("Detail Address",),
    },
    required=(
        "order_no",
        "status",
        "sku",
        "quantity",
        "unit_price",
        "amount_paid",
        "paid_at",
        "name",
        "phone",
        "province",
        "city",
        "address",
    ),
    signature=("order_no", "sku", "status"),
    statuses={
        "unpaid": UNPAID,
        "awaiting shipment": OrderStatus.PAID,
        "awaiting collection": OrderStatus.PAID,
        "to ship": OrderStatus.PAID,
        "in transit": OrderStatus.SHIPPED,
        "shipped": OrderStatus.SHIPPED,
        "delivered": OrderStatus.DELIVERED,
        "completed": OrderStatus.COMPLETED,
        "cancelled": OrderStatus.CANCELLED,
        "canceled": OrderStatus.CANCELLED,
    },
)

DOUYIN = ImportFormat(
    code="douyin",
    label="Douyin",
    columns={
        "order_no": ("主订单编号",),
        "line_id": ("子订单编号",),
        "sku": ("商家编码",),
        "title": ("选购商品",),
        "quantity": ("商品数量",),
        "unit_price": ("商品单价",),
        "amount_paid": ("订单应付金额",),
        "name": ("收件人",),
        "phone": ("收件人手机号",),
        "province": ("省",),
        "city": ("市",),
        "district": ("区",),
        "address": ("详细地址",),
        "created_at": ("订单提交时间",),
        "paid_at": ("支付完成时间",),
        "shipped_at": ("发货时间",),
        "delivered_at": ("签收时间",),
        "completed_at": ("完成时间",),
        "cancelled_at": ("取消时间",),
        "carrier": ("快递公司",),
        "tracking_no": ("快递单号",),
        "status": ("订单状态",),
        "buyer_message": ("买家留言",),
    },
    required=(
        "order_no",
        "sku",
        "quantity",
        "unit_price",
        "amount_paid",
        "name",
        "phone",
        "province",
        "city",
        "address",
        "paid_at",
        "status",
    ),
    signature=("order_no", "sku"),
    statuses={
        "待支付": UNPAID,
        "待付款": UNPAID,
        "备货中": OrderStatus.PAID,
        "待发货": OrderStatus.PAID,
        "已支付": OrderStatus.PAID,
        "已发货": OrderStatus.SHIPPED,
        "运输中": OrderStatus.SHIPPED,
        "已签收": OrderStatus.DELIVERED,
        "已收货": OrderStatus.DELIVERED,
        "已完成": OrderStatus.COMPLETED,
        "交易成功": OrderStatus.COMPLETED,
        "已取消": OrderStatus.CANCELLED,
        "已关闭": OrderStatus.CANCELLED,
        "交易关闭": OrderStatus.CANCELLED,
    },
)

TEMPLATE = ImportFormat(
    code="template",
    label="template",
    columns={
        "order_no": ("order_no",),
        "status": ("status",),
        "sku": ("sku",),
        "title": ("title",),
        "quantity": ("quantity",),
        "unit_price": ("unit_price",),
        "amount_paid": ("amount_paid",),
        "paid_at": ("paid_at",),
        "name": ("recipient_name",),
        "phone": ("recipient_phone",),
        "province": ("province",),
        "city": ("city",),
        "district": ("district",),
        "address": ("address",),
        "buyer_message": ("buyer_message",),
        "fulfilment": ("fulfilment",),
        "carrier": ("carrier",),
        "tracking_no": ("tracking_no",),
        "shipped_at": ("shipped_at",),
        "delivered_at": ("delivered_at",),
        "completed_at": ("completed_at",),
        "cancelled_at": ("cancelled_at",),
    },
    required=(
        "order_no",
        "sku",
        "quantity",
        "unit_price",
        "amount_paid",
        "paid_at",
        "name",
        "phone",
        "province",
        "city",
        "address",
    ),
    signature=("order_no", "sku", "amount_paid"),
    statuses=_OUR_STATUSES,
)

FORMATS = (TIKTOK, DOUYIN, TEMPLATE)

TEMPLATE_EXAMPLE = {
    "order_no": "ORD-2025-000001",
    "status": "shipped",
    "sku": "TOWEL-70140",
    "title": "Cotton bath towel 70×140 cm",
    "quantity": "2",
    "unit_price": "39.90",
    "amount_paid": "69.80",
    "paid_at": "2025-03-01 10:15:00",
    "recipient_name": "张三",
    "recipient_phone": "13812345678",
    "province": "浙江省",
    "city": "杭州市",
    "district": "西湖区",
    "address": "文三路 123 号 4 幢 501 室",
    "buyer_message": "",
    "fulfilment": "seller",
    "carrier": "sf",
    "tracking_no": "SF1234567890123",
    "shipped_at": "2025-03-01 18:40:00",
    "delivered_at": "",
    "completed_at": "",
    "cancelled_at": "",
}


def order_import_template() -> str:
    """Our own import template as CSV text: the header and one example row (UTF-8; serve it with a BOM
    so that Excel shows the Chinese)."""
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    headers = [names[0] for names in TEMPLATE.columns.values() if names]
    writer.writerow(headers)
    writer.writerow([TEMPLATE_EXAMPLE[h] for h in headers])
    return out.getvalue()


def _header_key(text: str) -> str:
    return " ".join(text.replace("\ufeff", "").split()).casefold()


@dataclass(frozen=True)
class Layout:
    """Where each field stands in this file's rows, and the header text to name it by in errors."""

    format: ImportFormat
    index: dict[str, int]
    header: list[str]

    def column(self, name: str) -> str:
        i = self.index.get(name)
        return self.header[i] if i is not None else self.format.columns[name][0]

    @property
    def blank(self) -> int:
        """The position of the empty cell `normalise` adds: where a column the file lacks is read."""
        return len(self.header)

    def position(self, name: str) -> int:
        return self.index.get(name, self.blank)

    def normalise(self, cells: list[str]) -> list[str]:
        """The row cut or padded to the header, plus the blank cell, each cell cleaned once."""
        width = len(self.header)
        missing = width - len(cells)
        if not missing:
            row = [*cells, ""]
        elif missing < 0:
            row = [*cells[:width], ""]
        else:
            row = [*cells, *[""] * (missing + 1)]
        # Cells come stripped (`TableFile`): only a row with one of these characters can hold a wrapped value.
        joined = "".join(row)
        if "=" in joined or "'" in joined or '"' in joined or "\t" in joined or "\xa0" in joined:
            for i, cell in enumerate(row):
                if cell and (cell[0] in _PROTECTED or cell[-1] in _PROTECTED):
                    row[i] = clean_cell(cell)
        return row


def detect_layout(header: list[str]) -> Layout:
    """The format whose signature columns the header row has; refuses a header of no known format and one
    that lacks a required column (named)."""
    keys = [_header_key(cell) for cell in header]
    positions: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key:
            positions.setdefault(key, i)

    def find(fmt: ImportFormat) -> dict[str, int]:
        found = {}
        for name, headers in fmt.columns.items():
            for text in headers:
                if _header_key(text) in positions:
                    found[name] = positions[_header_key(text)]
                    break
        return found

    candidates = [(fmt, find(fmt)) for fmt in FORMATS]
    matching = [(fmt, found) for fmt, found in candidates if all(s in found for s in fmt.signature)]
    if not matching:
        fmt, found = max(candidates, key=lambda c: sum(s in c[1] for s in c[0].signature))
        if not any(s in found for s in fmt.signature):
            raise OrderImportError(
                _(
                    "The first row is not the header of an order export we know. Upload a TikTok Shop "
                    "order export (Order ID, Seller SKU, …), a Douyin order export (主订单编号, 商家编码, …) or "
                    "our import template (order_no, sku, …)."
                )
            )
        matching = [(fmt, found)]
    fmt, found = max(matching, key=lambda c: len(c[1]))
    missing = [fmt.columns[name][0] for name in fmt.required if name not in found]
    if missing:
        raise OrderImportError(
            _("Missing required column(s) for a %(format)s file: %(missing)s.")
            % {"format": fmt.label, "missing": ", ".join(missing)}
        )
    return Layout(format=fmt, index=found, header=[cell.replace("\ufeff", "").strip() for cell in header])


def _is_description_row(layout: Layout, cells: list[str]) -> bool:
    """TikTok's second header row describes each column in words ("Platform unique order ID.")."""
    if layout.format is not TIKTOK:
        return False
    order_id = _cell(cells, layout.index["order_no"])
    quantity = _cell(cells, layout.index["quantity"])
    return (
        " " in order_id and any(ch.isalpha() for ch in order_id) and not any(ch.isdigit() for ch in quantity)
    )


# --- Cells -----------------------------------------------------------------------------------------------


_PROTECTED = "\t= '\"\xa0"


class CellProblem(ValueError):
    pass


def _cell(cells: list[str], index: int | None) -> str:
    if index is None or index >= len(cells):
        return ""
    return clean_cell(cells[index])


def clean_cell(text: str) -> str:
    """A cell without what exports wrap values in to keep spreadsheets off them: a leading tab, `="..."`,
    or the apostrophe our own error files put before a value a spreadsheet would run as a formula."""
    if not text:
        return text
    first = text[0]
    if first not in "\t= '\"\xa0" and text[-1] not in '\t "\xa0':
        return text
    text = text.strip().strip("\xa0").lstrip("\t").strip()
    if text.startswith('="') and text.endswith('"') and len(text) >= 3:
        text = text[2:-1].replace('""', '"').strip()
    elif len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        text = text[1:]
    return text


def error_file_cell(text: str) -> str:
    """A cell of the refused-rows file, which sellers open in a spreadsheet, fix and upload again: a value a
    spreadsheet would run as a formula gets an apostrophe in front (OWASP CSV injection), a long number a
    leading tab as the seller centres write them (else Excel shows 5.76E+17); `clean_cell` takes both off."""
    if text.isdigit() and len(text) > 11:
        return "\t" + text
    return formula_safe(text)


_PLAIN_MONEY = re.compile(r"\d{1,10}(?:\.\d{1,2})?")
_MONEY_NOISE = re.compile(r"^(?:US\$|CN¥|CNY|RMB|USD|[¥￥$])|(?:元|CNY|RMB|USD)$", re.IGNORECASE)
_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_INTEGER = re.compile(r"-?[0-9]{1,9}")
_SCIENTIFIC = re.compile(r"[-+]?\d+(?:\.\d+)?[eE][-+]?\d+")
MAX_MONEY = Decimal("9999999999.99")


def parse_money(text: str) -> Decimal:
    """`¥1,299.00`, `$12.5`, `1299`, `1 299,00` is refused (ambiguous); two decimals at most, not negative."""
    if _PLAIN_MONEY.fullmatch(text):
        return Decimal(text)
    value = "".join(text.split()).replace("\u00a0", "")
    value = _MONEY_NOISE.sub("", value).strip()
    value = _MONEY_NOISE.sub("", value).strip()
    if _GROUPED.fullmatch(value):
        value = value.replace(",", "")
    if not _NUMBER.fullmatch(value):
        raise CellProblem(_("%(value)s is not an amount (use digits, e.g. 1299.00)") % {"value": text})
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
        raise CellProblem(_("%(value)s is not an amount") % {"value": text}) from exc
    if amount < 0:
        raise CellProblem(_("%(value)s is negative") % {"value": text})
    if amount.as_tuple().exponent < -2:
        raise CellProblem(_("%(value)s has more than two decimals") % {"value": text})
    if amount > MAX_MONEY:
        raise CellProblem(_("%(value)s is too large") % {"value": text})
    return amount


def parse_quantity(text: str) -> int:
    value = text[:-2] if text.endswith(".0") else text
    if not _INTEGER.fullmatch(value):
        raise CellProblem(_("%(value)s is not a whole number") % {"value": text})
    quantity = int(value)
    if quantity <= 0:
        raise CellProblem(_("must be at least 1; got %(value)s") % {"value": text})
    if quantity > 100_000:
        raise CellProblem(_("%(value)s is too large") % {"value": text})
    return quantity


_YMD = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_MDY = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?: +(\d{1,2}):(\d{2})(?::(\d{2}))?(?: *([AaPp])\.?[Mm]\.?)?)?"
)
_FIXED_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", re.ASCII)
TIME_FORMATS_HELP = "YYYY-MM-DD HH:MM:SS, YYYY/MM/DD HH:MM, MM/DD/YYYY HH:MM:SS AM"


def parse_time(text: str, zone: ZoneInfo) -> datetime:
    """`YYYY-MM-DD HH:MM:SS`, `YYYY/MM/DD HH:MM` or `MM/DD/YYYY HH:MM:SS AM/PM` in the store's zone; an ISO
    time with an offset keeps it."""
    if len(text) == 19 and _FIXED_TIME.fullmatch(text):
        # `YYYY-MM-DD HH:MM:SS`, by far the most common: sliced rather than taken apart by groups.
        try:
            return datetime(
                int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]),
                int(text[17:]), tzinfo=zone,
            )  # fmt: skip
        except ValueError:
            pass  # no such day or hour: refused below with the general message
    match = _YMD.fullmatch(text)
    try:
        if match:
            year, _sep, month, day, hour, minute, second = match.groups()
            return datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                tzinfo=zone,
            )
        match = _MDY.fullmatch(text)
        if match:
            month, day, year, hour, minute, second, half = match.groups()
            hour = int(hour or 0)
            if half:
                if not 1 <= hour <= 12:
                    raise ValueError("hour")
                hour = hour % 12 + (12 if half in "Pp" else 0)
            return datetime(
                int(year), int(month), int(day), hour, int(minute or 0), int(second or 0), tzinfo=zone
            )
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise CellProblem(
            _("%(value)s is not a time (use %(formats)s)") % {"value": text, "formats": TIME_FORMATS_HELP}
        )
    return parsed


_ORDER_NO = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,39}")


def parse_order_no(text: str) -> str:
    if _ORDER_NO.fullmatch(text):
        return text
    if _SCIENTIFIC.fullmatch(text):
        raise CellProblem(
            _(
                "%(value)s is an order ID that a spreadsheet turned into a number: its last digits are lost. "
                "Export the orders again and upload the file as it was downloaded, or open it in Excel "
                "through Data → From Text/CSV with this column set to Text."
            )
            % {"value": text}
        )
    if not text:
        raise CellProblem(_("required"))
    raise CellProblem(
        _("%(value)s is not an order ID (letters, digits, - and _, at most 40)") % {"value": text[:60]}
    )


_PHONE_NOISE = re.compile(r"[\s\-()（）.]")
_CHINA = {"", "china", "cn", "中国", "中国大陆", "mainland china", "prc"}


def parse_phone(text: str, *, country: str = "") -> str:
    """A phone number as the buyer has it. Repairs what spreadsheets do: `8613812345678` (the `+` lost),
    `571 8888 8888` or `2188888888` (a mainland landline's leading 0 lost). Masked digits (`*`) are kept."""
    if (
        len(text) == 11
        and text[0] == "1"
        and text.isdigit()
        and text.isascii()
        and (country in _CHINA or country.strip().casefold() in _CHINA)
    ):
        return text  # a mainland mobile as written: what the repairs below would give
    if _SCIENTIFIC.fullmatch(text):
        raise CellProblem(
            _(
                "%(value)s is a phone number that a spreadsheet turned into a number: digits are lost. "
                "Export the orders again and keep this column as text."
            )
            % {"value": text}
        )
    value = _PHONE_NOISE.sub("", text)
    if value.endswith(".0") and value[:-2].isdigit():
        value = value[:-2]
    plus = value.startswith("+")
    digits = value[1:] if plus else value
    if value.startswith("00"):
        plus, digits = True, value[2:]
    if not digits or not all(ch.isdigit() or ch == "*" for ch in digits) or not digits.isascii():
        raise CellProblem(_("%(value)s is not a phone number") % {"value": text[:40]})
    if not 5 <= len(digits) <= 16:
        raise CellProblem(_("%(value)s is not a phone number") % {"value": text[:40]})
    if plus or not digits.isdigit() or country.strip().casefold() not in _CHINA:
        return ("+" if plus else "") + digits
    if len(digits) == 11 and digits[0] == "1":
        return digits  # a mainland mobile
    if len(digits) == 13 and digits.startswith("861"):
        return "+" + digits  # +86 and a mobile, the + lost
    if digits[0] != "0" and (
        (len(digits) == 10 and (digits.startswith("10") or digits[0] == "2"))
        or (len(digits) in (10, 11) and digits[0] in "3456789")
    ):
        return "0" + digits  # a landline with its area code, the leading 0 lost
    return digits


_CARRIER_SUFFIXES = re.compile(r"(?:速运|速递|快递|物流|快运|express|logistics|delivery)$", re.IGNORECASE)


def _carrier_key(text: str) -> str:
    return re.sub(r"[\s&._-]+", "", text).casefold()


def carrier_lookup(carriers) -> dict[str, Carrier]:
    """Carriers under their code, English and Chinese names, and those names without 快递/速运/Express…"""
    lookup: dict[str, Carrier] = {}
    for carrier in carriers:
        for name in (carrier.name_zh, carrier.name):
            key = _carrier_key(name)
            if key:
                lookup.setdefault(key, carrier)
                stem = _CARRIER_SUFFIXES.sub("", key)
                if stem:
                    lookup.setdefault(stem, carrier)
        lookup[_carrier_key(carrier.code)] = carrier  # the code wins a clash
    return lookup


def find_carrier(text: str, lookup: dict[str, Carrier]) -> Carrier | None:
    key = _carrier_key(text)
    return lookup.get(key) or lookup.get(_CARRIER_SUFFIXES.sub("", key))


# --- Rows ------------------------------------------------------------------------------------------------


@dataclass
class ImportContext:
    """What checking a row needs to know about the store, read once: pure checking from here on."""

    zone: ZoneInfo
    now: datetime
    listings: dict[str, Listing]
    carriers: dict[str, Carrier]
    carrier_codes: list[str]

    @classmethod
    def for_store(cls, store: Store, *, now: datetime) -> ImportContext:
        carriers = list(Carrier.objects.filter(is_active=True))
        return cls(
            zone=ZoneInfo(store.time_zone),
            now=now,
            listings={
                listing.sku: listing
                for listing in Listing.objects.filter(store=store).select_related("category").order_by("pk")
            },
            carriers=carrier_lookup(carriers),
            carrier_codes=sorted(c.code for c in carriers),
        )


@dataclass(slots=True)
class ParsedLine:
    line: int
    order_no: str
    status: str
    sku: str
    title: str
    quantity: int
    unit_price: Decimal
    amount_paid: Decimal
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    carrier: Carrier | None
    tracking_no: str
    recipient: RecipientData
    buyer_message: str
    fulfilment: str
    listing: Listing


UNPAID_LINE = object()  # what `RowParser.parse` gives for a line of an order that was never paid

_STATUS_ORDER = {
    OrderStatus.PAID: 0,
    OrderStatus.SHIPPED: 1,
    OrderStatus.DELIVERED: 2,
    OrderStatus.COMPLETED: 3,
}


class RowParser:
    """Turns one row's cells into a `ParsedLine`, or the row's errors: every check that needs only the row."""

    def __init__(self, layout: Layout, context: ImportContext):
        self.layout = layout
        self.context = context
        self.ix = {name: layout.position(name) for name in TIKTOK.columns | DOUYIN.columns | TEMPLATE.columns}
        self.names = {name: layout.column(name) for name in layout.index}
        self.statuses = layout.format.statuses
        self._has_status = "status" in layout.index
        self._times: dict[str, datetime] = {}
        # Values many lines share (statuses, prices, quantities, carriers), each read once per import.
        self._status_of: dict[str, str] = {}
        self._quantities: dict[str, int] = {}
        self._amounts: dict[str, Decimal] = {}
        self._carriers: dict[str, Carrier | None] = {}
        self._fulfilments: dict[str, str] = {}
        self._optional_times = {
            name
            for name in ("shipped_at", "delivered_at", "completed_at", "cancelled_at")
            if name in layout.index
        }

    def text(self, cells: list[str], name: str) -> str:
        return cells[self.ix[name]]

    def _time(self, cells, name, errors, line) -> datetime | None:
        text = cells[self.ix[name]]
        if not text:
            return None
        value = self._times.get(text)
        if value is None:
            try:
                value = parse_time(text, self.context.zone)
            except CellProblem as problem:
                errors.append(RowError(line, self.names[name], str(problem)))
                return None
            if value > self.context.now + CLOCK_TOLERANCE:
                errors.append(
                    RowError(line, self.names[name], _("%(value)s is in the future") % {"value": text})
                )
                return None
            if len(self._times) > 50_000:
                self._times.clear()
            self._times[text] = value
        return value

    def parse(self, line: int, cells: list[str]) -> tuple[ParsedLine | None, list[RowError]]:
        errors: list[RowError] = []
        names = self.names
        ix = self.ix

        order_no = ""
        try:
            order_no = parse_order_no(cells[ix["order_no"]])
        except CellProblem as problem:
            errors.append(RowError(line, names["order_no"], str(problem)))

        status_text = cells[ix["status"]]
        if not self._has_status or not status_text:
            status = OrderStatus.PAID if not self._has_status or self.layout.format is TEMPLATE else None
            if status is None:
                errors.append(RowError(line, names["status"], _("required")))
        else:
            status = self._status_of.get(status_text)
            if status is None:
                status = self.statuses.get(" ".join(status_text.split()).casefold())
                if status is not None and len(self._status_of) < 1000:
                    self._status_of[status_text] = status
            if status is None:
                known = sorted({k for k, v in self.statuses.items() if v != UNPAID})
                errors.append(
                    RowError(
                        line,
                        names["status"],
                        _("unknown status %(value)s (known: %(known)s)")
                        % {"value": status_text[:40], "known": ", ".join(known)},
                    )
                )

        paid_text = cells[ix["paid_at"]]
        if status == UNPAID or (status == OrderStatus.CANCELLED and not paid_text):
            # Never paid: not an order of ours. Only its ID must be readable (to group its lines).
            return (None if errors else UNPAID_LINE), errors

        sku = cells[ix["sku"]]
        listing = self.context.listings.get(sku)
        if not sku:
            errors.append(RowError(line, names["sku"], _("required")))
        elif listing is None:
            errors.append(
                RowError(
                    line,
                    names["sku"],
                    _("unknown SKU %(sku)s: no listing of this store has it") % {"sku": sku[:64]},
                )
            )

        quantity_text = cells[ix["quantity"]]
        quantity = self._quantities.get(quantity_text, 0)
        if not quantity:
            try:
                quantity = parse_quantity(quantity_text)
            except CellProblem as problem:
                errors.append(RowError(line, names["quantity"], str(problem)))
            else:
                if len(self._quantities) < 1000:
                    self._quantities[quantity_text] = quantity

        unit_price = amount_paid = Decimal(0)
        amounts = self._amounts
        for name in ("unit_price", "amount_paid"):
            text = cells[ix[name]]
            if not text:
                errors.append(RowError(line, names[name], _("required")))
                continue
            value = amounts.get(text)
            if value is None:
                try:
                    value = parse_money(text)
                except CellProblem as problem:
                    errors.append(RowError(line, names[name], str(problem)))
                    continue
                if len(amounts) > 100_000:
                    amounts.clear()
                amounts[text] = value
            if name == "unit_price":
                unit_price = value
            else:
                amount_paid = value

        time, optional = self._time, self._optional_times
        paid_at = time(cells, "paid_at", errors, line)
        shipped_at = time(cells, "shipped_at", errors, line) if "shipped_at" in optional else None
        delivered_at = time(cells, "delivered_at", errors, line) if "delivered_at" in optional else None
        completed_at = time(cells, "completed_at", errors, line) if "completed_at" in optional else None
        cancelled_at = time(cells, "cancelled_at", errors, line) if "cancelled_at" in optional else None
        if not paid_text:
            errors.append(RowError(line, names["paid_at"], _("required")))

        country = cells[ix["country"]]
        name = cells[ix["name"]]
        if not name:
            errors.append(RowError(line, names["name"], _("required")))
        phone = ""
        phone_text = cells[ix["phone"]]
        if not phone_text:
            errors.append(RowError(line, names["phone"], _("required")))
        else:
            try:
                phone = parse_phone(phone_text, country=country)
            except CellProblem as problem:
                errors.append(RowError(line, names["phone"], str(problem)))
        region_parts = [cells[ix[part]] for part in ("province", "city", "district")]
        for part, value in zip(("province", "city"), region_parts, strict=False):
            if not value:
                errors.append(RowError(line, names[part], _("required")))
        address = cells[ix["address"]]
        if not address:
            errors.append(RowError(line, names["address"], _("required")))

        carrier = None
        tracking_no = _tracking_no(cells[ix["tracking_no"]])
        carrier_text = cells[ix["carrier"]]
        ships = status in _STATUS_ORDER and status != OrderStatus.PAID
        if carrier_text:
            carrier = self._carriers.get(carrier_text, False)
            if carrier is False:
                carrier = find_carrier(carrier_text, self.context.carriers)
                if len(self._carriers) < 1000:
                    self._carriers[carrier_text] = carrier
            if carrier is None:
                errors.append(
                    RowError(
                        line,
                        names["carrier"],
                        _("unknown carrier %(carrier)s (use one of: %(codes)s)")
                        % {"carrier": carrier_text[:40], "codes": ", ".join(self.context.carrier_codes)},
                    )
                )
        if ships:
            if not carrier_text:
                errors.append(
                    RowError(line, self.layout.column("carrier"), _("required for a shipped order"))
                )
            if not tracking_no:
                errors.append(
                    RowError(line, self.layout.column("tracking_no"), _("required for a shipped order"))
                )
        if carrier is not None and tracking_no:
            problem = tracking_problem(carrier=carrier, tracking_no=tracking_no)
            if problem:
                errors.append(RowError(line, names["tracking_no"], problem))

        if paid_at is not None and status in _STATUS_ORDER:
            for name_, moment in (
                ("shipped_at", shipped_at),
                ("delivered_at", delivered_at),
                ("completed_at", completed_at),
            ):
                if moment is not None and moment < paid_at:
                    errors.append(
                        RowError(
                            line,
                            names[name_],
                            _("earlier than %(paid)s") % {"paid": names["paid_at"]},
                        )
                    )

        if errors:
            return None, errors
        fulfilment_text = cells[ix["fulfilment"]]
        fulfilment = self._fulfilments.get(fulfilment_text)
        if fulfilment is None:
            fulfilment = (
                Fulfilment.PLATFORM
                if fulfilment_text.casefold()
                in ("platform", "fulfillment by tiktok", "fbt", "平台", "平台发货")
                else Fulfilment.SELLER
            )
            if len(self._fulfilments) < 1000:
                self._fulfilments[fulfilment_text] = fulfilment
        title = cells[ix["title"]]
        variation = cells[ix["variation"]]
        if variation:
            title = f"{title} {variation}" if title else variation
        region = " ".join(filter(None, region_parts))
        return (
            ParsedLine(
                line=line,
                order_no=order_no,
                status=status,
                sku=sku,
                title=(title or listing.title)[:200],
                quantity=quantity,
                unit_price=unit_price,
                amount_paid=amount_paid,
                paid_at=paid_at,
                shipped_at=shipped_at,
                delivered_at=delivered_at,
                completed_at=completed_at,
                cancelled_at=cancelled_at,
                carrier=carrier,
                tracking_no=tracking_no,
                recipient=RecipientData(name=name, phone=phone, region=region, address=address),
                buyer_message=cells[ix["buyer_message"]][:500],
                fulfilment=fulfilment,
                listing=listing,
            ),
            [],
        )


def _tracking_no(text: str) -> str:
    """A tracking number as shipping stores it (upper case, without spaces or dashes)."""
    return text.upper() if text.isalnum() and text.isascii() else normalise_tracking_no(text)


# --- Grouping lines into orders ----------------------------------------------------------------------------

# Per order, one int: its first and last line and 32-bit fingerprints of its first line's order-level values
# (recipient, paid time, status, amount, shipment) and of the line's identity. A million orders take some
# 170 MB this way, where tuples would take three times as much.
_MASK32 = (1 << 32) - 1
_GROUPS = ("recipient", "paid_at", "status", "amount_paid", "shipment", "line")


def _shift(position: int) -> int:
    return 64 + 32 * position


class OrderIndex:
    """Which lines belong to which order, and whether an order's lines agree; filled by the first pass and
    read by the second, which gives the same answers for every line."""

    def __init__(self, layout: Layout):
        self.layout = layout
        pos = layout.position
        self._order_no = pos("order_no")
        self._recipient = [pos(n) for n in ("name", "phone", "province", "city", "district", "address")]
        self._paid = pos("paid_at")
        self._status = pos("status")
        self._amount = pos("amount_paid")
        self._shipment = [pos("carrier"), pos("tracking_no")]
        self._identity = (
            [pos("line_id")] if "line_id" in layout.index else [pos(n) for n in ("sku", "title", "variation")]
        )
        self._getters = [  # each with the blank last cell, so that each gives a tuple
            itemgetter(*self._recipient, -1),
            itemgetter(self._paid, -1),
            itemgetter(self._status, -1),
            itemgetter(self._amount, -1),
            itemgetter(*self._shipment, -1),
            itemgetter(*self._identity, -1),
        ]
        self._identity_of = itemgetter(*self._identity, -1)
        self._tracking_at = pos("tracking_no")
        self._address_of = itemgetter(*[pos(n) for n in ("province", "city", "district", "address")], -1)
        # Per order with a tracking number: 32 bits of the number, 32 of the address cells. After the first
        # pass, the numbers that come with more than one address (`conflicted_waybills`) are looked at
        # closely by the second; every other number is used by one address only.
        self._waybills = array("Q")
        self.conflicted_waybills: set[int] = set()
        self._first_use: dict[tuple[int, str], tuple[str, int, str]] = {}
        self._labels = None
        self.orders: dict[str, int] = {}
        self.repeated_lines: dict[int, int] = {}  # hash of (order, line identity) → its first line

    def key(self, cells: list[str]) -> str:
        return cells[self._order_no]

    def _fingerprints(self, cells: list[str]) -> list[int]:
        return [hash(get(cells)) & _MASK32 for get in self._getters]

    def add(self, line: int, cells: list[str]) -> None:
        """First pass: note the line under its order."""
        key = self.key(cells)
        packed = self.orders.get(key)
        if packed is None:
            packed = line | (line << 32)
            for position, value in enumerate(self._fingerprints(cells)):
                packed |= value << _shift(position)
            self.orders[key] = packed
            tracking = cells[self._tracking_at]
            if tracking:
                self._waybills.append(
                    (hash(_tracking_no(tracking)) & _MASK32) << 32 | hash(self._address_of(cells)) & _MASK32
                )
            return
        self.orders[key] = (packed & ~(_MASK32 << 32)) | (line << 32)
        identity = hash((key, self._identity_of(cells)))
        self.repeated_lines.setdefault(identity, line)

    def settle_waybills(self) -> None:
        """End of the first pass: the tracking numbers that more than one address uses."""
        values, self._waybills = sorted(self._waybills), array("Q")
        previous = None
        for value in values:
            if previous is not None and value != previous and value >> 32 == previous >> 32:
                self.conflicted_waybills.add(value >> 32)
            previous = value

    def waybill_problems(self, line: int, parsed: ParsedLine) -> list[RowError]:
        """Second pass, first line of a shipped order: its waybill used by an earlier order of the file to a
        different address (RULES §4: a waybill is not reused)."""
        if parsed.carrier is None or _STATUS_ORDER.get(parsed.status, 0) < 1:
            return []
        if (hash(parsed.tracking_no) & _MASK32) not in self.conflicted_waybills:
            return []
        if self.orders[parsed.order_no] & _MASK32 != line:
            return []  # the order's other lines: its first line answers for the order
        address = digest(f"{parsed.recipient.region} {parsed.recipient.address}")
        first = self._first_use.setdefault(
            (parsed.carrier.pk, parsed.tracking_no), (address, line, parsed.order_no)
        )
        if first[0] == address:
            return []
        return [
            RowError(
                line,
                self.layout.column("tracking_no"),
                _(
                    "%(number)s is already the waybill of order %(order_no)s in row %(row)d, to a different "
                    "address; a waybill cannot be reused."
                )
                % {"number": parsed.tracking_no, "order_no": first[2], "row": first[1]},
            )
        ]

    def last_line(self, key: str) -> int:
        return (self.orders[key] >> 32) & _MASK32

    def problems(self, line: int, cells: list[str]) -> list[RowError]:
        """Where this line disagrees with the first line of its order, or repeats one of its lines."""
        key = self.key(cells)
        packed = self.orders.get(key)
        if packed is None:
            return []
        first = packed & _MASK32
        if first == line:
            return []
        column = self.layout.column
        labels = self._labels or {
            "recipient": (
                column("name"),
                _("recipient, phone or address differs from row %(first)d of the same order %(order_no)s"),
            ),
            "paid_at": (column("paid_at"), _("differs from row %(first)d of the same order %(order_no)s")),
            "status": (column("status"), _("differs from row %(first)d of the same order %(order_no)s")),
            "amount_paid": (
                column("amount_paid"),
                _("differs from row %(first)d of the same order %(order_no)s"),
            ),
            "shipment": (
                column("tracking_no"),
                _("carrier or tracking number differs from row %(first)d of the same order %(order_no)s"),
            ),
        }
        self._labels = labels
        errors = []
        fingerprints = self._fingerprints(cells)
        for position, name in enumerate(_GROUPS[:-1]):
            if fingerprints[position] != (packed >> _shift(position)) & _MASK32:
                col, message = labels[name]
                errors.append(RowError(line, col, message % {"first": first, "order_no": key[:40]}))
        duplicate_of = None
        if fingerprints[-1] == (packed >> _shift(len(_GROUPS) - 1)) & _MASK32:
            duplicate_of = first
        else:
            seen = self.repeated_lines.get(hash((key, self._identity_of(cells))))
            if seen is not None and seen < line:
                duplicate_of = seen
        if duplicate_of is not None:
            identity_column = column("line_id") if "line_id" in self.layout.index else column("sku")
            errors.append(
                RowError(
                    line,
                    identity_column,
                    _("duplicate line: row %(first)d of order %(order_no)s has the same product")
                    % {"first": duplicate_of, "order_no": key[:40]},
                )
            )
        return errors


# --- The result ------------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    format: str = ""
    lines: int = 0  # data lines read
    orders: int = 0  # distinct orders in the file
    created: int = 0
    updated: int = 0
    skipped: int = 0  # already in the store, left as they are
    unpaid: int = 0  # never paid (unpaid, or cancelled before payment): not imported
    refused: int = 0  # orders refused (all their lines are in the error file)
    refused_lines: int = 0
    error_count: int = 0  # row errors in all
    errors: list[RowError] = field(default_factory=list)  # the first MAX_KEPT_ERRORS
    dry_run: bool = False
    written: bool = False

    def add_errors(self, errors: list[RowError]) -> None:
        self.error_count += len(errors)
        room = MAX_KEPT_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])


ProgressCallback = Callable[..., None]  # progress(phase="check"|"write", done=…, total=…)


# --- The service -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _PendingLine:
    line: int
    cells: list[str]
    parsed: ParsedLine | None
    errors: list[RowError]


def _data_rows(table: TableFile) -> tuple[Layout, Iterator[tuple[int, list[str]]]]:
    rows = table.rows()
    try:
        _line, header = next(rows)
    except StopIteration:
        raise OrderImportError(_("The file is empty.")) from None
    layout = detect_layout(header)

    def data():
        first = True
        for line, cells in rows:
            if first:
                first = False
                if _is_description_row(layout, cells):
                    continue
            yield line, cells

    return layout, data()


def _open_table(source, max_bytes: int | None) -> TableFile:
    try:
        return TableFile(source, max_bytes=max_bytes)
    except OrderImportError:
        raise
    except SpreadsheetError as error:
        raise OrderImportError(*error.messages) from error


def _check_pass(table: TableFile, result: ImportResult, progress) -> tuple[Layout, OrderIndex]:
    """First pass: which lines make each order, and fingerprints of each order's first line; every other
    check is made once, by the second pass, which writes nothing that stays while any row is refused."""
    for _attempt in range(2):
        try:
            layout, rows = _data_rows(table)
            index = OrderIndex(layout)
            add, normalise = index.add, layout.normalise
            lines = 0
            for line, cells in rows:
                lines += 1
                add(line, normalise(cells))
                if progress and lines % PROGRESS_EVERY == 0:
                    progress(phase="check", done=table.done, total=table.total)
            result.lines = lines
            break
        except EncodingChanged:
            continue
        except SpreadsheetError as error:
            if isinstance(error, OrderImportError):
                raise
            raise OrderImportError(*error.messages) from error
    if result.lines == 0:
        raise OrderImportError(_("The file has a header row but no order lines."))
    result.format = layout.format.code
    result.orders = len(index.orders)
    index.settle_waybills()
    return layout, index


def orders_import(
    *,
    store: Store,
    source,
    dry_run: bool = False,
    skip_invalid: bool = False,
    update_existing: bool = False,
    errors_out=None,
    progress: ProgressCallback | None = None,
    actor=None,
    max_bytes: int | None = -1,
    now: datetime | None = None,
) -> ImportResult:
    """Import a store's orders from a TikTok Shop or Douyin export, or our template (CSV or XLSX).

    `source`: a path, bytes or a seekable binary file. Every row is checked first; when any is refused and
    `skip_invalid` is off, nothing is written and the result lists the errors (`row N: column: message`,
    N the file's line). With `skip_invalid` the good orders are written and every line of a refused order is
    written to `errors_out` (a text stream; CSV with the file's header and an `error` column). An order the
    store already has is skipped, or with `update_existing` moved forward to the file's status (a shipment
    added when it gets one). `dry_run` checks and counts without writing. `progress(phase=, done=, total=)`
    is called every few thousand lines. `max_bytes`: the size limit (-1: the web default, None: none).

    Raises OrderImportError for a file that cannot be imported at all (not a table, no known header, a
    required column missing, too large, empty) and for a store that may not take orders.
    """
    now = now or timezone.now()
    if max_bytes == -1:
        max_bytes = getattr(settings, "ORDER_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)
    if not store.can_take_orders:
        raise OrderImportError(
            _("The store may not take new orders at the moment, so it cannot import them.")
        )
    table = _open_table(source, max_bytes)
    context = ImportContext.for_store(store, now=now)
    result = ImportResult(dry_run=dry_run)
    layout, index = _check_pass(table, result, progress)
    writer = _Writer(
        store=store,
        layout=layout,
        context=context,
        result=result,
        update_existing=update_existing,
        skip_invalid=skip_invalid,
        dry_run=dry_run,
        errors_out=errors_out,
        actor=actor,
    )
    with transaction.atomic():
        _lock_store_imports(store)
        try:
            writer.run(table, index, progress)
        except SpreadsheetError as error:  # the file changed or broke between the passes
            raise OrderImportError(*error.messages) from error
        if result.error_count and not skip_invalid:
            # Nothing stays: what was written before the first refused row goes with the rest.
            transaction.set_rollback(True)
            result.created = result.updated = 0
            if writer.refused_row:  # refused rows stop the import: it counts no orders, as one that stopped
                result.skipped = result.unpaid = result.refused = result.refused_lines = 0
        elif dry_run:
            transaction.set_rollback(True)
        else:
            result.written = bool(result.created or result.updated)
    return result


def _lock_store_imports(store: Store) -> None:
    """Two imports into one store run one after the other (their existence checks would race)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"order-import:{store.pk}"])
    else:
        Store.objects.select_for_update().filter(pk=store.pk).first()


# --- Writing ---------------------------------------------------------------------------------------------

ORDER_COLUMNS = (
    "store_id", "order_no", "status", "fulfilment", "is_advertising", "amount_paid", "service_fee",
    "paid_at", "dispatch_deadline", "dispatched_at", "delivered_at", "completed_at", "closed_at",
    "recipient_name", "recipient_phone", "recipient_region", "recipient_address", "address_digest",
    "buyer_message", "created_at",
)  # fmt: skip
ENCRYPTED_COLUMNS = ("recipient_name", "recipient_phone", "recipient_region", "recipient_address")
LINE_COLUMNS = (
    "order_id", "listing_id", "sku", "title", "quantity", "unit_price", "promised_dispatch", "service_fee_rate",
)  # fmt: skip
EVENT_COLUMNS = ("order_id", "kind", "from_status", "to_status", "reason", "data", "actor_id", "created_at")
SETTLEMENT_COLUMNS = (  # the cause key first: as COPY text it starts with "order:<the order's id>"
    "cause_key", "store_id", "kind", "amount", "available_at", "released_at", "reason", "created_at",
)  # fmt: skip
SHIPMENT_COLUMNS = (
    "order_id", "carrier_id", "tracking_no", "address_digest", "created_at", "first_pickup_at",
    "carrier_address_digest", "anomaly", "created_by_id",
)  # fmt: skip


class _Writer:
    """The second pass: reads every row again, checks it fully (`RowParser`, `OrderIndex.problems`), holds
    each order until its last line and writes complete orders a chunk at a time.

    Without `skip_invalid`, the first refused row stops the writing (the transaction is rolled back at the
    end) and the pass goes on only to report every row's errors, in file order. Errors found only when an
    order meets the database (a banned product, an existing order the file would move backwards) are
    reported when no row was refused, as they were found; with `skip_invalid`, a refused order's errors are
    reported, and its lines written to the error file, when the order is complete.
    """

    def __init__(
        self, *, store, layout, context, result, update_existing, skip_invalid, dry_run, errors_out, actor
    ):
        self.store = store
        self.layout = layout
        self.context = context
        self.result = result
        self.update_existing = update_existing
        self.skip_invalid = skip_invalid
        self.dry_run = dry_run
        self.actor = actor
        self.actor_id = actor.pk if actor is not None else None
        self.rules = OrderRules.current()
        self.release_days = rule_int("settlement_release_days")
        self.banned = banned_skus(store=store, now=context.now)
        self._fees: dict = {}
        self.refused_row = False  # without skip_invalid: a row was refused, nothing more is written
        self._order_errors: list[RowError] = []  # without skip_invalid: found when orders met the database
        self.errors_csv = None
        if errors_out is not None:
            self.errors_csv = csv.writer(errors_out, lineterminator="\r\n")
            self.errors_csv.writerow([error_file_cell(name) for name in (*layout.header, "error")])
        self.copy = connection.vendor == "postgresql"
        self._background = None
        self._inflight: list[list[_PendingLine]] = []  # the groups of the chunk being written
        if self.copy and not dry_run:
            connection.ensure_connection()
            self._background = _Background(connection.connection)
        if self.copy:
            self._cipher = FieldCipher(settings.FIELD_ENCRYPTION_KEY)
            self._created_at = str(context.now)
            self._actor_text = "\\N" if self.actor_id is None else str(self.actor_id)

    def run(self, table: TableFile, index: OrderIndex, progress) -> None:
        self.index = index
        layout, rows = _data_rows(table)
        parse = RowParser(layout, self.context).parse
        normalise, problems, last_line, key_at = (
            layout.normalise,
            index.problems,
            index.last_line,
            index._order_no,
        )
        checked_as_written = self._check_foreign_keys_as_written() if self._background is not None else ""
        # The writing thread needs the GIL for moments (psycopg's I/O loop, joining text) while this thread
        # holds it for long stretches: with the default 5 ms switch interval it waits for it most of the time
        # (100k lines: 16 s instead of 12 s). The interval is set back when the pass ends.
        switch_interval = sys.getswitchinterval()
        if self._background is not None:
            sys.setswitchinterval(min(switch_interval, WRITER_SWITCH_INTERVAL))
        try:
            self._read(rows, parse, normalise, problems, last_line, key_at, table, progress)
        except BaseException:
            if self._background is not None:
                with contextlib.suppress(Exception):  # the exception in flight is the one to report
                    self._background.wait()  # the connection must be free before the rollback
            raise
        finally:
            sys.setswitchinterval(switch_interval)
        self._collect()
        if checked_as_written:
            with connection.cursor() as cursor:
                cursor.execute(f"SET CONSTRAINTS {checked_as_written} DEFERRED")
        if progress:
            progress(phase="write", done=table.total, total=table.total)

    def _check_foreign_keys_as_written(self) -> str:
        """Have PostgreSQL check the foreign keys of the rows we write at the end of each COPY, in the writing
        thread, rather than all at the commit (they are deferred): the same checks, but beside Python's work
        instead of after it. Only these tables' constraints, and deferred again once written. Returns them."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT string_agg(quote_ident(conname), ', ') FROM pg_constraint WHERE contype = 'f' "
                "AND condeferrable AND conrelid = ANY(%s::regclass[])",
                [[model._meta.db_table for model in (Order, OrderLine, OrderEvent, Shipment)]],
            )
            names = cursor.fetchone()[0] or ""
            if names:
                cursor.execute(f"SET CONSTRAINTS {names} IMMEDIATE")
        return names

    def _read(self, rows, parse, normalise, problems, last_line, key_at, table, progress) -> None:
        skip_invalid = self.skip_invalid
        conflicted_waybills, waybill_problems = self.index.conflicted_waybills, self.index.waybill_problems
        pending: dict[str, list[_PendingLine]] = {}
        ready: list[list[_PendingLine]] = []
        for done, (line, cells) in enumerate(rows, start=1):
            row = normalise(cells)
            parsed, errors = parse(line, row)
            group_errors = problems(line, row)
            if group_errors:
                errors += group_errors
            if conflicted_waybills and not errors and parsed is not None and parsed is not UNPAID_LINE:
                errors += waybill_problems(line, parsed)  # (a refused row claims no waybill)
            if errors and not skip_invalid:
                self.result.add_errors(errors)
                if not self.refused_row:
                    self.refused_row = True
                    pending, ready = {}, []
            if not self.refused_row:
                key = row[key_at]
                entry = _PendingLine(line, cells, parsed, errors)
                if last_line(key) == line:
                    group = pending.pop(key, None)
                    if group is None:
                        ready.append([entry])
                    else:
                        group.append(entry)
                        ready.append(group)
                    if len(ready) >= CHUNK_ORDERS:
                        self.flush(ready)
                        ready = []
                else:
                    group = pending.get(key)
                    if group is None:
                        pending[key] = [entry]
                    else:
                        group.append(entry)
            if progress and done % PROGRESS_EVERY == 0:
                progress(phase="write", done=table.done, total=table.total)
        if not self.refused_row:
            ready.extend(pending.values())  # only when the file changed between the passes
            self.flush(ready)
            self._collect()  # the last chunk's refusals (reused waybills) are among the errors below
            if self._order_errors:
                self.result.add_errors(self._order_errors)

    # --- one chunk of complete orders ----------------------------------------------------------------------

    def refuse(self, group: list[_PendingLine], extra: list[RowError] = ()) -> None:
        result = self.result
        result.refused += 1
        result.refused_lines += len(group)
        errors = [e for entry in group for e in entry.errors] + list(extra)
        if not self.skip_invalid:
            self._order_errors.extend(errors)
            return
        result.add_errors(errors)
        if self.errors_csv is None:
            return
        first_bad = min(e.line for e in errors)
        for entry in group:
            own = [e for e in errors if e.line == entry.line]
            message = (
                "; ".join(f"{e.column}: {e.message}" for e in own)
                if own
                else _("not imported: row %(line)d of the same order was refused") % {"line": first_bad}
            )
            self.errors_csv.writerow([error_file_cell(cell) for cell in (*entry.cells, message)])

    def flush(self, groups: list[list[_PendingLine]]) -> None:
        candidates = []
        for group in groups:
            if len(group) == 1:
                entry = group[0]
                if entry.errors:
                    self.refuse(group)
                    continue
            elif any(entry.errors for entry in group):
                self.refuse(group)
                continue
            if group[0].parsed is UNPAID_LINE:
                self.result.unpaid += 1
                continue
            candidates.append(group)
        if not candidates:
            return
        if self._background is not None and not self.update_existing and not self._any_banned(candidates):
            # The common case, new orders: the writing thread leaves out those the store already has.
            self.create(candidates, in_background=True)
            return
        self._collect()  # the connection is ours again
        existing = self._existing([group[0].parsed.order_no for group in candidates])
        new_groups = candidates
        if existing:
            new_groups = [group for group in candidates if group[0].parsed.order_no not in existing]
            old_groups = [group for group in candidates if group[0].parsed.order_no in existing]
            if not self.update_existing:
                self.result.skipped += len(old_groups)
            else:
                orders = {
                    order.order_no: order
                    for order in Order.objects.filter(
                        store=self.store, order_no__in=list(existing)
                    ).select_related("store")
                }
                for group in old_groups:
                    self.update(orders[group[0].parsed.order_no], group)
        if self.banned:
            new_groups = [group for group in new_groups if not self._refuse_banned(group)]
        self.create(new_groups)

    def _existing(self, order_nos: list[str]) -> set[str]:
        """Which of these orders the store has already."""
        if not self.copy:
            return set(
                Order.objects.filter(store=self.store, order_no__in=order_nos).values_list(
                    "order_no", flat=True
                )
            )
        with connection.cursor() as cursor:  # one array parameter rather than thousands of them
            cursor.execute(
                "SELECT order_no FROM orders_order WHERE store_id = %s AND order_no = ANY(%s)",
                [self.store.pk, order_nos],
            )
            return {order_no for (order_no,) in cursor.fetchall()}

    def _any_banned(self, groups: list[list[_PendingLine]]) -> bool:
        banned = self.banned
        return bool(banned) and any(entry.parsed.sku in banned for group in groups for entry in group)

    def _refuse_banned(self, group: list[_PendingLine]) -> bool:
        """A product banned from sale takes no new order, as `order_create` refuses it."""
        errors = [
            RowError(
                entry.line,
                self.layout.column("sku"),
                _("Product %(sku)s is banned from sale until %(until)s (late dispatch).")
                % {
                    "sku": entry.parsed.sku,
                    "until": _store_time_text(self.banned[entry.parsed.sku], self.store),
                },
            )
            for entry in group
            if entry.parsed.sku in self.banned
        ]
        if errors:
            self.refuse(group, errors)
        return bool(errors)

    def create(self, groups: list[list[_PendingLine]], *, in_background: bool = False) -> None:
        """New orders as rows, with the arithmetic of `order_build` (the same `orders.rules` functions:
        deadline by the shortest promise, fee by the lines' category rates and the new-store rate) and the
        status path of the model's transitions (`_timeline`); no model instance per order, for speed.
        tests/orders/test_import_orders.py checks the rows against `order_build`."""
        if not groups:
            return
        built = []
        fmt = self.layout.format.code
        imported = {"imported": fmt}  # one object for every event that carries nothing else
        zone = self.context.zone
        opened_on = self.store.opened_on
        cutoff = self.rules.same_day_cutoff_hour
        store_id = self.store.pk
        created_at = self.context.now
        for group in groups:
            head = group[0].parsed
            if len(group) == 1:
                parsed = [head]
                listing = head.listing
                promises = [listing.promised_dispatch]
                rates = (listing.category.service_fee_rate,)
            else:
                parsed = [entry.parsed for entry in group]
                promises = [p.listing.promised_dispatch for p in parsed]
                rates = tuple(p.listing.category.service_fee_rate for p in parsed)
            paid_at = head.paid_at
            deadline = (
                line_dispatch_deadline(
                    paid_at=paid_at, promise=promises[0], zone=zone, same_day_cutoff_hour=cutoff
                )
                if len(promises) == 1  # the order's deadline is its one line's
                else order_dispatch_deadline(
                    paid_at=paid_at, promises=promises, zone=zone, same_day_cutoff_hour=cutoff
                )
            )
            local = paid_at if paid_at.tzinfo is zone else paid_at.astimezone(zone)
            age = (local.date() - opened_on).days if opened_on else None
            fee = self._fee(
                head.amount_paid,
                tuple((p.unit_price * p.quantity, r) for p, r in zip(parsed, rates, strict=True)),
                age,
            )
            status, times, events, shipment = _timeline(head, fmt, imported)
            settlement = None
            if status == OrderStatus.COMPLETED:  # income and fee, as `order_confirm_receipt` books them
                settlement = order_settlement(
                    amount_paid=head.amount_paid,
                    service_fee=fee,
                    completed_at=times[2],
                    release_days=self.release_days,
                )
            events.insert(
                0,
                (
                    "paid",
                    "",
                    OrderStatus.PAID,
                    "",
                    {"deadline": deadline.isoformat(), "fee": str(fee), "imported": fmt},
                    paid_at,
                ),
            )
            recipient = head.recipient
            order_row = (
                store_id, head.order_no, status, head.fulfilment, False, head.amount_paid, fee, paid_at,
                deadline, *times, recipient.name, recipient.phone, recipient.region, recipient.address,
                digest(f"{recipient.region} {recipient.address}"), head.buyer_message, created_at,
            )  # fmt: skip
            lines = [
                (p.listing.pk, p.sku, p.title, p.quantity, p.unit_price, p.listing.promised_dispatch, rate)
                for p, rate in zip(parsed, rates, strict=True)
            ]
            built.append((order_row, lines, events, shipment, settlement))
        if not in_background:  # (the writing thread checks its chunk's waybills itself, before writing it)
            reused = self._reused_waybills(built)
            if reused:
                for position in reused:
                    self._refuse_reused_waybill(groups[position])
                built = [order for position, order in enumerate(built) if position not in reused]
        self.result.created += len(built)
        if self.dry_run:
            return
        if self.copy:
            self._copy(built, groups, imported, in_background=in_background)
        else:
            self._insert(built)

    @staticmethod
    def _waybills(built) -> list[tuple[int, int, str, str]]:
        """(position, carrier id, tracking number, address digest) of each new order that has a shipment."""
        return [
            (position, shipment[0], shipment[1], order_row[17])
            for position, (order_row, _lines, _events, shipment, _settlement) in enumerate(built)
            if shipment is not None
        ]

    def _reused_waybills(self, built) -> set[int]:
        """Positions of the new orders whose waybill the database has for another address."""
        waybills = self._waybills(built)
        if not waybills:
            return set()
        found = Shipment.objects.filter(tracking_no__in={number for _p, _c, number, _d in waybills})
        return _reused(waybills, found.values_list("carrier_id", "tracking_no", "address_digest"))

    def _refuse_reused_waybill(self, group: list[_PendingLine]) -> None:
        head = group[0]
        self.refuse(
            group,
            [
                RowError(
                    head.line,
                    self.layout.column("tracking_no"),
                    waybill_reused_message(head.parsed.tracking_no),
                )
            ],
        )

    def _fee(self, amount_paid: Decimal, lines: tuple, age: int | None) -> Decimal:
        key = (amount_paid, lines, age)
        fee = self._fees.get(key)
        if fee is None:
            fee = service_fee(
                amount_paid=amount_paid,
                lines=[FeeLine(subtotal=subtotal, rate=rate) for subtotal, rate in lines],
                is_advertising=False,
                store_age_days=age,
                new_store_days=self.rules.new_store_fee_days,
                new_store_rate=self.rules.new_store_fee_rate,
            )
            if len(self._fees) > 100_000:
                self._fees.clear()
            self._fees[key] = fee
        return fee

    def _advance(self, order: Order, head: ParsedLine, events: list, *, has_shipment: bool):
        """Move an order along its transitions to the file's status; the event rows and a new shipment."""
        target = head.status
        shipment = None
        if target == OrderStatus.CANCELLED and order.status == OrderStatus.PAID:
            at = head.cancelled_at or head.paid_at
            order.cancel(at=at)
            events.append(
                (
                    "cancelled",
                    OrderStatus.PAID,
                    order.status,
                    _("Cancelled on the sales platform."),
                    {"refunded": str(order.amount_paid), "imported": self.layout.format.code},
                    at,
                )
            )
            return None
        rank = _STATUS_ORDER.get(target)
        if rank is None:
            return None
        if order.status == OrderStatus.PAID and rank >= 1:
            at = head.shipped_at or head.delivered_at or head.paid_at
            if not has_shipment:
                shipment = (head.carrier.pk, head.tracking_no, at)
            order.ship(at=at)
            events.append(
                (
                    "shipped",
                    OrderStatus.PAID,
                    order.status,
                    "",
                    {
                        "carrier": head.carrier.code,
                        "tracking_no": head.tracking_no,
                        "imported": self.layout.format.code,
                    },
                    at,
                )
            )
        if order.status == OrderStatus.SHIPPED and rank >= 2:
            at = head.delivered_at or head.shipped_at or head.paid_at
            order.deliver(at=at)
            events.append(
                (
                    "delivered",
                    OrderStatus.SHIPPED,
                    order.status,
                    "",
                    {"imported": self.layout.format.code},
                    at,
                )
            )
        if order.status == OrderStatus.DELIVERED and rank >= 3:
            at = head.completed_at or head.delivered_at or head.shipped_at or head.paid_at
            order.complete(at=at)
            events.append(
                (
                    "completed",
                    OrderStatus.DELIVERED,
                    order.status,
                    "",
                    {"imported": self.layout.format.code},
                    at,
                )
            )
        return shipment

    def _correct_shipment(self, order: Order, group: list[_PendingLine]) -> bool | None:
        """With `update_existing`: a shipped order whose parcel no carrier has scanned yet gets the file's
        carrier and tracking number when they differ (`shipment_correct`). A scanned parcel's waybill is the
        carrier's evidence and stays, as does a platform-shipped order's; the status moves on regardless.
        True when corrected, None when refused (a waybill another address has)."""
        head = group[0].parsed
        if head.carrier is None or _STATUS_ORDER.get(head.status, 0) < 1:
            return False
        if (
            order.status not in (OrderStatus.SHIPPED, OrderStatus.DELIVERED)
            or order.fulfilment != Fulfilment.SELLER
        ):
            return False
        shipment = Shipment.objects.filter(order=order).first()
        if shipment is None or (shipment.carrier_id, shipment.tracking_no) == (
            head.carrier.pk,
            head.tracking_no,
        ):
            return False
        if shipment.first_pickup_at is not None or shipment.events.exists():
            return False
        try:
            with transaction.atomic():  # a savepoint: a refusal leaves nothing behind
                shipment_correct(
                    order=order,
                    carrier=head.carrier,
                    tracking_no=head.tracking_no,
                    actor=self.actor,
                    now=self.context.now,
                )
        except DomainError as refused:
            field_errors = getattr(refused, "field_errors", {})
            column = self.layout.column("carrier" if "carrier" in field_errors else "tracking_no")
            self.refuse(group, [RowError(head.line, column, message) for message in refused.messages])
            return None
        return True

    def update(self, order: Order, group: list[_PendingLine]) -> None:
        head = group[0].parsed
        target = head.status
        forward = (target == OrderStatus.CANCELLED and order.status == OrderStatus.PAID) or _STATUS_ORDER.get(
            target, -1
        ) > _STATUS_ORDER.get(order.status, 99)
        if target != order.status and not forward:
            self.refuse(
                group,
                [
                    RowError(
                        group[0].line,
                        self.layout.column("status"),
                        _("order %(order_no)s is already %(current)s here; it cannot become %(status)s")
                        % {
                            "order_no": order.order_no,
                            "current": order.get_status_display(),
                            "status": OrderStatus(target).label,
                        },
                    )
                ],
            )
            return
        corrected = self._correct_shipment(order, group)
        if corrected is None:
            return
        if target == order.status:
            if corrected:
                self.result.updated += 1
            else:
                self.result.skipped += 1
            return
        has_shipment = Shipment.objects.filter(order=order).exists()
        if order.status == OrderStatus.PAID and _STATUS_ORDER.get(target, 0) >= 1 and not has_shipment:
            others = Shipment.objects.filter(tracking_no=head.tracking_no).exclude(order=order)
            waybill = (0, head.carrier.pk, head.tracking_no, order.address_digest)
            if _reused([waybill], others.values_list("carrier_id", "tracking_no", "address_digest")):
                self._refuse_reused_waybill(group)
                return
        events: list = []
        before = order.status
        shipment = self._advance(order, head, events, has_shipment=has_shipment)
        self.result.updated += 1
        if self.dry_run:
            return
        order.save(update_fields=["status", "dispatched_at", "delivered_at", "completed_at", "closed_at"])
        if before == OrderStatus.PAID and shipment is not None:
            carrier_id, tracking_no, at = shipment
            Shipment.objects.create(
                order=order,
                carrier_id=carrier_id,
                tracking_no=tracking_no,
                address_digest=order.address_digest,
                created_at=at,
                first_pickup_at=at
                if order.status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED)
                else None,
                created_by=self.actor,
            )
        if order.status == OrderStatus.COMPLETED:
            order_settle(order=order, release_days=self.release_days)
        OrderEvent.objects.bulk_create(
            OrderEvent(
                order=order,
                kind=kind,
                from_status=from_status,
                to_status=to_status,
                reason=reason,
                data=data,
                actor=self.actor,
                created_at=at,
            )
            for kind, from_status, to_status, reason, data, at in events
        )

    def _insert(self, built) -> None:
        """Elsewhere than PostgreSQL (the tests' SQLite): through the models' fields, which encrypt."""
        ids = _insert_returning_ids(Order, ORDER_COLUMNS, [order_row for order_row, *_rest in built])
        line_rows, event_rows, shipment_rows, settlement_rows = [], [], [], []
        actor_id = self.actor_id
        for order_id, (order_row, lines, events, shipment, settlement) in zip(ids, built, strict=True):
            line_rows.extend((order_id, *line) for line in lines)
            event_rows.extend(
                (order_id, kind, from_status, to_status, reason, data, actor_id, at)
                for kind, from_status, to_status, reason, data, at in events
            )
            if shipment is not None:
                carrier_id, tracking_no, at, picked_up = shipment
                shipment_rows.append(
                    (order_id, carrier_id, tracking_no, order_row[17], at, picked_up, "", "", actor_id)
                )
            if settlement is not None:
                available_at, entries = settlement
                settlement_rows.extend(
                    (
                        f"order:{order_id}:{suffix}",
                        order_row[0],
                        SETTLEMENT_KINDS[suffix],
                        amount,
                        available_at,
                        None,
                        order_row[1],
                        order_row[-1],
                    )  # fmt: skip
                    for suffix, amount in entries
                )
        insert_rows(OrderLine, LINE_COLUMNS, line_rows)
        insert_rows(OrderEvent, EVENT_COLUMNS, event_rows)
        insert_rows(Shipment, SHIPMENT_COLUMNS, shipment_rows)
        insert_rows(SettlementEntry, SETTLEMENT_COLUMNS, settlement_rows)

    def _copy(self, built, groups, imported: dict, *, in_background: bool) -> None:
        """On PostgreSQL: the chunk's rows as COPY text, one COPY per table. The recipient's four fields are
        encrypted here, as the model's EncryptedTextField would (COPY does not go through the fields). The
        text is made without the new orders' ids (`_write_chunk` puts them in front)."""
        first = ORDER_COLUMNS.index("recipient_name")
        clear = [value for order_row, *_rest in built for value in order_row[first : first + 4]]
        sealed = self._cipher.encrypt(clear)
        created_at, actor = self._created_at, self._actor_text
        imported_json = _copy_escape(json.dumps(imported, ensure_ascii=False))
        order_nos, orders, lines, events, shipments, settlements = [], [], [], [], [], []
        for position, (row, order_lines, order_events, shipment, settlement) in enumerate(built):
            name, phone, region, address = sealed[4 * position : 4 * position + 4]
            (
                store_id, order_no, status, fulfilment, _advertising, amount_paid, fee, paid_at, deadline,
                dispatched_at, delivered_at, completed_at, closed_at, *_clear, address_digest, buyer_message,
                _created,
            ) = row  # fmt: skip
            order_nos.append(order_no)
            paid_text = str(paid_at)
            orders.append(
                f"\t{store_id}\t{_copy_escape(order_no)}\t{status}\t{fulfilment}\tf\t{amount_paid}\t"
                f"{fee}\t{paid_text}\t{deadline}\t{_copy_time(dispatched_at)}\t{_copy_time(delivered_at)}\t"
                f"{_copy_time(completed_at)}\t{_copy_time(closed_at)}\t{name}\t{phone}\t{region}\t{address}\t"
                f"{address_digest}\t{_copy_escape(buyer_message)}\t{created_at}\n"
            )
            for listing_id, sku, title, quantity, unit_price, promise, rate in order_lines:
                lines.append(
                    (
                        position,
                        f"\t{listing_id}\t{_copy_escape(sku)}\t{_copy_escape(title)}\t{quantity}\t"
                        f"{unit_price}\t{promise}\t{rate}\n",
                    )
                )
            for kind, from_status, to_status, reason, data, at in order_events:
                data_text = imported_json if data is imported else _copy_escape(_json_text(data))
                events.append(
                    (
                        position,
                        f"\t{kind}\t{from_status}\t{to_status}\t{_copy_escape(reason)}\t{data_text}\t"
                        f"{actor}\t{paid_text if at is paid_at else at}\n",
                    )
                )
            if shipment is not None:
                carrier_id, tracking_no, at, picked_up = shipment
                shipments.append(
                    (
                        position,
                        f"\t{carrier_id}\t{_copy_escape(tracking_no)}\t{address_digest}\t{at}\t"
                        f"{_copy_time(picked_up)}\t\t\t{actor}\n",
                    )
                )
            if settlement is not None:
                available_at, entries = settlement
                order_no_text = _copy_escape(order_no)
                settlements.extend(
                    (
                        position,
                        f":{suffix}\t{store_id}\t{SETTLEMENT_KINDS[suffix]}\t{amount}\t{available_at}\t\\N\t"
                        f"{order_no_text}\t{created_at}\n",
                    )
                    for suffix, amount in entries
                )
        chunk = _Chunk(
            self.store.pk,
            order_nos,
            orders,
            lines,
            events,
            shipments,
            settlements,
            self._waybills(built) if in_background else [],
        )
        if in_background:
            self._collect()  # the chunk before: its refusals are looked up in its own groups
            self._inflight = groups
            self._background.start(chunk.write)
        else:
            with connection.cursor() as cursor:
                chunk.write(cursor.cursor, known_new=True)

    def _collect(self) -> None:
        """Wait for the chunk being written; count the orders it found the store already had, and refuse
        those it left out for a reused waybill."""
        outcome = self._background.wait() if self._background is not None else None
        if outcome is None:
            return
        already_there, reused = outcome
        if already_there:
            self.result.created -= already_there
            self.result.skipped += already_there
        for position in sorted(reused):
            self.result.created -= 1
            self._refuse_reused_waybill(self._inflight[position])


@dataclass
class _Chunk:
    """New orders as COPY text without their ids, with their lines, events and shipments (each row with the
    position of its order)."""

    store_id: int
    order_nos: list[str]
    orders: list[str]
    lines: list[tuple[int, str]]
    events: list[tuple[int, str]]
    shipments: list[tuple[int, str]]
    settlements: list[tuple[int, str]]  # each row's text after "order:<id>" (its cause key's start)
    waybills: list[tuple[int, int, str, str]]  # to check before writing: see `_Writer._waybills`

    def write(self, cursor, *, known_new: bool = False) -> tuple[int, set[int]]:
        """Write the orders the store does not have yet (all of them when `known_new`) and whose waybill
        no other address has, through a psycopg cursor; returns how many the store had already and the
        positions of those left out for their waybill."""
        keep = range(len(self.order_nos))
        if not known_new:
            cursor.execute(
                "SELECT order_no FROM orders_order WHERE store_id = %s AND order_no = ANY(%s)",
                [self.store_id, self.order_nos],
            )
            existing = {order_no for (order_no,) in cursor.fetchall()}
            if existing:
                keep = [i for i, order_no in enumerate(self.order_nos) if order_no not in existing]
        already_there = len(self.order_nos) - len(keep)
        reused: set[int] = set()
        if self.waybills:
            kept = set(keep)
            waybills = [waybill for waybill in self.waybills if waybill[0] in kept]
            cursor.execute(
                "SELECT carrier_id, tracking_no, address_digest FROM orders_shipment WHERE tracking_no = ANY(%s)",
                [list({number for _p, _c, number, _d in waybills})],
            )
            reused = _reused(waybills, cursor.fetchall())
            if reused:
                keep = [i for i in keep if i not in reused]
        ids: list[int | None] = [None] * len(self.order_nos)
        for position, order_id in zip(keep, reserve_ids(Order, len(keep), cursor=cursor), strict=True):
            ids[position] = order_id
        orders = self.orders
        copy_text(
            Order, ("id", *ORDER_COLUMNS), "".join([f"{ids[i]}{orders[i]}" for i in keep]), cursor=cursor
        )
        for model, columns, rows in (
            (OrderLine, LINE_COLUMNS, self.lines),
            (OrderEvent, EVENT_COLUMNS, self.events),
            (Shipment, SHIPMENT_COLUMNS, self.shipments),
        ):
            text = "".join([f"{ids[i]}{rest}" for i, rest in rows if ids[i] is not None])
            copy_text(model, columns, text, cursor=cursor)
        text = "".join([f"order:{ids[i]}{rest}" for i, rest in self.settlements if ids[i] is not None])
        copy_text(SettlementEntry, SETTLEMENT_COLUMNS, text, cursor=cursor)
        return already_there, reused


def _reused(waybills, found) -> set[int]:
    """Positions of `waybills` (position, carrier id, number, address digest) that a shipment in `found`
    (carrier id, number, address digest) has for another address."""
    addresses: dict[tuple[int, str], set[str]] = {}
    for carrier_id, number, address in found:
        addresses.setdefault((carrier_id, number), set()).add(address)
    return {
        position
        for position, carrier_id, number, address in waybills
        if addresses.get((carrier_id, number), {address}) - {address}
    }


class _Background:
    """Writes one chunk at a time in a thread of its own, on the import's connection and so in its
    transaction (PostgreSQL), while the import goes on reading and checking the next chunk: PostgreSQL's
    work on the rows (indexes, constraints) then runs beside Python's instead of after it. The import
    touches the connection only after `wait()`."""

    def __init__(self, raw_connection):
        self._connection = raw_connection
        self._thread: threading.Thread | None = None
        self._outcome = None
        self._error: BaseException | None = None

    def start(self, job) -> None:
        def target():
            try:
                with self._connection.cursor() as cursor:
                    self._outcome = job(cursor)
            except BaseException as error:  # noqa: BLE001 - handed to the importing thread by wait()
                self._error = error

        self._thread = threading.Thread(target=target, name="order-import-copy", daemon=True)
        self._thread.start()

    def wait(self):
        """The running job's result, or its exception raised here; None when none runs."""
        if self._thread is None:
            return None
        self._thread.join()
        self._thread = None
        outcome, self._outcome = self._outcome, None
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return outcome


_PLAIN_JSON_STRING = re.compile(r'[^"\\\x00-\x1f\x7f]*').fullmatch
_json_encode = json.JSONEncoder(ensure_ascii=False).encode


def _json_text(data: dict) -> str:
    """An event's data as JSON; string values without quotes, backslashes or control characters (all of
    them here but a rare tracking number or refund reason) are written without the encoder."""
    parts = []
    for key, value in data.items():
        if type(value) is not str or not _PLAIN_JSON_STRING(value):
            return _json_encode(data)
        parts.append(f'"{key}": "{value}"')
    return "{" + ", ".join(parts) + "}"


def _copy_time(moment: datetime | None) -> str:
    return "\\N" if moment is None else str(moment)


def _timeline(head: ParsedLine, fmt: str, imported: dict):
    """A new order's path from payment to the file's status, as the model's transitions take it
    (paid → shipped → delivered → completed, or paid → cancelled): its status, its dispatched, delivered,
    completed and closed times, the event rows after "paid", and its shipment (carrier id, number, time,
    pickup time: known to have happened for a delivered order)."""
    target = head.status
    dispatched = delivered = completed = closed = None
    events = []
    shipment = None
    if target == OrderStatus.CANCELLED:
        closed = head.cancelled_at or head.paid_at
        events.append(
            (
                "cancelled",
                OrderStatus.PAID,
                OrderStatus.CANCELLED,
                _("Cancelled on the sales platform."),
                {"refunded": str(head.amount_paid), "imported": fmt},
                closed,
            )
        )
        return OrderStatus.CANCELLED, (None, None, None, closed), events, None
    rank = _STATUS_ORDER[target]
    if rank >= 1:
        dispatched = head.shipped_at or head.delivered_at or head.paid_at
        events.append(
            (
                "shipped",
                OrderStatus.PAID,
                OrderStatus.SHIPPED,
                "",
                {"carrier": head.carrier.code, "tracking_no": head.tracking_no, "imported": fmt},
                dispatched,
            )
        )
        shipment = [head.carrier.pk, head.tracking_no, dispatched, None]
    if rank >= 2:
        delivered = head.delivered_at or dispatched
        shipment[3] = dispatched
        events.append(("delivered", OrderStatus.SHIPPED, OrderStatus.DELIVERED, "", imported, delivered))
    if rank >= 3:
        completed = head.completed_at or delivered
        events.append(("completed", OrderStatus.DELIVERED, OrderStatus.COMPLETED, "", imported, completed))
    return target, (dispatched, delivered, completed, None), events, shipment


def _insert_returning_ids(model, columns, rows) -> list[int]:
    """New rows' ids in row order, through bulk_create (not PostgreSQL, where `_Writer._copy` writes)."""
    objects = [model(**dict(zip([_attname(model, c) for c in columns], row, strict=True))) for row in rows]
    model._default_manager.bulk_create(objects, batch_size=500)
    return [obj.pk for obj in objects]


def _attname(model, column: str) -> str:
    return next(f.attname for f in model._meta.concrete_fields if f.column == column)
