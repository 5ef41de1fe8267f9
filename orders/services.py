"""Writes and workflows of orders: creation, shipping, tracking, cancellation, receipt, buyer-data reveals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from merchants.errors import ActionForbidden, DomainError, TransitionRefused
from merchants.models import Listing, Membership, SettlementEntry, Store
from merchants.roles import MANAGE_ORDERS, REVEAL_BUYER_DATA, role_can
from merchants.selectors import banned_skus, rule_decimals, rule_int
from merchants.services import settlement_record
from orders.crypto import digest
from orders.models import (
    BuyerDataReveal,
    Carrier,
    Fulfilment,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Shipment,
    TrackingAnomaly,
    TrackingEvent,
)
from orders.rules import FeeLine, order_dispatch_deadline, order_settlement, service_fee


class OrderRefused(DomainError):
    """An order action the rules refuse; `field_errors` maps form fields to messages."""

    def __init__(self, *messages: str, field_errors: dict[str, list[str]] | None = None):
        self.field_errors = field_errors or {}
        super().__init__(*messages, *[m for ms in self.field_errors.values() for m in ms])


def require_order_capability(actor, store: Store, capability: str) -> None:
    """Sellers need the role; staff need the matching model permission; the engine (None) passes."""
    if actor is None:
        return
    if actor.is_staff and actor.has_perm("orders.change_order"):
        return
    role = Membership.objects.filter(user=actor, store=store).values_list("role", flat=True).first()
    if role is None or not role_can(role, capability):
        raise ActionForbidden(_("Your role on this store does not allow this action."))


def _event(order: Order, kind: str, *, actor=None, before="", reason="", data=None, at=None) -> OrderEvent:
    return OrderEvent.objects.create(
        order=order,
        kind=kind,
        actor=actor,
        from_status=before,
        to_status=order.status,
        reason=reason or "",
        data=data or {},
        created_at=at or timezone.now(),
    )


# --- Creation -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineData:
    sku: str
    title: str
    quantity: int
    unit_price: Decimal
    promised_dispatch: str
    listing: Listing | None = None
    service_fee_rate: Decimal | None = None  # defaults to the listing's category rate


@dataclass(frozen=True)
class RecipientData:
    name: str
    phone: str
    region: str  # province, city, district
    address: str  # street, building, room


@dataclass(frozen=True)
class OrderRules:
    """The rule-table numbers an order's deadline and fee need, read once (a bulk load reads them once)."""

    same_day_cutoff_hour: int
    new_store_fee_days: int
    new_store_fee_rate: Decimal

    @classmethod
    def current(cls) -> OrderRules:
        params = rule_decimals("same_day_cutoff_hour", "new_store_fee_days", "new_store_fee_rate")
        return cls(
            same_day_cutoff_hour=int(params["same_day_cutoff_hour"]),
            new_store_fee_days=int(params["new_store_fee_days"]),
            new_store_fee_rate=params["new_store_fee_rate"],
        )


def order_build(
    *,
    store: Store,
    order_no: str,
    paid_at: datetime,
    amount_paid: Decimal,
    lines: list[LineData],
    recipient: RecipientData,
    is_advertising: bool,
    fulfilment: str,
    buyer_message: str,
    rules: OrderRules,
) -> tuple[Order, list[OrderLine]]:
    """An unsaved order and its lines with the deadline (shortest promise) and the technical service fee."""
    zone = ZoneInfo(store.time_zone)
    deadline = order_dispatch_deadline(
        paid_at=paid_at,
        promises=[line.promised_dispatch for line in lines],
        zone=zone,
        same_day_cutoff_hour=rules.same_day_cutoff_hour,
    )
    rates = [
        line.service_fee_rate
        if line.service_fee_rate is not None
        else (
            line.listing.category.service_fee_rate if line.listing else store.main_category.service_fee_rate
        )
        for line in lines
    ]
    store_age_days = (paid_at.astimezone(zone).date() - store.opened_on).days if store.opened_on else None
    fee = service_fee(
        amount_paid=amount_paid,
        lines=[
            FeeLine(subtotal=line.unit_price * line.quantity, rate=rate)
            for line, rate in zip(lines, rates, strict=True)
        ],
        is_advertising=is_advertising,
        store_age_days=store_age_days,
        new_store_days=rules.new_store_fee_days,
        new_store_rate=rules.new_store_fee_rate,
    )
    order = Order(
        store=store,
        order_no=order_no,
        paid_at=paid_at,
        dispatch_deadline=deadline,
        amount_paid=amount_paid,
        service_fee=fee,
        is_advertising=is_advertising,
        fulfilment=fulfilment,
        recipient_name=recipient.name,
        recipient_phone=recipient.phone,
        recipient_region=recipient.region,
        recipient_address=recipient.address,
        address_digest=digest(f"{recipient.region} {recipient.address}"),
        buyer_message=buyer_message[:500],
    )
    order_lines = [
        OrderLine(
            order=order,
            listing=line.listing,
            sku=line.sku,
            title=line.title,
            quantity=line.quantity,
            unit_price=line.unit_price,
            promised_dispatch=line.promised_dispatch,
            service_fee_rate=rate,
        )
        for line, rate in zip(lines, rates, strict=True)
    ]
    return order, order_lines


