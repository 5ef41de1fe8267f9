"""Reads of orders, always scoped to one store the acting user is a member of (see merchants.selectors)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, F, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from merchants.models import Store
from orders.models import (
    Carrier,
    Fulfilment,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Shipment,
    TrackingEvent,
)
from orders.services import normalise_tracking_no


@dataclass(frozen=True)
class OrderFilters:
    status: str | None = None
    due_within_hours: int | None = None  # awaiting dispatch and due within N hours (not yet overdue)
    overdue: bool = False  # awaiting dispatch and past the deadline
    fulfilment: str | None = None
    paid_from: date | None = None
    paid_to: date | None = None  # inclusive
    search: str | None = None  # order number or tracking number, exact


def orders_for_store(
    *, store: Store, filters: OrderFilters | None = None, now: datetime | None = None
) -> QuerySet[Order]:
    """The store's orders, newest paid first, with what a list row shows (shipment, carrier) joined."""
    filters = filters or OrderFilters()
    now = now or timezone.now()
    qs = Order.objects.filter(store=store).select_related("shipment__carrier")
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.overdue:
        qs = qs.filter(status=OrderStatus.PAID, dispatch_deadline__lt=now)
    if filters.due_within_hours is not None:
        qs = qs.filter(
            status=OrderStatus.PAID,
            dispatch_deadline__gte=now,
            dispatch_deadline__lte=now + timedelta(hours=filters.due_within_hours),
        )
    if filters.fulfilment:
        qs = qs.filter(fulfilment=filters.fulfilment)
    zone = ZoneInfo(store.time_zone)  # paid dates are the store's calendar days
    if filters.paid_from:
        qs = qs.filter(paid_at__gte=datetime.combine(filters.paid_from, time(0), tzinfo=zone))
    if filters.paid_to:
        qs = qs.filter(
            paid_at__lt=datetime.combine(filters.paid_to + timedelta(days=1), time(0), tzinfo=zone)
        )
    if filters.search:
        term = filters.search.strip()
        # Two index lookups instead of an OR across a join.
        by_tracking = Shipment.objects.filter(
            order__store=store, tracking_no=normalise_tracking_no(term)
        ).values("order_id")
        qs = qs.filter(Q(order_no=term) | Q(pk__in=by_tracking))
    if filters.overdue or filters.due_within_hours is not None:
        return qs.order_by("dispatch_deadline", "id")
    return qs.order_by("-paid_at", "-id")


def order_for_store(*, store: Store, order_id: int) -> Order:
    """One order of the store with its lines, shipment, tracking events and timeline; 404 otherwise."""
    order = (
        Order.objects.filter(store=store, pk=order_id)
        .select_related("shipment__carrier")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("id")),
            Prefetch(
                "events", queryset=OrderEvent.objects.select_related("actor").order_by("created_at", "id")
            ),
        )
        .first()
    )
    if order is None:
        raise Http404(_("No such order."))
    return order


def tracking_events_for(*, order: Order) -> list[TrackingEvent]:
    shipment = getattr(order, "shipment", None)
    if shipment is None:
        return []
    return list(shipment.events.order_by("occurred_at", "id"))


def active_carriers(*, cross_border: bool | None = None) -> QuerySet[Carrier]:
    qs = Carrier.objects.filter(is_active=True)
    if cross_border is not None:
        qs = qs.filter(is_cross_border=cross_border)
    return qs.order_by("is_cross_border", "code")


# --- Violation causes (registered with merchants.causes in OrdersConfig.ready) ---------------------------


def _order_pk(cause_id: str) -> int | None:
    """Order causes are `<order id>`, `<order id>:<strike>` or `demo-<order id>`."""
    head = cause_id.removeprefix("demo-").split(":", 1)[0]
    return int(head) if head.isdigit() else None


def order_cause_links(store_code: str, cause_ids: list[str]) -> dict[str, str]:
    from django.urls import reverse

    return {
        cause_id: reverse("order-detail", args=[store_code, pk])
        for cause_id in cause_ids
        if (pk := _order_pk(cause_id)) is not None
    }


