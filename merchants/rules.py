"""Pure rule arithmetic for merchants: no ORM here, only plain values in and out.

Numbers come in as arguments (read from the rule table by the caller), never as literals.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

# --- Unified social credit code (GB 32100-2015) -------------------------------------------------

CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_character(first17: str) -> str:
    """The 18th character for the first 17 (GB 32100-2015, modulus 31)."""
    total = sum(CREDIT_CODE_CHARSET.index(ch) * w for ch, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """Why a unified social credit code is invalid, or None when it is valid."""
    if len(code) != 18:
        return _("A unified social credit code has 18 characters; this one has %(n)d.") % {"n": len(code)}
    bad = sorted({ch for ch in code if ch not in CREDIT_CODE_CHARSET})
    if bad:
        return _("Characters not allowed in a unified social credit code: %(chars)s.") % {
            "chars": " ".join(bad)
        }
    expected = credit_code_check_character(code[:17])
    if code[17] != expected:
        return _("The check character is wrong: expected %(expected)s, found %(found)s.") % {
            "expected": expected,
            "found": code[17],
        }
    return None


# --- Dates ----------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Aug + 6 months = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# --- Store admission ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdmissionFacts:
    entity_kind: str
    entity_allowed_kinds: frozenset[str]
    banned_for_ever: bool
    exited_on: date | None
    licence_expires_on: date | None
    today: date
    open_store_count: int
    same_brand_store_count: int
    brand_name: str | None


@dataclass(frozen=True)
class AdmissionLimits:
    max_stores_per_entity: int
    max_stores_per_brand_per_entity: int
    reentry_months_after_exit: int
    licence_min_valid_days: int


def admission_refusals(facts: AdmissionFacts, limits: AdmissionLimits) -> list[str]:
    """Every reason the entity may not open this store; empty when it may."""
    reasons: list[str] = []
    if facts.entity_kind not in facts.entity_allowed_kinds:
        reasons.append(
            _("Natural persons may no longer open stores; apply as an enterprise or an individual business.")
        )
    if facts.banned_for_ever:
        reasons.append(
            _("This entity had a store cleared out for serious violations and may never apply again.")
        )
    if facts.exited_on is not None:
        may_reapply_on = add_months(facts.exited_on, limits.reentry_months_after_exit)
        if facts.today < may_reapply_on:
            reasons.append(
                _(
                    "This entity left the platform on %(exited)s and may apply again from %(again)s "
                    "(%(months)d months after leaving)."
                )
                % {
                    "exited": facts.exited_on.isoformat(),
                    "again": may_reapply_on.isoformat(),
                    "months": limits.reentry_months_after_exit,
                }
            )
    if facts.licence_expires_on is None:
        reasons.append(_("The business licence expiry date is missing."))
    elif (facts.licence_expires_on - facts.today).days <= limits.licence_min_valid_days:
        if facts.licence_expires_on < facts.today:
            reasons.append(
                _("The business licence expired on %(date)s.")
                % {"date": facts.licence_expires_on.isoformat()}
            )
        else:
            reasons.append(
                _(
                    "The business licence expires on %(date)s; it must be valid for more than "
                    "%(days)d more days."
                )
                % {"date": facts.licence_expires_on.isoformat(), "days": limits.licence_min_valid_days}
            )
    if facts.open_store_count >= limits.max_stores_per_entity:
        reasons.append(
            _("This entity already holds %(count)d stores; the limit is %(limit)d.")
            % {"count": facts.open_store_count, "limit": limits.max_stores_per_entity}
        )
    if facts.brand_name and facts.same_brand_store_count >= limits.max_stores_per_brand_per_entity:
        reasons.append(
            _("This entity already has %(count)d store(s) for the brand %(brand)s; the limit is %(limit)d.")
            % {
                "count": facts.same_brand_store_count,
                "brand": facts.brand_name,
                "limit": limits.max_stores_per_brand_per_entity,
            }
        )
    return reasons


# --- Deposits -------------------------------------------------------------------------------------

CENT = Decimal("0.01")


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def required_deposit(base_deposits: list[Decimal], default: Decimal) -> Decimal:
    """The highest base deposit among the store's categories (not the sum); the default without any."""
    return money(max(base_deposits) if base_deposits else default)


# --- Listing screening ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreeningRule:
    kind: str  # prohibited | third_party | contact | link
    label: str  # what the seller is told the rule is about
    pattern: str  # a plain word, or a regular expression when is_regex
    is_regex: bool


@dataclass(frozen=True)
class ScreeningHit:
    field: str
    kind: str
    label: str
    matched: str

    def message(self) -> str:
        return _("%(label)s: “%(matched)s”") % {"label": self.label, "matched": self.matched}


def screen_texts(texts: dict[str, str], rules: list[ScreeningRule]) -> list[ScreeningHit]:
    """Every rule that trips on any of the texts, with the exact words that tripped it."""
    hits: list[ScreeningHit] = []
    seen: set[tuple[str, str, str]] = set()
    for field, text in texts.items():
        if not text:
            continue
        for rule in rules:
            pattern = rule.pattern if rule.is_regex else re.escape(rule.pattern)
            for match in re.finditer(pattern, text, flags=re.IGNORECASE):
                matched = match.group(0).strip()
                key = (field, rule.label, matched.lower())
                if matched and key not in seen:
                    seen.add(key)
                    hits.append(ScreeningHit(field=field, kind=rule.kind, label=rule.label, matched=matched))
    return hits


# --- Consumer compensation and the point ladder (RULES §4, §9) -------------------------------------


def compensation_amount(
    *, amount_paid: Decimal, rate: Decimal, minimum: Decimal, maximum: Decimal
) -> Decimal:
    """rate × amount paid, at least `minimum`, at most `maximum`, rounded half-up to whole yuan."""
    raw = (amount_paid * rate).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return money(min(max(raw, minimum), maximum))


@dataclass(frozen=True)
class LadderStep:
    threshold: int
    penalties: tuple[str, ...]
    duration_days: int | None


def ladder_steps_crossed(*, before: int, after: int, steps: list[LadderStep]) -> list[LadderStep]:
    """The steps whose threshold lies in (before, after]: each applies once, when first reached."""
    return [step for step in sorted(steps, key=lambda s: s.threshold) if before < step.threshold <= after]


def next_ladder_step(*, points: int, steps: list[LadderStep]) -> LadderStep | None:
    return next((s for s in sorted(steps, key=lambda s: s.threshold) if s.threshold > points), None)