def _store_time_text(moment: datetime | None, store: Store) -> str:
    if moment is None:
        return _("further notice")
    return moment.astimezone(ZoneInfo(store.time_zone)).strftime("%Y-%m-%d %H:%M")


def order_create(
    *,
    store: Store,
    order_no: str,
    paid_at: datetime,
    amount_paid: Decimal,
    lines: list[LineData],
    recipient: RecipientData,
    is_advertising: bool = False,
    fulfilment: str = Fulfilment.SELLER,
    buyer_message: str = "",
    actor=None,
    check_store: bool = True,
) -> Order:
    """Record a paid order: its dispatch deadline (the shortest promise) and its technical service fee."""
    if check_store and not store.can_take_orders:
        raise OrderRefused(_("The store may not take new orders at the moment."))
    if not lines:
        raise OrderRefused(_("An order needs at least one line."))
    if any(line.quantity <= 0 for line in lines):
        raise OrderRefused(_("Every line needs a quantity of at least 1."))
    if check_store:
        banned = banned_skus(store=store)
        for line in lines:
            if line.sku in banned:
                raise OrderRefused(
                    _("Product %(sku)s is banned from sale until %(until)s (late dispatch).")
                    % {"sku": line.sku, "until": _store_time_text(banned[line.sku], store)}
                )
    order, order_lines = order_build(
        store=store,
        order_no=order_no,
        paid_at=paid_at,
        amount_paid=amount_paid,
        lines=lines,
        recipient=recipient,
        is_advertising=is_advertising,
        fulfilment=fulfilment,
        buyer_message=buyer_message,
        rules=OrderRules.current(),
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                order.save()
        except IntegrityError as exc:
            raise OrderRefused(
                _("The store already has an order %(order_no)s.") % {"order_no": order_no}
            ) from exc
        OrderLine.objects.bulk_create(order_lines)
        _event(
            order,
            "paid",
            actor=actor,
            data={"deadline": order.dispatch_deadline.isoformat(), "fee": str(order.service_fee)},
            at=paid_at,
        )
    return order


# --- Shipping and tracking ------------------------------------------------------------------------


def normalise_tracking_no(value: str) -> str:
    return re.sub(r"[\s-]+", "", value or "").upper()


def tracking_problem(*, carrier: Carrier, tracking_no: str) -> str | None:
    if not tracking_no:
        return _("Enter the tracking number.")
    if not re.fullmatch(carrier.tracking_pattern, tracking_no):
        if carrier.tracking_example:
            return _("%(number)s is not a %(carrier)s tracking number (e.g. %(example)s).") % {
                "number": tracking_no,
                "carrier": carrier.name,
                "example": carrier.tracking_example,
            }
        return _("%(number)s is not a %(carrier)s tracking number.") % {
            "number": tracking_no,
            "carrier": carrier.name,
        }
    return None


def waybill_reused_message(tracking_no: str) -> str:
    """RULES §4: a waybill already used on another order to a different address is refused."""
    return _(
        "%(number)s was already used for another order to a different address; a waybill cannot be reused."
    ) % {"number": tracking_no}


def _lock_waybill(carrier_code: str, tracking_no: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"waybill:{carrier_code}:{tracking_no}"]
            )


def _waybill_take(*, order: Order, carrier: Carrier, tracking_no: str) -> str:
    """The tracking number as stored, once the carrier is accepted, the number has its format and no other
    order to another address has it; raises OrderRefused (on `carrier` or `tracking_no`) otherwise. In the
    caller's transaction."""
    if not carrier.is_active:
        raise OrderRefused(
            field_errors={"carrier": [_("%(carrier)s is not accepted at the moment.") % {"carrier": carrier}]}
        )
    tracking_no = normalise_tracking_no(tracking_no)
    problem = tracking_problem(carrier=carrier, tracking_no=tracking_no)
    if problem:
        raise OrderRefused(field_errors={"tracking_no": [problem]})
    # Serialise shipments of the same waybill so two orders to different addresses cannot both take it.
    _lock_waybill(carrier.code, tracking_no)
    reused = (
        Shipment.objects.filter(carrier=carrier, tracking_no=tracking_no)
        .exclude(order=order)
        .exclude(address_digest=order.address_digest)
        .exists()
    )
    if reused:
        raise OrderRefused(field_errors={"tracking_no": [waybill_reused_message(tracking_no)]})
    return tracking_no