def shipment_cause_links(store_code: str, cause_ids: list[str]) -> dict[str, str]:
    from django.urls import reverse

    ids = [int(c) for c in cause_ids if c.isdigit()]
    orders = dict(
        Shipment.objects.filter(pk__in=ids, order__store__code=store_code).values_list("pk", "order_id")
    )
    return {str(pk): reverse("order-detail", args=[store_code, order_id]) for pk, order_id in orders.items()}


# --- Experience-score figures (registered with merchants.scoring in OrdersConfig.ready) ------------------


def _share(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001")) if whole else None


def order_score_figures(*, start: datetime, end: datetime) -> dict[int, dict[str, Decimal | int | None]]:
    """Per store, over [start, end): paid orders, the late-dispatch rate (orders due), the average hours from
    payment to dispatch, the valid-tracking rate (shipments with a pickup scan in time and no anomaly), the
    delivery attainment and the quality-return rate (refunds after delivery). Four grouped queries."""
    from merchants.selectors import rule_int

    seller = ~Q(fulfilment=Fulfilment.PLATFORM)
    figures: dict[int, dict[str, Decimal | int | None]] = {}

    def put(store_id, **values):
        figures.setdefault(store_id, {}).update(values)

    for row in (
        Order.objects.filter(paid_at__gte=start, paid_at__lt=end)
        .values("store_id")
        .annotate(
            paid=Count("id"),
            dispatched=Count("id", filter=seller & Q(dispatched_at__isnull=False)),
            pickup=Avg(F("dispatched_at") - F("paid_at"), filter=seller & Q(dispatched_at__isnull=False)),
        )
        .order_by()
    ):
        hours = row["pickup"].total_seconds() / 3600 if row["pickup"] is not None else None
        put(
            row["store_id"],
            paid_orders=row["paid"],
            pickup_hours=Decimal(str(round(hours, 2))) if hours is not None else None,
        )

    closed_in_time = Q(dispatched_at__isnull=True, closed_at__lte=F("dispatch_deadline"))
    late = Q(dispatched_at__gt=F("dispatch_deadline")) | Q(dispatched_at__isnull=True) & (
        Q(closed_at__isnull=True) | Q(closed_at__gt=F("dispatch_deadline"))
    )
    for row in (
        Order.objects.filter(
            seller, dispatch_deadline__gte=start, dispatch_deadline__lt=min(end, timezone.now())
        )
        .exclude(closed_in_time)
        .values("store_id")
        .annotate(due=Count("id"), late=Count("id", filter=late))
        .order_by()
    ):
        put(row["store_id"], late_dispatch_rate=_share(row["late"], row["due"]))

    pickup_within = timedelta(hours=rule_int("tracking_overdue_hours"))
    judged_until = (
        min(end, timezone.now()) - pickup_within
    )  # younger shipments may still be picked up in time
    for row in (
        Shipment.objects.filter(created_at__gte=start, created_at__lt=judged_until)
        .exclude(order__fulfilment=Fulfilment.PLATFORM)
        .values("order__store_id")
        .annotate(
            shipments=Count("id"),
            valid=Count("id", filter=Q(anomaly="", first_pickup_at__lte=F("created_at") + pickup_within)),
        )
        .order_by()
    ):
        put(row["order__store_id"], valid_tracking_rate=_share(row["valid"], row["shipments"]))

    target = timedelta(hours=rule_int("score_delivery_target_hours"))
    for row in (
        Order.objects.filter(delivered_at__gte=start, delivered_at__lt=end)
        .values("store_id")
        .annotate(
            delivered=Count("id"),
            in_time=Count("id", filter=Q(delivered_at__lte=F("dispatched_at") + target)),
            returned=Count("id", filter=Q(status=OrderStatus.REFUNDED)),
        )
        .order_by()
    ):
        put(
            row["store_id"],
            delivery_attainment=_share(row["in_time"], row["delivered"]),
            quality_return_rate=_share(row["returned"], row["delivered"]),
        )
    return figures
