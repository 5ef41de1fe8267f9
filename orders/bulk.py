"""Spreadsheet work on orders: bulk shipping from a seller's file, tracking scans from a carrier's file.

Unlike listings (all rows or none), both are per row: a seller expects the good rows shipped and the bad
ones listed, and a carrier's scans are each true on their own. Every row goes through the same service as
a single action (`order_ship`, `tracking_event_record`) in its own transaction, and a row's refusal is
reported with its line and column, never stopping the other rows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchants.errors import DomainError
from merchants.models import Store
from merchants.roles import MANAGE_ORDERS
from merchants.spreadsheets import RowError, SheetRow, SpreadsheetError, read_table
from orders.models import Carrier, Order, OrderStatus, Shipment, TrackingEvent
from orders.services import (
    normalise_tracking_no,
    order_ship,
    require_order_capability,
    tracking_event_record,
    tracking_problem,
)

# A web upload ships at most this many rows; the command lifts the limit.
BULK_SHIP_MAX_ROWS = 5000
SHIPMENT_COLUMNS = ["order_no", "carrier", "tracking_no"]
TRACKING_COLUMNS_REQUIRED = ["carrier", "tracking_no", "kind", "occurred_at"]
TRACKING_COLUMNS_OPTIONAL = ["location", "description", "consignee_address"]
# Carrier files write local times without a zone: they are read as China time.
CARRIER_FILE_ZONE = ZoneInfo("Asia/Shanghai")
# A scan may be stamped a little ahead of our clock, never far.
SCAN_CLOCK_TOLERANCE = timedelta(hours=1)


def carriers_by_name() -> dict[str, Carrier]:
    """Every carrier under its code, English and Chinese name, lower-cased, for matching a cell."""
    lookup: dict[str, Carrier] = {}
    for carrier in Carrier.objects.all():
        for name in (carrier.name_zh, carrier.name, carrier.code):  # the code wins a clash
            if name.strip():
                lookup[name.strip().lower()] = carrier
    return lookup


def _unknown_carrier(value: str, carriers: dict[str, Carrier]) -> str:
    codes = sorted({c.code for c in carriers.values()})
    return _("unknown carrier %(carrier)s (use one of: %(codes)s)") % {
        "carrier": value,
        "codes": ", ".join(codes),
    }


def _in_chunks(values: list, size: int = 1000) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _refusal_errors(line: int, exc: DomainError) -> list[RowError]:
    """A service refusal as row errors: field errors under their column, the rest under order_no."""
    field_errors = getattr(exc, "field_errors", {}) or {}
    field_count = sum(len(messages) for messages in field_errors.values())
    general = exc.messages[: len(exc.messages) - field_count]
    errors = [RowError(line, "order_no", message) for message in general]
    for field_name, messages in field_errors.items():
        column = field_name if field_name in SHIPMENT_COLUMNS else "order_no"
        errors.extend(RowError(line, column, str(message)) for message in messages)
    return errors


# --- Bulk shipping --------------------------------------------------------------------------------


@dataclass
class BulkShipRowResult:
    line: int
    order_no: str
    outcome: str  # shipped | ok (a dry run: would ship) | error
    errors: list[RowError] = field(default_factory=list)


@dataclass
class BulkShipResult:
    rows: list[BulkShipRowResult]
    written: bool  # at least one order was shipped

    @property
    def errors(self) -> list[RowError]:
        return [e for r in self.rows for e in r.errors]

    @property
    def shipped(self) -> int:
        return sum(1 for r in self.rows if r.outcome == "shipped")

    @property
    def ok(self) -> int:
        return sum(1 for r in self.rows if r.outcome == "ok")

    @property
    def refused(self) -> int:
        return sum(1 for r in self.rows if r.outcome == "error")


class _DryRunRollback(Exception):
    pass


def shipments_bulk_ship(
    *,
    store: Store,
    data: bytes,
    actor=None,
    dry_run: bool = False,
    max_rows: int | None = BULK_SHIP_MAX_ROWS,
    now: datetime | None = None,
) -> BulkShipResult:
    """Ship the store's orders from a CSV/XLSX of order_no,carrier,tracking_no; a result per row.

    Each good row ships through `order_ship` in its own transaction; a refused row is listed with its
    column and the others go ahead. An order number is looked up in this store only: another store's
    number is simply unknown. A dry run goes through the same service inside a transaction that is rolled
    back, so it reports exactly what the real run would (a waybill reused two rows apart included).

    Raises SpreadsheetError for a file that cannot be read and ActionForbidden for an actor whose role
    may not ship.
    """
    require_order_capability(actor, store, MANAGE_ORDERS)
    rows = read_table(data, required=SHIPMENT_COLUMNS, max_bytes=settings.LISTING_UPLOAD_MAX_BYTES)
    if max_rows is not None and len(rows) > max_rows:
        raise SpreadsheetError(
            _("The file has %(count)d rows; at most %(limit)d orders can be shipped in one upload. Split it.")
            % {"count": len(rows), "limit": max_rows}
        )
    if not store.can_take_orders:
        message = _("The store may not take orders at the moment, so it cannot ship them either.")
        return BulkShipResult(
            rows=[
                BulkShipRowResult(
                    line=row.line,
                    order_no=row.values.get("order_no", ""),
                    outcome="error",
                    errors=[RowError(row.line, "order_no", message)],
                )
                for row in rows
            ],
            written=False,
        )
    carriers = carriers_by_name()
    numbers = sorted({row.values.get("order_no", "") for row in rows} - {""})
    orders: dict[str, Order] = {}
    for chunk in _in_chunks(numbers):
        orders.update((o.order_no, o) for o in Order.objects.filter(store=store, order_no__in=chunk))

    results: list[BulkShipRowResult] = []
    try:
        # The real run commits row by row (order_ship is atomic); a dry run rolls everything back.
        with transaction.atomic() if dry_run else nullcontext():
            first_line_of: dict[str, int] = {}
            for row in rows:
                result, order, carrier = _ship_row_check(row, orders, carriers, first_line_of)
                results.append(result)
                if result.errors:
                    continue
                try:
                    order_ship(
                        order=order,
                        carrier=carrier,
                        tracking_no=row.values["tracking_no"],
                        actor=actor,
                        now=now,
                    )
                except DomainError as exc:
                    result.outcome = "error"
                    result.errors = _refusal_errors(row.line, exc)
                else:
                    result.outcome = "ok" if dry_run else "shipped"
            if dry_run:
                raise _DryRunRollback
    except _DryRunRollback:
        pass
    return BulkShipResult(rows=results, written=any(r.outcome == "shipped" for r in results))


def _ship_row_check(
    row: SheetRow, orders: dict[str, Order], carriers: dict[str, Carrier], first_line_of: dict[str, int]
) -> tuple[BulkShipRowResult, Order | None, Carrier | None]:
    """What can be told from the file and one read of the store's orders, before any lock is taken."""
    errors: list[RowError] = []
    order_no = row.values.get("order_no", "")
    order = orders.get(order_no)
    if not order_no:
        errors.append(RowError(row.line, "order_no", _("required")))
    elif order_no in first_line_of:
        errors.append(
            RowError(
                row.line,
                "order_no",
                _("order %(order_no)s appears again (first on row %(first)d)")
                % {"order_no": order_no, "first": first_line_of[order_no]},
            )
        )
    elif order is None:
        errors.append(
            RowError(row.line, "order_no", _("unknown order number %(order_no)s") % {"order_no": order_no})
        )
    elif order.status != OrderStatus.PAID:
        errors.append(
            RowError(
                row.line,
                "order_no",
                _("Order %(order_no)s is %(status)s; only an order awaiting dispatch can be shipped.")
                % {"order_no": order.order_no, "status": order.get_status_display()},
            )
        )
    if order_no:
        first_line_of.setdefault(order_no, row.line)
    carrier_value = row.values.get("carrier", "")
    carrier = carriers.get(carrier_value.strip().lower())
    if not carrier_value:
        errors.append(RowError(row.line, "carrier", _("required")))
    elif carrier is None:
        errors.append(RowError(row.line, "carrier", _unknown_carrier(carrier_value, carriers)))
    tracking_no = normalise_tracking_no(row.values.get("tracking_no", ""))
    if not tracking_no:
        errors.append(RowError(row.line, "tracking_no", _("required")))
    elif carrier is not None:
        problem = tracking_problem(carrier=carrier, tracking_no=tracking_no)
        if problem:
            errors.append(RowError(row.line, "tracking_no", problem))
    result = BulkShipRowResult(
        line=row.line, order_no=order_no, outcome="error" if errors else "pending", errors=errors
    )
    return result, order, carrier


