"""The orders app's to-dos on the seller dashboard (registered with merchants.todos in OrdersConfig.ready)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from merchants import roles
from merchants.todos import Todo
from orders.models import Fulfilment, Order, OrderStatus


def order_todos(store, now: datetime) -> list[Todo]:
    """Paid orders the seller ships (not the platform's warehouse): those still before their dispatch
    deadline, the nearest deadline first, and those already past it. One aggregate on the store's
    (status, deadline) index, whatever the number of orders."""
    ahead = Q(dispatch_deadline__gt=now)
    row = (
        Order.objects.filter(store=store, status=OrderStatus.PAID)
        .exclude(fulfilment=Fulfilment.PLATFORM)
        .aggregate(
            due=Count("id", filter=ahead),
            next_due=Min("dispatch_deadline", filter=ahead),
            overdue=Count("id", filter=~ahead),
            oldest_overdue=Min("dispatch_deadline", filter=~ahead),
        )
    )
    orders_url = reverse("order-list", args=[store.code])
    return [
        Todo(
            key="orders_overdue",
            label=_("Orders past their dispatch deadline"),
            count=row["overdue"],
            deadline=row["oldest_overdue"],
            url=f"{orders_url}?status={OrderStatus.PAID}&overdue=on",
            capability=roles.VIEW_ORDERS,
            overdue=True,
        ),
        Todo(
            key="orders_to_ship",
            label=_("Orders to ship"),
            count=row["due"],
            deadline=row["next_due"],
            url=f"{orders_url}?status={OrderStatus.PAID}",
            capability=roles.VIEW_ORDERS,
        ),
    ]
