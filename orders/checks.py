"""Order checks of the compliance engine: set-based, idempotent (one violation per cause), single-flight.

Each check finds what is due with one query per condition, on a partial index made for it (open orders,
late shipments, shipments awaiting pickup, shipments by pickup delay, anomalous shipments), leaves out what
is already recorded with an anti-join on the violations' unique key, and records the rest in batches through
`merchants.services.violations_record_many`: each batch is one transaction, so a worker killed mid-run
loses at most the batch it was writing, and the next run finds exactly what is still missing.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db import connection
from django.db.models import (
    CharField,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast, Concat, TruncDate
from django.utils import timezone

from merchants.locks import single_flight
from merchants.models import Listing, Sanction, Violation
from merchants.selectors import rule_decimals
from merchants.services import ViolationCause, listing_late_rate_escalate, violations_record_many
from orders.models import Fulfilment, Order, OrderLine, OrderStatus, Shipment, TrackingAnomaly
from orders.rules import LateRateDay, LateRateRules, late_rate_escalation, promised_hours

BATCH = 2000  # causes per transaction


@dataclass
class LateDispatchResult:
    strikes: int = 0
    out_of_stock: int = 0
    skipped: bool = False

    def __str__(self):
        skipped = " (another run holds the lock)" if self.skipped else ""
        return f"strikes={self.strikes} out_of_stock={self.out_of_stock}{skipped}"


@dataclass
class TrackingCheckResult:
    overdue: int = 0
    false_dispatch: int = 0
    skipped: bool = False

    def __str__(self):
        skipped = " (another run holds the lock)" if self.skipped else ""
        return f"tracking_overdue={self.overdue} false_dispatch={self.false_dispatch}{skipped}"


def _without_violation(queryset: QuerySet, *, type_code: str, cause_kind: str, suffix: str = "") -> QuerySet:
    """Rows that have no violation of this type for the cause `<row id><suffix>` yet."""
    cause_id = Concat(Cast(OuterRef("pk"), CharField()), Value(suffix), output_field=CharField())
    recorded = Violation.objects.filter(
        violation_type__code=type_code, cause_kind=cause_kind, cause_id=cause_id
    )
    return queryset.exclude(Exists(recorded))


def _record(type_code: str, causes: Iterable[ViolationCause], *, now: datetime) -> int:
    """Record the causes in batches of BATCH, each batch in its own transaction; the number recorded."""
    created, batch = 0, []
    for cause in causes:
        batch.append(cause)
        if len(batch) >= BATCH:
            created += len(violations_record_many(type_code=type_code, causes=batch, now=now))
            batch = []
    if batch:
        created += len(violations_record_many(type_code=type_code, causes=batch, now=now))
    if created >= BATCH and connection.vendor == "postgresql":
        # The next condition's anti-join reads the violations: with statistics from before this burst
        # (autovacuum analyses a minute later at best) the planner may think the table empty and scan it
        # once per order. A fresh sample costs milliseconds.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Violation._meta.db_table}")
    return created


ORDER_FIELDS = ("pk", "store_id", "order_no", "paid_at", "dispatch_deadline", "amount_paid")


def _seller_orders() -> QuerySet[Order]:
    # The platform ships its own orders: a late platform dispatch is not the seller's violation.
    return Order.objects.exclude(fulfilment=Fulfilment.PLATFORM)


def late_dispatch_check(*, now: datetime | None = None) -> LateDispatchResult:
    """Strike each late order at its deadline and again every re-judge period, at most N times; an order
    still unshipped long after its deadline is out of stock. Compensation is paid with the first strike.

    Late means still awaiting dispatch (the open-orders index) or dispatched after the strike's moment
    (the late-dispatch index, over the look-back period: a strike missed while the engine was down); the
    same holds for out of stock."""
    now = now or timezone.now()
    result = LateDispatchResult()
    params = rule_decimals(
        "late_dispatch_rejudge_hours",
        "late_dispatch_max_strikes",
        "out_of_stock_after_hours",
        "engine_lookback_days",
    )
    rejudge = timedelta(hours=int(params["late_dispatch_rejudge_hours"]))
    lookback = timedelta(days=int(params["engine_lookback_days"]))
    with single_flight("late_dispatch_check") as acquired:
        if not acquired:
            result.skipped = True
            return result
        for strike in range(1, int(params["late_dispatch_max_strikes"]) + 1):
            offset = rejudge * (strike - 1)
            unshipped = _seller_orders().filter(status=OrderStatus.PAID, dispatch_deadline__lte=now - offset)
            shipped_late = shipped_late_since(now=now, after=offset, lookback=lookback)

            def strikes(queryset, strike=strike, offset=offset) -> Iterator[ViolationCause]:
                due = _without_violation(
                    queryset, type_code="late_dispatch", cause_kind="order", suffix=f":{strike}"
                )
                for pk, store_id, order_no, paid_at, deadline, amount in due.values_list(
                    *ORDER_FIELDS
                ).iterator(chunk_size=BATCH):
                    yield ViolationCause(
                        store_id=store_id,
                        cause_kind="order",
                        cause_id=f"{pk}:{strike}",
                        cause_label=f"{order_no} #{strike}",
                        occurred_at=deadline + offset,
                        amount_paid=amount if strike == 1 else None,
                        promised_hours=promised_hours(paid_at=paid_at, deadline=deadline),
                    )

            result.strikes += _record("late_dispatch", strikes(unshipped), now=now)
            result.strikes += _record("late_dispatch", strikes(shipped_late), now=now)

        out_of_stock_at = timedelta(hours=int(params["out_of_stock_after_hours"]))

        def out_of_stock(queryset) -> Iterator[ViolationCause]:
            due = _without_violation(queryset, type_code="out_of_stock", cause_kind="order")
            for pk, store_id, order_no, paid_at, deadline, amount in due.values_list(*ORDER_FIELDS).iterator(
                chunk_size=BATCH
            ):
                yield ViolationCause(
                    store_id=store_id,
                    cause_kind="order",
                    cause_id=str(pk),
                    cause_label=order_no,
                    occurred_at=deadline + out_of_stock_at,
                    amount_paid=amount,
                    promised_hours=promised_hours(paid_at=paid_at, deadline=deadline),
                )

        unshipped = _seller_orders().filter(
            status=OrderStatus.PAID, dispatch_deadline__lte=now - out_of_stock_at
        )
        result.out_of_stock += _record("out_of_stock", out_of_stock(unshipped), now=now)
        result.out_of_stock += _record(
            "out_of_stock",
            out_of_stock(shipped_late_since(now=now, after=out_of_stock_at, lookback=lookback)),
            now=now,
        )
    return result


def shipped_late_since(*, now: datetime, after: timedelta, lookback: timedelta) -> QuerySet[Order]:
    """Seller orders dispatched more than `after` past their deadline, dispatched inside the look-back and
    due by `now`: what a check missed while it was not running (the late-dispatch index)."""
    return (
        _seller_orders()
        .filter(
            # The late-dispatch index's predicate, written as it is, so the planner uses the index; then
            # the condition's own.
            dispatched_at__gt=F("dispatch_deadline"),
        )
        .filter(
            dispatched_at__gt=F("dispatch_deadline") + after,
            dispatched_at__gte=now - lookback,
            dispatch_deadline__lte=now - after,
        )
    )


SHIPMENT_FIELDS = (
    "pk",
    "order__store_id",
    "order__order_no",
    "tracking_no",
    "created_at",
    "order__amount_paid",
)


def _seller_shipments(*, now: datetime, lookback: timedelta) -> QuerySet[Shipment]:
    return Shipment.objects.filter(created_at__gte=now - lookback).exclude(
        order__fulfilment=Fulfilment.PLATFORM
    )


# How long after the tracking number the first pickup scan came. On PostgreSQL an index on this expression
# (orders migration 0007, shipment_pickup_delay) holds the picked-up shipments ordered by their delay, so the
# few that came more than a day late are read without the rest.
PICKUP_DELAY = ExpressionWrapper(F("first_pickup_at") - F("created_at"), output_field=DurationField())


def picked_up_late(shipments: QuerySet[Shipment], *, after: timedelta) -> QuerySet[Shipment]:
    """Shipments whose first pickup scan came more than `after` after the tracking number: judged as if the
    scan had not come (a run missed while the engine was down), on the pickup-delay index."""
    return shipments.alias(pickup_delay=PICKUP_DELAY).filter(
        first_pickup_at__isnull=False, pickup_delay__gt=after
    )


def tracking_check(*, now: datetime | None = None) -> TrackingCheckResult:
    """Judge shipments by the carrier's data: no pickup scan some hours after the tracking number was given
    is tracking overdue; no pickup scan for longer, a pickup scan earlier than payment, or a consignee who is
    not the order's recipient is false dispatch (one per shipment, with the consumer's compensation).

    A pickup scan that came after those hours while the engine was down is judged as if it had not come
    yet (the pickup-delay index, over the look-back period), so an outage leaves no gap."""
    now = now or timezone.now()
    result = TrackingCheckResult()
    params = rule_decimals("tracking_overdue_hours", "false_dispatch_no_pickup_hours", "engine_lookback_days")
    lookback = timedelta(days=int(params["engine_lookback_days"]))
    overdue_after = timedelta(hours=int(params["tracking_overdue_hours"]))
    false_after = timedelta(hours=int(params["false_dispatch_no_pickup_hours"]))
    with single_flight("tracking_check") as acquired:
        if not acquired:
            result.skipped = True
            return result
        shipments = _seller_shipments(now=now, lookback=lookback)

        def causes(queryset, *, type_code: str, why: dict | str, after: timedelta | None):
            due = _without_violation(queryset, type_code=type_code, cause_kind="shipment")
            fields = (*SHIPMENT_FIELDS, "anomaly")
            for pk, store_id, order_no, tracking_no, created_at, amount, anomaly in due.values_list(
                *fields
            ).iterator(chunk_size=BATCH):
                label = why if isinstance(why, str) else why[anomaly]
                yield ViolationCause(
                    store_id=store_id,
                    cause_kind="shipment",
                    cause_id=str(pk),
                    cause_label=f"{order_no} {tracking_no} ({label})"[:100],
                    occurred_at=created_at + after if after else now,
                    amount_paid=amount,
                )

        awaiting = shipments.filter(first_pickup_at__isnull=True)
        for type_code, after, counter in (
            ("tracking_overdue", overdue_after, "overdue"),
            ("false_dispatch", false_after, "false_dispatch"),
        ):
            # Still without a pickup scan, or with one that came too late (while the engine was down).
            for due, why in (
                (awaiting.filter(created_at__lte=now - after), "no pickup scan"),
                (picked_up_late(shipments, after=after), "late pickup scan"),
            ):
                recorded = _record(type_code, causes(due, type_code=type_code, why=why, after=after), now=now)
                setattr(result, counter, getattr(result, counter) + recorded)
        result.false_dispatch += _record(
            "false_dispatch",
            causes(
                shipments.exclude(anomaly=""),
                type_code="false_dispatch",
                why={value: value.replace("_", " ") for value in TrackingAnomaly.values},
                after=None,
            ),
            now=now,
        )
    return result


@dataclass
class LateRateResult:
    banned: int = 0
    severe: int = 0
    skipped: bool = False

    def __str__(self):
        skipped = " (another run holds the lock)" if self.skipped else ""
        return f"products_banned={self.banned} severe={self.severe}{skipped}"


def late_rate_days(*, start: datetime, end: datetime) -> dict[tuple[int, str], list[LateRateDay]]:
    """Per (store, SKU), each day's orders due and those dispatched late, for deadlines in [start, end):
    one grouped query. An order cancelled or refunded before its deadline without dispatch is not counted;
    one still unshipped at its deadline (the window ends before now) is late."""
    zone = timezone.get_default_timezone()
    late = Q(order__dispatched_at__gt=F("order__dispatch_deadline")) | Q(
        order__dispatched_at__isnull=True
    ) & (Q(order__closed_at__isnull=True) | Q(order__closed_at__gt=F("order__dispatch_deadline")))
    closed_in_time = Q(order__dispatched_at__isnull=True, order__closed_at__lte=F("order__dispatch_deadline"))
    rows = (
        OrderLine.objects.filter(order__dispatch_deadline__gte=start, order__dispatch_deadline__lt=end)
        .exclude(order__fulfilment=Fulfilment.PLATFORM)
        .exclude(closed_in_time)
        .annotate(day=TruncDate("order__dispatch_deadline", tzinfo=zone))
        .values("order__store_id", "sku", "day")
        .annotate(due=Count("order_id", distinct=True), late=Count("order_id", filter=late, distinct=True))
        .order_by()
    )
    days: dict[tuple[int, str], list[LateRateDay]] = {}
    for row in rows:
        days.setdefault((row["order__store_id"], row["sku"]), []).append(
            LateRateDay(late=row["late"], due=row["due"])
        )
    return days


def late_rate_check(*, now: datetime | None = None) -> LateRateResult:
    """Daily: judge each product's late-dispatch rate over the last complete days (RULES §4). A product above
    the ban rate on enough days is banned from sale for some days; above the severe rate, banned longer and
    the store's new orders restricted as long. Once per product per window: a product already banned for
    lateness since the window began is not banned again for the same days."""
    now = now or timezone.now()
    result = LateRateResult()
    params = rule_decimals(
        "late_rate_ban_rate",
        "late_rate_ban_min_late_orders",
        "late_rate_ban_days",
        "late_rate_window_days",
        "late_rate_ban_duration_days",
        "late_rate_severe_rate",
        "late_rate_severe_min_late_orders",
        "late_rate_severe_duration_days",
    )
    rules = LateRateRules(
        ban_rate=params["late_rate_ban_rate"],
        ban_min_late=int(params["late_rate_ban_min_late_orders"]),
        severe_rate=params["late_rate_severe_rate"],
        severe_min_late=int(params["late_rate_severe_min_late_orders"]),
        days_needed=int(params["late_rate_ban_days"]),
    )
    zone = timezone.get_default_timezone()
    today = timezone.localdate(now, zone)
    end = datetime.combine(today, time(0), tzinfo=zone)
    start = end - timedelta(days=int(params["late_rate_window_days"]))
    with single_flight("late_rate_check") as acquired:
        if not acquired:
            result.skipped = True
            return result
        escalations = {
            key: level
            for key, days in late_rate_days(start=start, end=end).items()
            if (level := late_rate_escalation(days=days, rules=rules))
        }
        if not escalations:
            return result
        listings = list(
            Listing.objects.filter(
                functools.reduce(
                    operator.or_, (Q(store_id=store_id, sku=sku) for store_id, sku in escalations)
                )
            ).select_related("store")
        )
        already = set(
            Sanction.objects.filter(
                kind=Sanction.Kind.PRODUCT_BAN,
                listing__in=listings,
                cause_key__startswith="late-rate:",
                starts_at__gte=start,
            ).values_list("listing_id", flat=True)
        )
        for listing in listings:
            if listing.pk in already:
                continue
            level = escalations[(listing.store_id, listing.sku)]
            days = int(
                params[
                    "late_rate_severe_duration_days" if level == "severe" else "late_rate_ban_duration_days"
                ]
            )
            listing_late_rate_escalate(
                listing=listing, severe=level == "severe", days=days, now=now, window_end=today
            )
            result.banned += 1
            result.severe += level == "severe"
    return result