# --- Tracking scans from a carrier's file ---------------------------------------------------------

_KIND_ALIASES = {kind: kind for kind in TrackingEvent.Kind.values} | {
    "picked_up": TrackingEvent.Kind.PICKUP,
    "transit": TrackingEvent.Kind.IN_TRANSIT,
    "揽收": TrackingEvent.Kind.PICKUP,
    "分拣": TrackingEvent.Kind.SORTING,
    "运输中": TrackingEvent.Kind.IN_TRANSIT,
    "签收": TrackingEvent.Kind.DELIVERED,
}
_LOCAL_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")


def tracking_kind(value: str) -> str | None:
    return _KIND_ALIASES.get(re.sub(r"[\s-]+", "_", (value or "").strip().lower()))


def scan_time(value: str, *, default_zone: ZoneInfo | None = CARRIER_FILE_ZONE) -> datetime | None:
    """An ISO-8601 time, or `YYYY-MM-DD HH:MM[:SS]`; a time without an offset is read in `default_zone`
    (None: an offset is required). None when the text is not a time."""
    text = (value or "").strip()
    if not text:
        return None
    parsed = None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        for pattern in _LOCAL_TIME_FORMATS:
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        if default_zone is None:
            return None
        parsed = parsed.replace(tzinfo=default_zone)
    return parsed


