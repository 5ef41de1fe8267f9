"""The fraudulent-dispatch check (RULES §4): an empty parcel, wrong goods or most of the parts missing is a
fraudulent dispatch; a store with `fraudulent_dispatch_daily_count` (3) or more of them dispatched on one
day (in the store's time zone) has committed a `fraudulent_dispatch` violation, once per store and day.
That violation climbs its own occurrence ladder (settlement frozen, listings blocked, a suspension, and the
fourth in a natural year clears the store out: `OccurrenceLadderStep`, applied by `violations_record_many`).

The evidence is the reviewer's: a not-as-described complaint upheld on a shipped order. Set-based: one
query over the complaints upheld within the look-back window (a handful per store, never every order),
grouped by the dispatch day; the days already recorded are left out by the violations' unique key, so a
second run writes nothing. Single-flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from complaints.models import Complaint, ComplaintKind, ComplaintStatus
from merchants.locks import single_flight
from merchants.models import Violation
from merchants.selectors import rule_decimals
from merchants.services import ViolationCause, violations_record_many

TYPE_CODE = "fraudulent_dispatch"
CAUSE_KIND = "dispatch_day"


@dataclass
class FraudulentDispatchResult:
    recorded: int = 0
    skipped: bool = False

    def __str__(self):
        skipped = " (another run holds the lock)" if self.skipped else ""
        return f"fraudulent_dispatch={self.recorded}{skipped}"


def dispatch_day_cause_id(store_id: int, day) -> str:
    return f"{store_id}:{day.isoformat()}"


def fraudulent_dispatch_days(*, now: datetime, daily_count: int, lookback: timedelta) -> list[ViolationCause]:
    """One cause per (store, local dispatch day) with at least `daily_count` upheld not-as-described
    complaints on orders dispatched that day, not yet recorded. The violation is dated when the last of
    them was upheld (that is when the platform knew)."""
    upheld = Complaint.objects.filter(
        kind=ComplaintKind.NOT_AS_DESCRIBED,
        status=ComplaintStatus.UPHELD,
        order__dispatched_at__isnull=False,
    ).order_by()
    fields = ("pk", "store_id", "store__time_zone", "order__order_no", "order__dispatched_at", "decided_at")

    def local_day(zone: str, at: datetime):
        return at.astimezone(ZoneInfo(zone)).date()

    # The days a recent decision touched; a day's complaints may be decided weeks apart, so each such day
    # then counts every complaint upheld about it, however long ago.
    recent = list(upheld.filter(decided_at__gte=now - lookback, decided_at__lte=now).values_list(*fields))
    if not recent:
        return []
    touched = {(store_id, local_day(zone, dispatched)) for _pk, store_id, zone, _no, dispatched, _d in recent}
    earliest = min(dispatched for *_rest, dispatched, _d in recent) - timedelta(days=1)
    latest = max(dispatched for *_rest, dispatched, _d in recent) + timedelta(days=1)
    days: dict[tuple[int, object], list[tuple[int, str, datetime]]] = {}
    for pk, store_id, zone, order_no, dispatched_at, decided_at in upheld.filter(
        store_id__in={store_id for store_id, _day in touched},
        order__dispatched_at__range=(earliest, latest),
        decided_at__lte=now,
    ).values_list(*fields):
        key = (store_id, local_day(zone, dispatched_at))
        if key in touched:
            days.setdefault(key, []).append((pk, order_no, decided_at))
    due = {key: found for key, found in days.items() if len(found) >= daily_count}
    if not due:
        return []
    recorded = set(
        Violation.objects.filter(
            violation_type__code=TYPE_CODE,
            cause_kind=CAUSE_KIND,
            cause_id__in=[dispatch_day_cause_id(store_id, day) for store_id, day in due],
        ).values_list("cause_id", flat=True)
    )
    causes = []
    for (store_id, day), found in sorted(due.items(), key=lambda item: (item[0][0], item[0][1])):
        cause_id = dispatch_day_cause_id(store_id, day)
        if cause_id in recorded:
            continue
        found.sort(key=lambda item: (item[2], item[0]))
        label = f"{day.isoformat()}: {len(found)} × " + ", ".join(order_no for _pk, order_no, _at in found)
        causes.append(
            ViolationCause(
                store_id=store_id,
                cause_kind=CAUSE_KIND,
                cause_id=cause_id,
                cause_label=label[:100],
                occurred_at=found[-1][2],
            )
        )
    return causes


def fraudulent_dispatch_check(*, now: datetime | None = None) -> FraudulentDispatchResult:
    now = now or timezone.now()
    result = FraudulentDispatchResult()
    params = rule_decimals("fraudulent_dispatch_daily_count", "engine_lookback_days")
    with single_flight("fraudulent_dispatch_check") as acquired:
        if not acquired:
            result.skipped = True
            return result
        causes = fraudulent_dispatch_days(
            now=now,
            daily_count=int(params["fraudulent_dispatch_daily_count"]),
            lookback=timedelta(days=int(params["engine_lookback_days"])),
        )
        if causes:
            result.recorded = len(violations_record_many(type_code=TYPE_CODE, causes=causes, now=now))
    return result