@transaction.atomic
def shipment_correct(
    *, order: Order, carrier: Carrier, tracking_no: str, actor=None, now: datetime | None = None
) -> Shipment:
    """Give a shipped order the carrier and tracking number it really left with (a mistyped number, the
    parcel handed to another carrier), as long as no carrier has scanned it: a scanned parcel's waybill is
    evidence and stays. The tracking check's clock keeps running from the first number given."""
    now = now or timezone.now()
    # The shipment first, then the order: the order in which a carrier's scan locks them.
    shipment = (
        Shipment.objects.select_for_update().select_related("carrier").filter(order_id=order.pk).first()
    )
    order = Order.objects.select_for_update().select_related("store").get(pk=order.pk)
    require_order_capability(actor, order.store, MANAGE_ORDERS)
    if shipment is None:
        raise OrderRefused(_("Order %(order_no)s has no shipment to correct.") % {"order_no": order.order_no})
    if order.status not in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        raise TransitionRefused(
            _("Order %(order_no)s is %(status)s; only a shipped order's waybill can be corrected.")
            % {"order_no": order.order_no, "status": order.get_status_display()}
        )
    if order.fulfilment == Fulfilment.PLATFORM and (actor is None or not actor.is_staff):
        raise OrderRefused(_("This order is shipped by the platform's warehouse, not by the store."))
    if shipment.first_pickup_at is not None or shipment.events.exists():
        raise OrderRefused(
            field_errors={
                "tracking_no": [
                    _(
                        "Order %(order_no)s was already scanned by %(carrier)s under %(number)s; a scanned "
                        "waybill cannot change."
                    )
                    % {
                        "order_no": order.order_no,
                        "carrier": shipment.carrier,
                        "number": shipment.tracking_no,
                    }
                ]
            }
        )
    tracking_no = _waybill_take(order=order, carrier=carrier, tracking_no=tracking_no)
    before = {"carrier": shipment.carrier.code, "tracking_no": shipment.tracking_no}
    if (before["carrier"], before["tracking_no"]) == (carrier.code, tracking_no):
        return shipment
    shipment.carrier, shipment.tracking_no = carrier, tracking_no
    shipment.save(update_fields=["carrier", "tracking_no"])
    _event(
        order,
        "tracking_corrected",
        actor=actor,
        before=order.status,
        data={"before": before, "carrier": carrier.code, "tracking_no": tracking_no},
        at=now,
    )
    return shipment


@transaction.atomic
def order_ship(
    *, order: Order, carrier: Carrier, tracking_no: str, actor=None, now: datetime | None = None
) -> Order:
    """Ship a paid order with a carrier and tracking number, after every check the rules ask for."""
    now = now or timezone.now()
    order = Order.objects.select_for_update().select_related("store").get(pk=order.pk)
    require_order_capability(actor, order.store, MANAGE_ORDERS)
    if order.status != OrderStatus.PAID:
        raise TransitionRefused(
            _("Order %(order_no)s is %(status)s; only an order awaiting dispatch can be shipped.")
            % {"order_no": order.order_no, "status": order.get_status_display()}
        )
    if order.fulfilment == Fulfilment.PLATFORM and (actor is None or not actor.is_staff):
        raise OrderRefused(_("This order is shipped by the platform's warehouse, not by the store."))
    if not order.store.can_take_orders:
        raise OrderRefused(_("The store may not take orders at the moment, so it cannot ship them either."))
    tracking_no = _waybill_take(order=order, carrier=carrier, tracking_no=tracking_no)
    Shipment.objects.create(
        order=order,
        carrier=carrier,
        tracking_no=tracking_no,
        address_digest=order.address_digest,
        created_at=now,
        created_by=actor,
    )
    order.ship(at=now)
    order.save(update_fields=["status", "dispatched_at"])
    _event(
        order,
        "shipped",
        actor=actor,
        before=OrderStatus.PAID,
        data={"carrier": carrier.code, "tracking_no": tracking_no},
        at=now,
    )
    return order


