"""Reads for the reviewers' page of stores at risk (in the admin): the lowest experience scores, the stores a
few points short of their next penalty-ladder threshold, and the deposit shortfalls.

Each list is capped (`AT_RISK_LIMIT` rows, worst first) and costs a fixed number of queries: the page is the
same price with ten stores or ten thousand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import F, Sum
from django.utils import timezone

from merchants.models import PointEntry, PointLadderStep, Store, StoreScore
from merchants.rules import LadderStep, next_ladder_step
from merchants.selectors import deposit_accounts_with_position, rule_int

AT_RISK_LIMIT = 50
# A store within `at_risk_near_threshold_points` (rule table; seeded 6: one failed spot check, the heaviest
# general violation of the seeded table, would cross it) of its next ladder threshold is "near" it.


@dataclass(frozen=True)
class NearThreshold:
    store: Store
    ledger: str
    ledger_label: str
    points: int
    next_threshold: int
    next_penalties: tuple[str, ...]

    @property
    def points_left(self) -> int:
        return self.next_threshold - self.points


@dataclass(frozen=True)
class StoresAtRisk:
    score_day: date | None
    lowest_scores: list[StoreScore]
    near_threshold: list[NearThreshold]
    shortfalls: list  # DepositAccount rows annotated with balance, required and shortfall
    year: int
    limit: int
    margin: int


def lowest_scores(*, limit: int = AT_RISK_LIMIT) -> tuple[date | None, list[StoreScore]]:
    """The latest scored day and its lowest scores, with their stores. Two queries (day, rows) on the
    (day, score) index."""
    day = StoreScore.objects.order_by("-day").values_list("day", flat=True).first()
    if day is None:
        return None, []
    rows = list(
        StoreScore.objects.filter(day=day).select_related("store").order_by("score", "store__code")[:limit]
    )
    return day, rows


def stores_near_threshold(
    *, year: int, margin: int | None = None, limit: int = AT_RISK_LIMIT
) -> list[NearThreshold]:
    """Stores with at most `margin` points (default: the rule table's) left before the next threshold of a
    ledger this natural year, closest first. Three queries (four with the rule table's margin): the ledger
    totals per store (grouped; one row per store and ledger with points), the ladder, the stores shown."""
    if margin is None:
        margin = rule_int("at_risk_near_threshold_points")
    totals = (
        PointEntry.objects.filter(year=year)
        .values("store_id", "ledger")
        .annotate(points=Sum("points"))
        .filter(points__gt=0)
        .order_by()
    )
    steps: dict[str, list[LadderStep]] = {}
    for step in PointLadderStep.objects.all():
        steps.setdefault(step.ledger, []).append(
            LadderStep(
                step.threshold, tuple(p.strip() for p in step.penalties.split(",")), step.duration_days
            )
        )
    near = []
    for row in totals:
        upcoming = next_ladder_step(points=row["points"], steps=steps.get(row["ledger"], []))
        if upcoming is not None and upcoming.threshold - row["points"] <= margin:
            near.append((upcoming.threshold - row["points"], -row["points"], row, upcoming))
    near.sort(key=lambda item: (item[0], item[1], item[2]["store_id"], item[2]["ledger"]))
    near = near[:limit]
    stores = Store.objects.in_bulk([item[2]["store_id"] for item in near])
    labels = dict(PointLadderStep.Ledger.choices)
    return [
        NearThreshold(
            store=stores[row["store_id"]],
            ledger=row["ledger"],
            ledger_label=str(labels.get(row["ledger"], row["ledger"])),
            points=row["points"],
            next_threshold=upcoming.threshold,
            next_penalties=upcoming.penalties,
        )
        for _, _, row, upcoming in near
    ]


def deposit_shortfalls(*, limit: int = AT_RISK_LIMIT) -> list:
    """Deposit accounts below their requirement, the largest shortfall first. One query."""
    return list(
        deposit_accounts_with_position()
        .filter(balance__lt=F("required"))
        .annotate(shortfall=F("required") - F("balance"))
        .order_by("-shortfall", "store__code")[:limit]
    )


def stores_at_risk(*, now=None, limit: int = AT_RISK_LIMIT, margin: int | None = None) -> StoresAtRisk:
    now = now or timezone.now()
    if margin is None:
        margin = rule_int("at_risk_near_threshold_points")
    year = timezone.localdate(now, timezone.get_default_timezone()).year
    day, scores = lowest_scores(limit=limit)
    return StoresAtRisk(
        score_day=day,
        lowest_scores=scores,
        near_threshold=stores_near_threshold(year=year, margin=margin, limit=limit),
        shortfalls=deposit_shortfalls(limit=limit),
        year=year,
        limit=limit,
        margin=margin,
    )
