"""The registry of experience-score sources. The figures a score needs live in the apps above merchants
(orders: dispatch and delivery; complaints: complaints and reply times; inspections: spot checks); each
registers, in AppConfig.ready, a function giving its figures for every store at once, so the daily score is
set-based and merchants imports none of them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

# name → figures(start, end) → {store id: {metric: value}} for the window [start, end)
ScoreSource = Callable[..., dict[int, dict[str, Decimal | int | None]]]
SCORE_SOURCES: dict[str, ScoreSource] = {}


def register_score_source(name: str, figures: ScoreSource) -> None:
    SCORE_SOURCES[name] = figures


def score_figures(*, start: datetime, end: datetime) -> dict[int, dict[str, Decimal | int | None]]:
    """Every registered source's figures, merged per store."""
    merged: dict[int, dict[str, Decimal | int | None]] = {}
    for figures in SCORE_SOURCES.values():
        for store_id, values in figures(start=start, end=end).items():
            merged.setdefault(store_id, {}).update(values)
    return merged
