"""Customer-service timeliness (RULES §6) and appeal windows (§10): pure functions of plain values, no ORM.

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
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from merchants.rules import add_working_days


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


# --- Appeals against violations (RULES §10) -------------------------------------------------------


@dataclass(frozen=True)
class AppealRules:
    window_days: int = 7  # the first appeal: days after the violation
    second_window_days: int = 15  # the second: days after the first was rejected
    max_appeals: int = 2
    decision_working_days: int = 5


@dataclass(frozen=True)
class PastAppeal:
    number: int
    status: str  # submitted, under_review, approved, rejected
    decided_at: datetime | None


@dataclass(frozen=True)
class AppealChance:
    """Whether the store may appeal now: the number the appeal would get and when the window closes, or why
    not (`refusal`, for the person)."""

    number: int | None
    closes_at: datetime | None
    refusal: str = ""

    @property
    def allowed(self) -> bool:
        return self.number is not None


def _shown(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def appeal_chance(
    *,
    violation_status: str,
    recorded_at: datetime,
    appeals: Iterable[PastAppeal],
    now: datetime,
    rules: AppealRules,
    zone: ZoneInfo,
) -> AppealChance:
    """The first appeal is open strictly before `recorded_at + window_days` — from when the platform recorded
    the violation (RULES §10: "within 7 days of it"), not from when its cause happened: a check that runs
    late, or a complaint decided a week after it was opened, still leaves the store its whole window; a further one only after the last
    was rejected, strictly before its rejection + `second_window_days`, and never more than `max_appeals`."""
    appeals = sorted(appeals, key=lambda a: a.number)
    if violation_status == "revoked":
        return AppealChance(None, None, _("This violation was revoked; there is nothing left to appeal."))
    still_open = [a for a in appeals if a.status in ("submitted", "under_review")]
    if still_open:
        return AppealChance(
            None,
            None,
            _("Appeal %(number)d against this violation is still being decided; wait for its decision.")
            % {"number": still_open[0].number},
        )
    if len(appeals) >= rules.max_appeals:
        return AppealChance(
            None,
            None,
            _("This violation was appealed %(count)d times; the decision on the last appeal is final.")
            % {"count": len(appeals)},
        )
    if not appeals:
        closes_at = recorded_at + timedelta(days=rules.window_days)
        if now >= closes_at:
            return AppealChance(
                None,
                closes_at,
                _("The appeal window closed on %(closed)s (%(days)d days after the violation).")
                % {"closed": _shown(closes_at, zone), "days": rules.window_days},
            )
        return AppealChance(1, closes_at)
    last = appeals[-1]
    if last.status != "rejected" or last.decided_at is None:
        return AppealChance(None, None, _("A further appeal is possible only after a rejected one."))
    closes_at = last.decided_at + timedelta(days=rules.second_window_days)
    if now >= closes_at:
        return AppealChance(
            None,
            closes_at,
            _("The second appeal had to be filed by %(closed)s (%(days)d days after the first was rejected).")
            % {"closed": _shown(closes_at, zone), "days": rules.second_window_days},
        )
    return AppealChance(last.number + 1, closes_at)


def appeal_decide_by(
    *,
    submitted_at: datetime,
    working_days: int,
    zone: ZoneInfo,
    holidays: frozenset = frozenset(),
    makeup_working_days: frozenset = frozenset(),
) -> datetime:
    """The reviewer's deadline: the end of the `working_days`-th working day after the day of submission, in
    the store's time zone (the midnight that starts the next day). Submitted on a Friday (or at the weekend):
    by the end of the next Friday."""
    if submitted_at.tzinfo is None:
        raise ValueError("submitted_at must be timezone-aware")
    last_day = add_working_days(
        submitted_at.astimezone(zone).date(), working_days, holidays, makeup_working_days
    )
    return datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone)
