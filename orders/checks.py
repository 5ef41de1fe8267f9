"""Order checks of the compliance engine: set-based, idempotent (one violation per cause), single-flight."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import CharField, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from merchants.locks import single_flight
from merchants.models import Violation
from merchants.selectors import rule_decimals
from merchants.services import violation_record
from orders.models import Order, OrderStatus


@dataclass
class LateDispatchResult:
    strikes: int = 0
    out_of_stock: int = 0
    skipped: bool = False

    def __str__(self):
        skipped = " (another run holds the lock)" if self.skipped else ""
        return f"strikes={self.strikes} out_of_stock={self.out_of_stock}{skipped}"


def _without_violation(queryset, *, type_code: str, suffix: str):
    """Orders that have no violation of this type for the cause `<order id><suffix>` yet."""
    cause_id = Concat(Cast(OuterRef("pk"), CharField()), Value(suffix), output_field=CharField())
    recorded = Violation.objects.filter(violation_type__code=type_code, cause_kind="order", cause_id=cause_id)
    return queryset.exclude(Exists(recorded))


def _promised_hours(order: Order) -> int:
    return round((order.dispatch_deadline - order.paid_at).total_seconds() / 3600)


def late_dispatch_check(*, now: datetime | None = None) -> LateDispatchResult:
    """Strike each late order at its deadline and again every re-judge period, at most N times; an order
    still unshipped long after its deadline is out of stock. Compensation is paid with the first strike."""
    now = now or timezone.now()
    result = LateDispatchResult()
    params = rule_decimals(
        "late_dispatch_rejudge_hours", "late_dispatch_max_strikes", "out_of_stock_after_hours"
    )
    rejudge = timedelta(hours=int(params["late_dispatch_rejudge_hours"]))
    with single_flight("late_dispatch_check") as acquired:
        if not acquired:
            result.skipped = True
            return result
        for strike in range(1, int(params["late_dispatch_max_strikes"]) + 1):
            offset = rejudge * (strike - 1)
            due = Order.objects.filter(dispatch_deadline__lte=now - offset).filter(
                Q(status=OrderStatus.PAID) | Q(dispatched_at__gt=F("dispatch_deadline") + offset)
            )
            due = _without_violation(due, type_code="late_dispatch", suffix=f":{strike}").select_related(
                "store"
            )
            for order in due.iterator(chunk_size=500):
                _record, created = violation_record(
                    store=order.store,
                    type_code="late_dispatch",
                    cause_kind="order",
                    cause_id=f"{order.pk}:{strike}",
                    cause_label=f"{order.order_no} #{strike}",
                    occurred_at=order.dispatch_deadline + offset,
                    amount_paid=order.amount_paid if strike == 1 else None,
                    promised_hours=_promised_hours(order),
                )
                result.strikes += int(created)
        out_of_stock_at = timedelta(hours=int(params["out_of_stock_after_hours"]))
        unshipped = Order.objects.filter(
            status=OrderStatus.PAID, dispatch_deadline__lte=now - out_of_stock_at
        )
        unshipped = _without_violation(unshipped, type_code="out_of_stock", suffix="").select_related("store")
        for order in unshipped.iterator(chunk_size=500):
            _record, created = violation_record(
                store=order.store,
                type_code="out_of_stock",
                cause_kind="order",
                cause_id=str(order.pk),
                cause_label=order.order_no,
                occurred_at=order.dispatch_deadline + out_of_stock_at,
                amount_paid=order.amount_paid,
                promised_hours=_promised_hours(order),
            )
            result.out_of_stock += int(created)
    return result
