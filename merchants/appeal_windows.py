"""Until when a violation may still be appealed. Appeals live in complaints, above merchants: it registers how
its windows are read (in AppConfig.ready), and the violations page asks here; merchants never imports it.
Without a registered source nothing is shown as appealable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

# resolver(violation_ids, now) → {violation id: when its open appeal window closes}; a fixed few queries
APPEAL_WINDOW_SOURCES: list[Callable[[list[int], datetime], dict[int, datetime]]] = []


def register_appeal_window_source(resolver: Callable[[list[int], datetime], dict[int, datetime]]) -> None:
    if resolver not in APPEAL_WINDOW_SOURCES:
        APPEAL_WINDOW_SOURCES.append(resolver)


def appeal_windows(*, violation_ids: list[int], now: datetime) -> dict[int, datetime]:
    """Violation id → when its window closes, for those of `violation_ids` with an appeal window open."""
    closes: dict[int, datetime] = {}
    for resolver in APPEAL_WINDOW_SOURCES:
        closes.update(resolver(violation_ids, now))
    return closes