def _shipment_anomaly_mark(
    shipment: Shipment, *, order: Order, kind: str, occurred_at: datetime, address: str
):
    updates = []
    if address.strip():
        reported = digest(address)
        if reported != shipment.carrier_address_digest:
            shipment.carrier_address_digest = reported
            updates.append("carrier_address_digest")
        if reported != shipment.address_digest and not shipment.anomaly:
            shipment.anomaly = TrackingAnomaly.RECIPIENT_MISMATCH
            updates.append("anomaly")
    if kind == TrackingEvent.Kind.PICKUP and occurred_at < order.paid_at and not shipment.anomaly:
        shipment.anomaly = TrackingAnomaly.PICKUP_BEFORE_PAYMENT
        updates.append("anomaly")
    if updates:
        shipment.save(update_fields=updates)


@transaction.atomic
def tracking_event_record(
    *,
    shipment: Shipment,
    kind: str,
    occurred_at: datetime,
    location: str = "",
    description: str = "",
    source: str = "webhook",
    consignee_address: str = "",
) -> tuple[TrackingEvent, bool]:
    """Store one carrier scan once. The first pickup scan is the dispatch time; a delivery scan delivers.

    What the carrier's data shows to be wrong is marked on the shipment for the tracking check: a pickup
    scan earlier than payment, or a consignee address (kept only as a keyed digest) not the order's."""
    if kind not in TrackingEvent.Kind.values:
        raise DomainError(_("Unknown tracking event kind %(kind)s.") % {"kind": kind})
    shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
    event, created = TrackingEvent.objects.get_or_create(
        shipment=shipment,
        kind=kind,
        occurred_at=occurred_at,
        defaults={"location": location[:100], "description": description[:300], "source": source},
    )
    if not created:
        return event, False
    order = Order.objects.select_for_update().get(pk=shipment.order_id)
    _shipment_anomaly_mark(
        shipment, order=order, kind=kind, occurred_at=occurred_at, address=consignee_address
    )
    if kind == TrackingEvent.Kind.PICKUP and (
        shipment.first_pickup_at is None or occurred_at < shipment.first_pickup_at
    ):
        shipment.first_pickup_at = occurred_at
        shipment.save(update_fields=["first_pickup_at"])
        order.dispatched_at = occurred_at
        order.save(update_fields=["dispatched_at"])
        _event(order, "picked_up", before=order.status, data={"at": occurred_at.isoformat()}, at=occurred_at)
    elif kind == TrackingEvent.Kind.DELIVERED and can_proceed(order.deliver):
        order.deliver(at=occurred_at)
        order.save(update_fields=["status", "delivered_at"])
        _event(order, "delivered", before=OrderStatus.SHIPPED, at=occurred_at)
    return event, True


# --- Cancellation, refund, receipt ----------------------------------------------------------------


@transaction.atomic
def order_cancel(*, order: Order, actor=None, reason: str, now: datetime | None = None) -> Order:
    """Cancel an order before dispatch; the buyer is refunded in full."""
    now = now or timezone.now()
    order = Order.objects.select_for_update().select_related("store").get(pk=order.pk)
    require_order_capability(actor, order.store, MANAGE_ORDERS)
    if not reason.strip():
        raise OrderRefused(field_errors={"reason": [_("Tell the buyer why the order is cancelled.")]})
    if not can_proceed(order.cancel):
        raise TransitionRefused(
            _("Order %(order_no)s is %(status)s; only an order awaiting dispatch can be cancelled.")
            % {"order_no": order.order_no, "status": order.get_status_display()}
        )
    order.cancel(at=now)
    order.save(update_fields=["status", "closed_at"])
    _event(
        order,
        "cancelled",
        actor=actor,
        before=OrderStatus.PAID,
        reason=reason,
        data={"refunded": str(order.amount_paid)},
        at=now,
    )
    return order


@transaction.atomic
def order_refund(*, order: Order, actor=None, reason: str, now: datetime | None = None) -> Order:
    """Refund a shipped or delivered order (after-sales)."""
    now = now or timezone.now()
    order = Order.objects.select_for_update().select_related("store").get(pk=order.pk)
    require_order_capability(actor, order.store, MANAGE_ORDERS)
    if not can_proceed(order.refund):
        raise TransitionRefused(
            _("Order %(order_no)s is %(status)s and cannot be refunded.")
            % {"order_no": order.order_no, "status": order.get_status_display()}
        )
    before = order.status
    order.refund(at=now)
    order.save(update_fields=["status", "closed_at"])
    _event(
        order,
        "refunded",
        actor=actor,
        before=before,
        reason=reason,
        data={"refunded": str(order.amount_paid)},
        at=now,
    )
    return order