def shipments_by_tracking(pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], list[Shipment]]:
    """Shipments keyed by (carrier id, tracking number). Orders to one address may share a waybill
    (a merged parcel), so a number can stand for several shipments; each gets the scan."""
    by_carrier: dict[int, set[str]] = defaultdict(set)
    for carrier_id, tracking_no in pairs:
        by_carrier[carrier_id].add(tracking_no)
    found: dict[tuple[int, str], list[Shipment]] = defaultdict(list)
    for carrier_id, numbers in by_carrier.items():
        for chunk in _in_chunks(sorted(numbers)):
            for shipment in Shipment.objects.filter(carrier_id=carrier_id, tracking_no__in=chunk).order_by(
                "id"
            ):
                found[(carrier_id, shipment.tracking_no)].append(shipment)
    return found


@dataclass(frozen=True)
class ScanData:
    tracking_no: str  # normalised
    kind: str
    occurred_at: datetime
    location: str = ""
    description: str = ""
    consignee_address: str = ""  # what the carrier holds as the recipient's address, if it says


def scans_record(
    *, carrier: Carrier, scans: list[ScanData], shipments: dict[tuple[int, str], list[Shipment]], source: str
) -> tuple[bool | None, ...]:
    """Record each scan on every shipment with its number: True stored, False already stored, None no
    such shipment. The caller decides the transaction (a webhook call: all or nothing)."""
    outcomes: list[bool | None] = []
    for scan in scans:
        targets = shipments.get((carrier.pk, scan.tracking_no), [])
        if not targets:
            outcomes.append(None)
            continue
        created_any = False
        for shipment in targets:
            _event, created = tracking_event_record(
                shipment=shipment,
                kind=scan.kind,
                occurred_at=scan.occurred_at,
                location=scan.location,
                description=scan.description,
                source=source,
                consignee_address=scan.consignee_address,
            )
            created_any = created_any or created
        outcomes.append(created_any)
    return tuple(outcomes)


@dataclass
class TrackingRowResult:
    line: int
    tracking_no: str
    outcome: str  # stored | duplicate | error
    errors: list[RowError] = field(default_factory=list)


@dataclass
class TrackingImportResult:
    rows: list[TrackingRowResult]

    @property
    def errors(self) -> list[RowError]:
        return [e for r in self.rows for e in r.errors]

    @property
    def stored(self) -> int:
        return sum(1 for r in self.rows if r.outcome == "stored")

    @property
    def duplicates(self) -> int:
        return sum(1 for r in self.rows if r.outcome == "duplicate")

    @property
    def refused(self) -> int:
        return sum(1 for r in self.rows if r.outcome == "error")


