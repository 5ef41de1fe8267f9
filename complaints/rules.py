"""Customer-service timeliness arithmetic (RULES §6): pure functions of plain values, no ORM.

Two figures per store over a period:
- the **3-minute reply rate**: the share of buyer messages a person answered within the target (180 s);
- the **average human response time**: the mean of each message's human response time, where a message not
  answered by a person counts as a fixed time (600 s). An average above the limit (90 s) is negative service.

Both count only messages sent within the service session, 08:00 to 22:59 in the store's time zone (a message
sent at 22:59:59 counts; one at 23:00:00 does not). A message still unanswered but sent less than the
unanswered time before `now` is not judged yet: it may still be answered in time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class MessageTiming:
    sent_at: datetime  # timezone-aware
    answered_at: datetime | None
    answered_by_human: bool


@dataclass(frozen=True)
class ServiceRules:
    reply_target_seconds: int = 180
    unanswered_counts_as_seconds: int = 600
    avg_response_limit_seconds: int = 90
    session_start_hour: int = 8  # inclusive
    session_end_hour: int = 23  # exclusive: the session's last minute is 22:59


@dataclass(frozen=True)
class ServiceFigures:
    messages: int  # judged messages in session
    answered_within_target: int
    reply_rate: Decimal | None  # a fraction with 4 places; None without messages
    average_response_seconds: Decimal | None  # 1 place; None without messages
    negative_service: bool


def in_session(sent_at: datetime, *, zone: ZoneInfo, rules: ServiceRules) -> bool:
    local = sent_at.astimezone(zone)
    return rules.session_start_hour <= local.hour < rules.session_end_hour


def human_response_seconds(message: MessageTiming, *, rules: ServiceRules) -> Decimal:
    """Seconds until a person answered; the fixed unanswered time when no person did."""
    if message.answered_by_human and message.answered_at is not None:
        return Decimal((message.answered_at - message.sent_at).total_seconds())
    return Decimal(rules.unanswered_counts_as_seconds)


def is_judged(message: MessageTiming, *, now: datetime, rules: ServiceRules) -> bool:
    """Answered by a person, or unanswered for at least the unanswered time (it can no longer be on time)."""
    if message.answered_by_human and message.answered_at is not None and message.answered_at <= now:
        return True
    return now - message.sent_at >= timedelta(seconds=rules.unanswered_counts_as_seconds)


def service_figures(
    messages: Iterable[MessageTiming], *, zone: ZoneInfo, now: datetime, rules: ServiceRules
) -> ServiceFigures:
    counted = [
        m
        for m in messages
        if m.sent_at <= now
        and in_session(m.sent_at, zone=zone, rules=rules)
        and is_judged(m, now=now, rules=rules)
    ]
    if not counted:
        return ServiceFigures(0, 0, None, None, False)
    target = Decimal(rules.reply_target_seconds)
    seconds = [human_response_seconds(m, rules=rules) for m in counted]
    on_time = sum(
        1
        for m, s in zip(counted, seconds, strict=True)
        if m.answered_by_human and m.answered_at is not None and s <= target
    )
    rate = (Decimal(on_time) / Decimal(len(counted))).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    average = (sum(seconds, Decimal(0)) / Decimal(len(counted))).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    return ServiceFigures(
        messages=len(counted),
        answered_within_target=on_time,
        reply_rate=rate,
        average_response_seconds=average,
        negative_service=average > Decimal(rules.avg_response_limit_seconds),
    )
