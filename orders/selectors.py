"""Reads of orders, always scoped to one store the acting user is a member of (see merchants.selectors)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from merchants.models import Store
from orders.models import Carrier, Order, OrderEvent, OrderLine, OrderStatus, Shipment, TrackingEvent
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
