"""Pure order arithmetic: deadlines, fees, masking. Plain values in, plain values out; no ORM."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

CENT = Decimal("0.01")

# --- Dispatch deadlines (RULES §4) ----------------------------------------------------------------


def line_dispatch_deadline(
    *, paid_at: datetime, promise: str, zone: ZoneInfo, same_day_cutoff_hour: int
) -> datetime:
    """When one line's promise runs out.

    24h/48h/72h: that many hours after payment. Same day: paid before the cut-off hour (local time) →
    by the end of that day; paid later → by the end of the next day. Next day: by the end of the day
    after payment. "End of day" is local midnight.
    """
    if promise.endswith("h"):
        return paid_at + timedelta(hours=int(promise[:-1]))
    local = paid_at.astimezone(zone)
    if promise == "same_day":
        days = 1 if local.time() < time(same_day_cutoff_hour) else 2
    elif promise == "next_day":
        days = 2
    else:
        raise ValueError(f"unknown dispatch promise {promise!r}")
    midnight = datetime.combine(local.date() + timedelta(days=days), time(0), tzinfo=zone)
    return midnight.astimezone(paid_at.tzinfo)


def order_dispatch_deadline(
    *, paid_at: datetime, promises: list[str], zone: ZoneInfo, same_day_cutoff_hour: int
) -> datetime:
    """The order must ship by the earliest of its lines' deadlines (the shortest promise wins)."""
    if not promises:
        raise ValueError("an order needs at least one line")
    return min(
        line_dispatch_deadline(
            paid_at=paid_at, promise=p, zone=zone, same_day_cutoff_hour=same_day_cutoff_hour
        )
        for p in promises
    )


def promised_hours(*, paid_at: datetime, deadline: datetime) -> int:
    """The order's promise in whole hours, half-up (it picks the compensation row): a next-day promise paid
    just after midnight runs 47.8 hours and counts as 48."""
    hours = Decimal((deadline - paid_at).total_seconds()) / 3600
    return int(hours.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


# --- Technical service fee (RULES §5) -------------------------------------------------------------


@dataclass(frozen=True)
class FeeLine:
    subtotal: Decimal  # quantity × unit price, before order-level discounts
    rate: Decimal  # the category's fee rate, a fraction


def service_fee(
    *,
    amount_paid: Decimal,
    lines: list[FeeLine],
    is_advertising: bool,
    store_age_days: int | None,
    new_store_days: int,
    new_store_rate: Decimal,
) -> Decimal:
    """The technical service fee: the amount paid, shared across lines by their subtotals, times each
    line's category rate. A store in its first `new_store_days` days pays `new_store_rate` on
    non-advertising orders. Half-up to the cent."""
    if amount_paid <= 0 or not lines:
        return Decimal("0.00")
    if not is_advertising and store_age_days is not None and 0 <= store_age_days < new_store_days:
        return (amount_paid * new_store_rate).quantize(CENT, rounding=ROUND_HALF_UP)
    total = sum((line.subtotal for line in lines), Decimal("0"))
    if total <= 0:
        weighted = sum((line.rate for line in lines), Decimal("0")) / len(lines)
        return (amount_paid * weighted).quantize(CENT, rounding=ROUND_HALF_UP)
    fee = sum((amount_paid * line.subtotal / total * line.rate for line in lines), Decimal("0"))
    return fee.quantize(CENT, rounding=ROUND_HALF_UP)


def order_settlement(
    *, amount_paid: Decimal, service_fee: Decimal, completed_at: datetime, release_days: int
) -> tuple[datetime, list[tuple[str, Decimal]]]:
    """What a completed order adds to its store's settlement account (RULES §5): its income and, when it
    pays one, its technical service fee (negative), each under its cause-key suffix ("income", "fee"), both
    withdrawable `release_days` after the buyer confirmed receipt."""
    entries = [("income", amount_paid)]
    if service_fee:
        entries.append(("fee", -service_fee))
    return completed_at + timedelta(days=release_days), entries


# --- Masking buyer data (RULES §12) ---------------------------------------------------------------


def mask_name(name: str) -> str:
    """张三丰 → 张**; Alice Smith → A**. The length of the name is not shown."""
    name = (name or "").strip()
    return f"{name[0]}**" if name else ""


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678; +86 138 1234 5678 → +86 138****5678; shorter numbers keep 3 + 4 or the last 2."""
    phone = (phone or "").strip()
    positions = [i for i, ch in enumerate(phone) if ch.isdigit()]
    digits = "".join(phone[i] for i in positions)
    if len(digits) >= 11:
        # A mainland mobile number is the last 11 digits; whatever stands before them (+86) stays.
        prefix = phone[: positions[-11]]
        return f"{prefix}{digits[-11:-8]}****{digits[-4:]}"
    hidden = set(positions[3:-4]) if len(digits) >= 7 else set(positions[:-2])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(phone))


def mask_address(*, region: str, detail: str) -> str:
    """The address cut after the district: 浙江省 杭州市 西湖区 ****."""
    region = (region or "").strip()
    return f"{region} ****" if region else ("****" if detail else "")


# --- Store-level late-dispatch escalation (RULES §4) ------------------------------------------------


@dataclass(frozen=True)
class LateRateDay:
    """One product's orders due on one day: how many, and how many of them were dispatched late."""

    late: int
    due: int


@dataclass(frozen=True)
class LateRateRules:
    ban_rate: Decimal  # a day counts when late / due is above this …
    ban_min_late: int  # … with at least this many late orders
    severe_rate: Decimal
    severe_min_late: int
    days_needed: int  # on this many days of the window (or more)


def _bad_day(day: LateRateDay, *, rate: Decimal, min_late: int) -> bool:
    # late / due > rate, compared without division (no float, no zero due)
    return day.due > 0 and day.late >= min_late and Decimal(day.late) > rate * day.due


def late_rate_escalation(*, days: list[LateRateDay], rules: LateRateRules) -> str | None:
    """ "severe" (ban and order restriction), "ban", or None for one product over the judged window."""
    if (
        sum(_bad_day(d, rate=rules.severe_rate, min_late=rules.severe_min_late) for d in days)
        >= rules.days_needed
    ):
        return "severe"
    if sum(_bad_day(d, rate=rules.ban_rate, min_late=rules.ban_min_late) for d in days) >= rules.days_needed:
        return "ban"
    return None