@transaction.atomic
def order_confirm_receipt(*, order: Order, now: datetime | None = None) -> Order:
    """The buyer confirmed receipt (or the platform did on their behalf)."""
    now = now or timezone.now()
    order = Order.objects.select_for_update().select_related("store").get(pk=order.pk)
    if not can_proceed(order.complete):
        raise TransitionRefused(
            _("Order %(order_no)s is %(status)s; only a delivered order can be completed.")
            % {"order_no": order.order_no, "status": order.get_status_display()}
        )
    order.complete(at=now)
    order.save(update_fields=["status", "completed_at"])
    available_at = order_settle(order=order, release_days=rule_int("settlement_release_days"))
    _event(
        order,
        "completed",
        before=OrderStatus.DELIVERED,
        data={"settlement_available_at": available_at.isoformat()},
        at=now,
    )
    return order


SETTLEMENT_KINDS = {"income": SettlementEntry.Kind.ORDER_INCOME, "fee": SettlementEntry.Kind.SERVICE_FEE}


def order_settle(*, order: Order, release_days: int) -> datetime:
    """A completed order's income and fee into the store's settlement account, once per order (cause keys
    `order:<id>:income` and `order:<id>:fee`); returns when they become withdrawable."""
    available_at, entries = order_settlement(
        amount_paid=order.amount_paid,
        service_fee=order.service_fee,
        completed_at=order.completed_at,
        release_days=release_days,
    )
    for suffix, amount in entries:
        settlement_record(
            store=order.store,
            kind=SETTLEMENT_KINDS[suffix],
            amount=amount,
            available_at=available_at,
            cause_key=f"order:{order.pk}:{suffix}",
            reason=order.order_no,
        )
    return available_at


# --- Buyer data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevealedRecipient:
    name: str
    phone: str
    region: str
    address: str


@transaction.atomic
def buyer_data_reveal(*, order: Order, user, now: datetime | None = None) -> RevealedRecipient:
    """Show one order's recipient in clear to an owner or operator, logged, at most N per user per hour."""
    now = now or timezone.now()
    role = (
        Membership.objects.filter(user=user, store_id=order.store_id).values_list("role", flat=True).first()
    )
    if role is None or not role_can(role, REVEAL_BUYER_DATA):
        raise ActionForbidden(_("Your role may not reveal buyer contact data."))
    # Lock the user row so two reveals at once cannot both slip under the limit.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    limit = rule_int("reveal_limit_per_hour")
    recent = BuyerDataReveal.objects.filter(user=user, created_at__gt=now - timedelta(hours=1)).count()
    if recent >= limit:
        raise DomainError(
            _("You have revealed %(limit)d recipients in the last hour, the most allowed. Try again later.")
            % {"limit": limit}
        )
    BuyerDataReveal.objects.create(user=user, order=order, created_at=now)
    _event(order, "buyer_data_revealed", actor=user, before=order.status, at=now)
    return RevealedRecipient(
        name=order.recipient_name,
        phone=order.recipient_phone,
        region=order.recipient_region,
        address=order.recipient_address,
    )


@transaction.atomic
def buyer_data_reveal_many(*, orders: list[Order], user, purpose: str, now: datetime | None = None) -> None:
    """Log a reveal of several orders at once (an export with contact data): all or none within the limit."""
    now = now or timezone.now()
    store_ids = {order.store_id for order in orders}
    allowed = set(
        Membership.objects.filter(user=user, store_id__in=store_ids).values_list("store_id", "role")
    )
    if any(not role_can(role, REVEAL_BUYER_DATA) for _store, role in allowed) or len(allowed) != len(
        store_ids
    ):
        raise ActionForbidden(_("Your role may not reveal buyer contact data."))
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    limit = rule_int("reveal_limit_per_hour")
    recent = BuyerDataReveal.objects.filter(user=user, created_at__gt=now - timedelta(hours=1)).count()
    if recent + len(orders) > limit:
        raise DomainError(
            _(
                "Exporting contact data for %(count)d orders would pass the limit of %(limit)d reveals per "
                "hour (%(left)d left). Select fewer orders or export without contact data."
            )
            % {"count": len(orders), "limit": limit, "left": max(limit - recent, 0)}
        )
    BuyerDataReveal.objects.bulk_create(
        BuyerDataReveal(user=user, order=order, purpose=purpose, created_at=now) for order in orders
    )
    OrderEvent.objects.bulk_create(
        OrderEvent(
            order=order,
            kind="buyer_data_revealed",
            actor=user,
            from_status=order.status,
            to_status=order.status,
            data={"purpose": purpose},
            created_at=now,
        )
        for order in orders
    )