def tracking_events_import(*, data: bytes, now: datetime | None = None) -> TrackingImportResult:
    """Record a carrier's scans from a CSV/XLSX of carrier,tracking_no,kind,occurred_at[,location,description].

    Each row is stored once (a file uploaded again changes nothing) through `tracking_event_record`,
    so the first pickup becomes the dispatch time and a delivery scan delivers. A row naming no known
    shipment, or with a bad carrier, kind or time, is reported; the other rows are still stored.
    """
    now = now or timezone.now()
    rows = read_table(
        data,
        required=TRACKING_COLUMNS_REQUIRED,
        optional=TRACKING_COLUMNS_OPTIONAL,
        max_bytes=settings.LISTING_UPLOAD_MAX_BYTES,
    )
    carriers = carriers_by_name()
    parsed: list[tuple[TrackingRowResult, Carrier | None, ScanData | None]] = []
    for row in rows:
        result, carrier, scan = _tracking_row_parse(row, carriers, now)
        parsed.append((result, carrier, scan))
    shipments = shipments_by_tracking(
        (carrier.pk, scan.tracking_no) for _result, carrier, scan in parsed if scan is not None
    )
    for result, carrier, scan in parsed:
        if scan is None:
            continue
        try:
            with transaction.atomic():
                (outcome,) = scans_record(carrier=carrier, scans=[scan], shipments=shipments, source="csv")
        except DomainError as exc:
            result.outcome = "error"
            result.errors = [RowError(result.line, "tracking_no", m) for m in exc.messages]
            continue
        if outcome is None:
            result.outcome = "error"
            result.errors = [
                RowError(
                    result.line,
                    "tracking_no",
                    _("no %(carrier)s shipment has tracking number %(number)s")
                    % {"carrier": carrier.name, "number": scan.tracking_no},
                )
            ]
        else:
            result.outcome = "stored" if outcome else "duplicate"
    return TrackingImportResult(rows=[result for result, _carrier, _scan in parsed])


def _tracking_row_parse(
    row: SheetRow, carriers: dict[str, Carrier], now: datetime
) -> tuple[TrackingRowResult, Carrier | None, ScanData | None]:
    errors: list[RowError] = []
    values = row.values
    carrier_value = values.get("carrier", "")
    carrier = carriers.get(carrier_value.strip().lower())
    if not carrier_value:
        errors.append(RowError(row.line, "carrier", _("required")))
    elif carrier is None:
        errors.append(RowError(row.line, "carrier", _unknown_carrier(carrier_value, carriers)))
    tracking_no = normalise_tracking_no(values.get("tracking_no", ""))
    if not tracking_no:
        errors.append(RowError(row.line, "tracking_no", _("required")))
    kind = tracking_kind(values.get("kind", ""))
    if kind is None:
        errors.append(
            RowError(
                row.line,
                "kind",
                _("must be one of %(kinds)s; got %(value)s")
                % {
                    "kinds": ", ".join(TrackingEvent.Kind.values),
                    "value": values.get("kind") or _("(empty)"),
                },
            )
        )
    occurred_at = scan_time(values.get("occurred_at", ""))
    if occurred_at is None:
        errors.append(
            RowError(
                row.line,
                "occurred_at",
                _("not a time: %(value)s (use ISO-8601 or YYYY-MM-DD HH:MM:SS, China time)")
                % {"value": values.get("occurred_at") or _("(empty)")},
            )
        )
    elif occurred_at > now + SCAN_CLOCK_TOLERANCE:
        errors.append(
            RowError(
                row.line,
                "occurred_at",
                _("%(value)s is in the future") % {"value": values.get("occurred_at")},
            )
        )
    result = TrackingRowResult(
        line=row.line, tracking_no=tracking_no, outcome="error" if errors else "pending", errors=errors
    )
    if errors:
        return result, carrier, None
    scan = ScanData(
        tracking_no=tracking_no,
        kind=kind,
        occurred_at=occurred_at,
        location=values.get("location", ""),
        description=values.get("description", ""),
        consignee_address=values.get("consignee_address", "")[:300],
    )
    return result, carrier, scan
