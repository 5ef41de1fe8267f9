"""The seller dashboard's to-do list: what the store must do before a deadline.

A registry like merchants.scoring: each app above merchants (orders: orders to ship; complaints: complaints
awaiting the seller's reply and appeal windows closing, first and second, since appeals live there;
inspections: re-test windows closing) registers, in AppConfig.ready, a function `todos(store, now) ->
list[Todo]`, so merchants imports none of them. Each function costs a fixed, small number of queries (an
aggregate or two, whatever the store's size), so the dashboard does too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.utils.translation import gettext as _

from merchants import roles


@dataclass(frozen=True)
class Todo:
    key: str  # stable, for tests and anchors: "orders_to_ship"
    label: str  # translated
    count: int
    deadline: datetime | None  # the nearest one (for overdue items: the oldest passed)
    url: str
    capability: str = roles.VIEW_STORE  # the store role needed to see it
    overdue: bool = False
    countdown: str = ""  # filled by store_todos: "due in 5 h 12 min", "overdue by 2 h"
    due_soon: bool = False  # less than DUE_SOON left

    @property
    def sort_key(self):
        # Overdue first, then the nearest deadline; those without one last.
        return (not self.overdue, self.deadline is None, self.deadline or datetime.max, self.key)


TodoSource = Callable[..., list[Todo]]
TODO_SOURCES: dict[str, TodoSource] = {}


def register_todo_source(name: str, todos: TodoSource) -> None:
    TODO_SOURCES[name] = todos


def store_todos(*, store, now: datetime, role: str | None = None) -> list[Todo]:
    """Every source's to-dos with something to do (count > 0) that the role may see, most urgent first."""
    found = [
        _with_countdown(todo, now)
        for source in TODO_SOURCES.values()
        for todo in source(store, now)
        if todo.count > 0 and (role is None or roles.role_can(role, todo.capability))
    ]
    return sorted(found, key=lambda todo: todo.sort_key)


DUE_SOON = timedelta(hours=6)


def _with_countdown(todo: Todo, now: datetime) -> Todo:
    if todo.deadline is None:
        return todo
    left = (todo.deadline - now).total_seconds()
    if left >= 0 and not todo.overdue:
        text = _("due in %(duration)s") % {"duration": duration_text(left)}
        return replace(todo, countdown=text, due_soon=left < DUE_SOON.total_seconds())
    text = _("overdue by %(duration)s") % {"duration": duration_text(abs(left))}
    return replace(todo, countdown=text, overdue=True)


def duration_text(seconds: float) -> str:
    """'5 h 12 min', '3 d 4 h', rounded down to the minute (the order desk's wording)."""
    minutes_total = int(seconds // 60)
    hours_total, minutes = divmod(minutes_total, 60)
    if hours_total >= 48:
        days, hours = divmod(hours_total, 24)
        if hours:
            return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
        return _("%(days)d d") % {"days": days}
    if hours_total and minutes:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours_total, "minutes": minutes}
    if hours_total:
        return _("%(hours)d h") % {"hours": hours_total}
    if minutes:
        return _("%(minutes)d min") % {"minutes": minutes}
    return _("less than 1 min")
