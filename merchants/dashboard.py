"""Reads for the seller dashboard: the experience score with its parts, the watched rates with their trend
charts, and the to-do list. Takes a store already resolved through the membership selector
(`merchants.selectors.membership_for_store`), so it only ever reads that store's rows.

Fixed cost: one query for the rule table's score numbers, one for the score history (every chart comes
from it) and the to-do sources' few aggregates, whatever the store's size or the length of the history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from merchants.charts import line_chart
from merchants.models import Store, StoreScore
from merchants.rules import decimal_or_none
from merchants.selectors import rule_decimals
from merchants.todos import Todo, store_todos

TREND_DAYS = (30, 90)

# The rates a seller watches (names in StoreScore.metrics), with whether a high value is good.
WATCHED_RATES: tuple[tuple[str, object, object, bool], ...] = (
    (
        "late_dispatch_rate",
        gettext_lazy("Late dispatch rate"),
        gettext_lazy(
            "Share of orders due for dispatch that went out late, over the %(days)s days before each day."
        ),
        False,
    ),
    (
        "valid_tracking_rate",
        gettext_lazy("Valid tracking rate"),
        gettext_lazy("Share of shipments with a timely pickup scan and no anomaly."),
        True,
    ),
    (
        "complaint_rate",
        gettext_lazy("Complaint rate"),
        gettext_lazy("Complaints (not dismissed) per paid order."),
        False,
    ),
    (
        "reply_3min_rate",
        gettext_lazy("3-minute reply rate"),
        gettext_lazy("Share of buyer messages a person answered within 3 minutes, in service hours."),
        True,
    ),
    (
        "spot_check_pass_rate",
        gettext_lazy("Spot-check pass rate"),
        gettext_lazy("Share of spot-check results that stand passed."),
        True,
    ),
)


def trend_days(value: str | None) -> int:
    """The chart period asked for by `?days=`: 30 or 90, 30 for anything else."""
    try:
        days = int(value or 0)
    except ValueError:
        return TREND_DAYS[0]
    return days if days in TREND_DAYS else TREND_DAYS[0]


def percent(value) -> str:
    return f"{Decimal(value) * 100:.1f}%"


@dataclass(frozen=True)
class Rate:
    name: str
    label: str
    value: Decimal | None  # the latest day's
    shown: str
    higher_is_better: bool
    chart: SafeString


@dataclass(frozen=True)
class ScoreToday:
    day: date
    score: Decimal
    product: Decimal
    logistics: Decimal
    service: Decimal
    deductions: Decimal
    growth_stage: bool
    paid_orders: int


@dataclass(frozen=True)
class ScoreDisplay:
    """The rule table's numbers the dashboard shows the score against (RULES §11)."""

    floor: Decimal
    ceiling: Decimal
    growth_score: Decimal
    growth_min_orders: int
    window_days: int
    good_from: Decimal  # a score at or above this is shown as good
    bad_below: Decimal  # a score below this is shown as bad

    @property
    def growth_score_shown(self) -> str:
        return _plain(self.growth_score)


def _plain(value) -> str:
    return f"{Decimal(value):.2f}".rstrip("0").rstrip(".")


def score_display() -> ScoreDisplay:
    """One query."""
    p = rule_decimals(
        "score_floor",
        "score_ceiling",
        "score_growth_score",
        "score_growth_min_orders",
        "score_window_days",
        "score_shown_good_from",
        "score_shown_bad_below",
    )
    return ScoreDisplay(
        floor=p["score_floor"],
        ceiling=p["score_ceiling"],
        growth_score=p["score_growth_score"],
        growth_min_orders=int(p["score_growth_min_orders"]),
        window_days=int(p["score_window_days"]),
        good_from=p["score_shown_good_from"],
        bad_below=p["score_shown_bad_below"],
    )


@dataclass(frozen=True)
class SellerDashboard:
    days: int
    start: date
    end: date
    score: ScoreToday | None
    score_chart: SafeString
    display: ScoreDisplay
    rates: list[Rate] = field(default_factory=list)
    todos: list[Todo] = field(default_factory=list)


def score_history(*, store: Store, start: date, end: date) -> list[dict]:
    """The store's score rows from start to end (both included), oldest first. One query."""
    return list(
        StoreScore.objects.filter(store=store, day__gte=start, day__lte=end)
        .order_by("day")
        .values(
            "day",
            "score",
            "product",
            "logistics",
            "service",
            "deductions",
            "growth_stage",
            "paid_orders",
            "metrics",
        )
    )


def seller_dashboard(
    *, store: Store, role: str, now: datetime | None = None, days: int = 30
) -> SellerDashboard:
    """Everything the dashboard shows about the score, the rates and the to-dos of one store."""
    now = now or timezone.now()
    # Scores are computed for complete days of the default time zone (merchants.services.experience_score_check).
    end = timezone.localdate(now, timezone.get_default_timezone()) - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    rows = score_history(store=store, start=start, end=end)
    latest = rows[-1] if rows else None
    today = (
        ScoreToday(**{k: latest[k] for k in ScoreToday.__dataclass_fields__ if k != "day"}, day=latest["day"])
        if latest
        else None
    )
    display = score_display()
    period = _("Last %(days)s days.") % {"days": days}
    no_data = _("No figures yet.")
    scale = _("Daily experience score, %(floor)s to %(ceiling)s.") % {
        "floor": _plain(display.floor),
        "ceiling": _plain(display.ceiling),
    }
    score_chart = line_chart(
        [(row["day"], row["score"]) for row in rows],
        start=start,
        end=end,
        chart_id="chart-score",
        title=_("Experience score"),
        description=f"{scale} {period}",
        empty_text=no_data,
        y_min=display.floor,
        y_max=display.ceiling,
        value_format=_plain,
        minimum_label=_("lowest"),
        maximum_label=_("highest"),
    )
    rates = []
    for name, label, description, higher_is_better in WATCHED_RATES:
        points = [(row["day"], decimal_or_none((row["metrics"] or {}).get(name))) for row in rows]
        value = decimal_or_none((latest["metrics"] or {}).get(name)) if latest else None
        rates.append(
            Rate(
                name=name,
                label=str(label),
                value=value,
                shown=percent(value) if value is not None else "—",
                higher_is_better=higher_is_better,
                chart=line_chart(
                    points,
                    start=start,
                    end=end,
                    chart_id=f"chart-{name}",
                    title=str(label),
                    description=f"{str(description) % {'days': display.window_days}} {period}",
                    empty_text=no_data,
                    value_format=percent,
                    minimum_label=_("lowest"),
                    maximum_label=_("highest"),
                ),
            )
        )
    return SellerDashboard(
        days=days,
        start=start,
        end=end,
        score=today,
        score_chart=score_chart,
        display=display,
        rates=rates,
        todos=store_todos(store=store, now=now, role=role),
    )
