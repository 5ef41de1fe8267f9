"""Pure rule arithmetic for merchants: no ORM here, only plain values in and out.

Numbers come in as arguments (read from the rule table by the caller), never as literals.
"""

from __future__ import annotations

import calendar
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Protocol, TypeVar

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

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


class PromiseRange(Protocol):
    """A compensation row's promise range: hours in (promised_hours_min, promised_hours_max]."""

    promised_hours_min: int
    promised_hours_max: int | None


RangeT = TypeVar("RangeT", bound=PromiseRange)


def compensation_rule_for(rules: Sequence[RangeT], hours: Decimal | int | None) -> RangeT | None:
    """The row whose promise range holds `hours`: ranges are (lower, upper], so a 48-hour promise is in
    "up to 48" and not in "48 to 240"; no upper bound means no limit. A lower bound of 0 also holds 0 (a type
    whose compensation does not depend on the promise is judged with no hours). Overlapping rows (a table
    edited badly): the one with the highest lower bound, the narrowest."""
    hours = Decimal(hours or 0)
    fitting = [
        rule
        for rule in rules
        if (hours > rule.promised_hours_min or rule.promised_hours_min == 0)
        and (rule.promised_hours_max is None or hours <= rule.promised_hours_max)
    ]
    return max(fitting, key=lambda rule: rule.promised_hours_min, default=None)


@dataclass(frozen=True)
class LadderStep:
    threshold: int
    penalties: tuple[str, ...]
    duration_days: int | None


# The penalties each ladder knows how to apply (services.py applies them; anything else would do nothing).
POINT_LADDER_PENALTIES = (
    "warning",
    "rules_exam",
    "listing_block",
    "order_restriction",
    "suspension",
    "clear_out",
)
OCCURRENCE_LADDER_PENALTIES = (
    "warning",
    "rules_exam",
    "settlement_freeze",
    "listing_block",
    "order_restriction",
    "withdrawal_hold",
    "suspension",
    "clear_out",
)


def ladder_step_problems(
    *, penalties: str, duration_days: int | None, allowed: tuple[str, ...]
) -> dict[str, list[str]]:
    """What is wrong with a ladder step as typed, by field: penalty names the ladder does not know (a typo
    would silently apply nothing), none at all, one twice, or a suspension without its length."""
    names = [name.strip() for name in penalties.split(",") if name.strip()]
    problems: dict[str, list[str]] = {}
    unknown = [name for name in names if name not in allowed]
    if not names:
        problems["penalties"] = [_("Name at least one penalty.")]
    elif unknown:
        problems["penalties"] = [
            _("Unknown penalty %(names)s; the ladder knows: %(allowed)s.")
            % {"names": ", ".join(f"“{name}”" for name in unknown), "allowed": ", ".join(allowed)}
        ]
    elif len(set(names)) < len(names):
        problems["penalties"] = [_("Name each penalty once.")]
    if "suspension" in names and not duration_days:
        problems["duration_days"] = [_("A suspension needs its duration in days.")]
    return problems


def ladder_steps_crossed(*, before: int, after: int, steps: list[LadderStep]) -> list[LadderStep]:
    """The steps whose threshold lies in (before, after]: each applies once, when first reached."""
    return [step for step in sorted(steps, key=lambda s: s.threshold) if before < step.threshold <= after]


def next_ladder_step(*, points: int, steps: list[LadderStep]) -> LadderStep | None:
    return next((s for s in sorted(steps, key=lambda s: s.threshold) if s.threshold > points), None)


# --- Rules exam -----------------------------------------------------------------------------------
# Questions are generated from the rule table's current values, so editing a number changes the quiz.
# A question is stored as plain data (key, subject, unit, choices, answer) and put into words when shown,
# in the reader's language.

# Parameters that make a question, with the unit of their answer. Missing parameters are skipped.
EXAM_PARAMETER_UNITS = {
    "out_of_stock_after_hours": "hours",
    "late_dispatch_rejudge_hours": "hours",
    "late_dispatch_max_strikes": "times",
    "max_stores_per_entity": "stores",
    "max_stores_per_brand_per_entity": "stores",
    "shortfall_grace_hours": "hours",
    "max_promised_dispatch_hours": "hours",
    "tracking_overdue_hours": "hours",
    "false_dispatch_no_pickup_hours": "hours",
    "settlement_release_days": "days",
    "appeal_window_days": "days",
    "max_appeals_per_violation": "times",
    "reentry_months_after_exit": "months",
    "lost_contact_calls": "calls",
    "avg_response_limit_seconds": "seconds",
    "default_base_deposit": "yuan",
}

EXAM_CHOICES = 4  # the right answer and three distractors


@dataclass(frozen=True)
class ExamSpec:
    """One question the rule table can ask: what it is about and the right value."""

    key: str
    unit: str
    value: Decimal
    subject: dict


@dataclass(frozen=True)
class ExamQuestion:
    key: str
    unit: str
    subject: dict
    choices: tuple[str, ...]
    answer: int

    def as_data(self) -> dict:
        return {
            "key": self.key,
            "unit": self.unit,
            "subject": self.subject,
            "choices": list(self.choices),
            "answer": self.answer,
        }


def _plain(value: Decimal) -> str:
    """48.0000 → "48", 0.0100 → "0.01": the value as a reader writes it."""
    normalized = value.normalize()
    if normalized == normalized.to_integral_value():
        return str(normalized.quantize(Decimal("1")))
    return format(normalized, "f")


def exam_question_bank(
    *,
    parameters: dict[str, Decimal],
    ladder_steps: list[tuple[str, int, tuple[str, ...]]],
    compensation_rules: list[tuple[str, Decimal, Decimal, Decimal]],
    occurrence_steps: list[tuple[str, int, tuple[str, ...]]] = (),
) -> list[ExamSpec]:
    """Every question the current rule table can ask, in a stable order.

    ladder_steps: (ledger, threshold, penalties); compensation_rules: (description, rate, minimum, maximum);
    occurrence_steps: (violation type name, occurrence, penalties).
    """
    bank = []
    for key, unit in EXAM_PARAMETER_UNITS.items():
        if key in parameters and parameters[key] > 0:
            bank.append(ExamSpec(key, unit, Decimal(parameters[key]), {}))
    for ledger, threshold, penalties in sorted(ladder_steps):
        bank.append(
            ExamSpec(
                "ladder_threshold",
                "points",
                Decimal(threshold),
                {"ledger": ledger, "penalties": list(penalties)},
            )
        )
    for description, rate, minimum, maximum in sorted(compensation_rules):
        what = {"what": description}
        bank.append(ExamSpec("compensation_rate", "percent", Decimal(rate) * 100, what))
        bank.append(ExamSpec("compensation_minimum", "yuan", Decimal(minimum), what))
        bank.append(ExamSpec("compensation_maximum", "yuan", Decimal(maximum), what))
    for type_name, occurrence, penalties in sorted(occurrence_steps):
        if "clear_out" in penalties:
            bank.append(ExamSpec("occurrence_clear_out", "nth", Decimal(occurrence), {"type": type_name}))
    return bank


def exam_distractors(*, value: Decimal, unit: str, same_unit: list[Decimal]) -> list[Decimal]:
    """Plausible wrong answers: other figures of the rulebook in the same unit, and near multiples."""
    integral = value == value.to_integral_value()
    step = Decimal(1) if value <= 5 else (value / 4).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    candidates = set(same_unit) | {
        value * 2,
        value * 3,
        value / 2,
        value * Decimal("1.5"),
        value + step,
        value + 2 * step,
        value + 3 * step,
        value - step,
    }
    wrong = set()
    for candidate in candidates:
        if integral:
            if candidate != candidate.to_integral_value():
                continue
            candidate = candidate.quantize(Decimal("1"))
        else:
            candidate = candidate.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if candidate > 0 and candidate != value and not (unit == "percent" and candidate >= 100):
            wrong.add(candidate.normalize())
    return sorted(wrong)


def exam_draw(*, bank: list[ExamSpec], count: int, seed: int) -> list[ExamQuestion]:
    """`count` questions from the bank with their choices shuffled: the same seed and the same rule table
    give the same exam."""
    rng = random.Random(seed)
    chosen = rng.sample(bank, min(count, len(bank)))
    questions = []
    for spec in chosen:
        same_unit = [other.value for other in bank if other.unit == spec.unit and other.value != spec.value]
        wrong = exam_distractors(value=spec.value, unit=spec.unit, same_unit=same_unit)
        choices = [spec.value.normalize(), *rng.sample(wrong, min(EXAM_CHOICES - 1, len(wrong)))]
        rng.shuffle(choices)
        questions.append(
            ExamQuestion(
                key=spec.key,
                unit=spec.unit,
                subject=spec.subject,
                choices=tuple(_plain(choice) for choice in choices),
                answer=choices.index(spec.value.normalize()),
            )
        )
    return questions


def exam_score(*, questions: list[dict], answers: list[int | None]) -> int:
    """How many answers pick the right choice."""
    return sum(
        1
        for question, answer in zip(questions, answers, strict=True)
        if answer is not None and answer == question["answer"]
    )


def exam_passed(*, score: int, total: int, pass_share: Decimal) -> bool:
    return total > 0 and Decimal(score) >= pass_share * total


# The words of each question; %(...)s are filled from the question's subject.
EXAM_QUESTION_TEXTS = {
    "out_of_stock_after_hours": gettext_lazy(
        "How many hours after the dispatch deadline does an order that is still unshipped count as out of stock?"
    ),
    "late_dispatch_rejudge_hours": gettext_lazy("A late order is judged late again every how many hours?"),
    "late_dispatch_max_strikes": gettext_lazy("At most how many times is one order judged late?"),
    "max_stores_per_entity": gettext_lazy("How many stores may one legal entity hold at most?"),
    "max_stores_per_brand_per_entity": gettext_lazy(
        "How many stores may one legal entity hold for the same brand?"
    ),
    "shortfall_grace_hours": gettext_lazy(
        "How many hours may a deposit shortfall last before new listings and new orders are restricted?"
    ),
    "max_promised_dispatch_hours": gettext_lazy(
        "What is the longest dispatch time a listing of ordinary goods may promise?"
    ),
    "tracking_overdue_hours": gettext_lazy(
        "How many hours after the tracking number is given does a missing pickup scan make tracking overdue?"
    ),
    "false_dispatch_no_pickup_hours": gettext_lazy(
        "How many hours without a pickup scan after the tracking number is given count as false dispatch?"
    ),
    "settlement_release_days": gettext_lazy(
        "How many days after the buyer confirms receipt does order income become withdrawable?"
    ),
    "appeal_window_days": gettext_lazy(
        "Within how many days of a violation may the store appeal against it?"
    ),
    "max_appeals_per_violation": gettext_lazy("How many appeals may a store file against one violation?"),
    "reentry_months_after_exit": gettext_lazy(
        "How many months after a voluntary exit may the entity apply for a store again?"
    ),
    "lost_contact_calls": gettext_lazy(
        "How many unconnected calls from a buyer within the window mean the store has lost contact?"
    ),
    "avg_response_limit_seconds": gettext_lazy(
        "Above what average human response time is customer service judged negative?"
    ),
    "default_base_deposit": gettext_lazy(
        "What deposit does a store keep when none of its categories has a deposit rule?"
    ),
    "ladder_threshold": gettext_lazy(
        "How many %(ledger)s violation points in one natural year lead to: %(penalties)s?"
    ),
    "compensation_rate": gettext_lazy(
        "What share of the amount paid is the buyer's compensation for: %(what)s?"
    ),
    "compensation_minimum": gettext_lazy("What is the least compensation a buyer is paid for: %(what)s?"),
    "compensation_maximum": gettext_lazy("What is the most compensation a buyer is paid for: %(what)s?"),
    "occurrence_clear_out": gettext_lazy(
        "Which violation of this kind in one natural year clears the store out: %(type)s?"
    ),
}

PENALTY_LABELS = {
    "warning": gettext_lazy("a warning"),
    "rules_exam": gettext_lazy("the rules exam"),
    "listing_block": gettext_lazy("no new listings"),
    "order_restriction": gettext_lazy("new orders restricted"),
    "withdrawal_hold": gettext_lazy("withdrawals held"),
    "settlement_freeze": gettext_lazy("settlement frozen"),
    "suspension": gettext_lazy("suspension"),
    "clear_out": gettext_lazy("clear-out"),
}

LEDGER_LABELS = {"general": gettext_lazy("general"), "serious": gettext_lazy("serious")}


def exam_question_text(question: dict) -> str:
    """The question in the active language."""
    subject = question.get("subject") or {}
    words = {
        "ledger": str(LEDGER_LABELS.get(subject.get("ledger"), subject.get("ledger", ""))),
        "penalties": ", ".join(str(PENALTY_LABELS.get(p, p)) for p in subject.get("penalties", [])),
        "what": _(subject["what"]) if subject.get("what") else "",
        "type": _(subject["type"]) if subject.get("type") else "",
    }
    return str(EXAM_QUESTION_TEXTS[question["key"]]) % words


def exam_choice_label(*, unit: str, value: str) -> str:
    """A choice with its unit: "48 hours", "1%", "¥50"."""
    number = Decimal(value)
    count = int(number) if number == number.to_integral_value() else 2
    if unit == "percent":
        return _("%(n)s%%") % {"n": value}
    if unit == "yuan":
        return _("¥%(n)s") % {"n": value}
    if unit == "nth":
        return _("the %(n)s. one") % {"n": value}
    labels = {
        "hours": ngettext("%(n)s hour", "%(n)s hours", count),
        "days": ngettext("%(n)s day", "%(n)s days", count),
        "months": ngettext("%(n)s month", "%(n)s months", count),
        "seconds": ngettext("%(n)s second", "%(n)s seconds", count),
        "times": ngettext("%(n)s time", "%(n)s times", count),
        "stores": ngettext("%(n)s store", "%(n)s stores", count),
        "calls": ngettext("%(n)s call", "%(n)s calls", count),
        "points": ngettext("%(n)s point", "%(n)s points", count),
    }
    return labels.get(unit, "%(n)s") % {"n": value}


# --- Store experience score (RULES §11) -----------------------------------------------------------

# The figures behind each part of the score. Rates are shares (0–1); times in hours or seconds.
SCORE_PARTS: dict[str, tuple[str, ...]] = {
    "product": ("quality_return_rate", "complaint_rate", "spot_check_pass_rate"),
    "logistics": ("late_dispatch_rate", "valid_tracking_rate", "pickup_hours", "delivery_attainment"),
    "service": ("reply_3min_rate", "avg_response_seconds"),
}
SCORE_METRICS = tuple(metric for metrics in SCORE_PARTS.values() for metric in metrics)
HUNDRED = Decimal("100")


@dataclass(frozen=True)
class ScoreBand:
    """A figure's good and bad ends: at `good` or better it earns 100, at `bad` or worse 0, linearly between.
    Which way is better follows from the two ends (a rate to keep low has good < bad)."""

    good: Decimal
    bad: Decimal


@dataclass(frozen=True)
class ScoreRules:
    bands: dict[str, ScoreBand]
    weights: dict[str, Decimal]  # part → weight (they need not sum to 1: they are normalised)
    floor: Decimal = Decimal("50")
    ceiling: Decimal = Decimal("100")
    growth_min_orders: int = 30
    growth_score: Decimal = Decimal("70")
    negative_service_points: Decimal = Decimal("3")
    negative_service_cap: Decimal = Decimal("15")
    fraudulent_dispatch_points: Decimal = Decimal("15")


@dataclass(frozen=True)
class ScoreParts:
    score: Decimal
    product: Decimal
    logistics: Decimal
    service: Decimal
    deductions: Decimal
    growth_stage: bool


def band_points(value: Decimal | None, band: ScoreBand) -> Decimal | None:
    """0–100 for a figure (None when there is nothing to judge)."""
    if value is None:
        return None
    if band.good == band.bad:
        return HUNDRED if value == band.good else Decimal("0")
    share = (Decimal(value) - band.bad) / (band.good - band.bad)
    return min(max(share, Decimal("0")), Decimal("1")) * HUNDRED


def score_part(
    metrics: dict[str, Decimal | None], names: tuple[str, ...], bands: dict[str, ScoreBand]
) -> Decimal:
    """The mean of the part's judged figures; a part with nothing to judge is full (no sign of trouble)."""
    points = [p for name in names if (p := band_points(metrics.get(name), bands[name])) is not None]
    return sum(points) / len(points) if points else HUNDRED


def experience_score(
    *,
    metrics: dict[str, Decimal | None],
    paid_orders: int,
    negative_service_events: int,
    fraudulent_dispatch_violations: int,
    rules: ScoreRules,
) -> ScoreParts:
    """The day's score: floor + (ceiling − floor) × the weighted mean of the parts, less the bad-behaviour
    deductions, kept between floor and ceiling; rounded half-up to 2 places. A store with fewer paid orders
    than the growth minimum sits at the growth score (its parts are still worked out, for its own view)."""
    cent = Decimal("0.01")
    parts = {name: score_part(metrics, names, rules.bands) for name, names in SCORE_PARTS.items()}
    total_weight = sum(rules.weights[name] for name in parts) or Decimal("1")
    mean = sum(parts[name] * rules.weights[name] for name in parts) / total_weight
    deductions = min(negative_service_events * rules.negative_service_points, rules.negative_service_cap) + (
        fraudulent_dispatch_violations * rules.fraudulent_dispatch_points
    )
    raw = rules.floor + (rules.ceiling - rules.floor) * mean / HUNDRED - deductions
    growth = paid_orders < rules.growth_min_orders
    score = rules.growth_score if growth else min(max(raw, rules.floor), rules.ceiling)
    return ScoreParts(
        score=score.quantize(cent, rounding=ROUND_HALF_UP),
        product=parts["product"].quantize(cent, rounding=ROUND_HALF_UP),
        logistics=parts["logistics"].quantize(cent, rounding=ROUND_HALF_UP),
        service=parts["service"].quantize(cent, rounding=ROUND_HALF_UP),
        deductions=Decimal(deductions).quantize(cent, rounding=ROUND_HALF_UP),
        growth_stage=growth,
    )


def decimal_or_none(value) -> Decimal | None:
    """A figure read back from JSON or a query as a Decimal; None when it is missing or not a number."""
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


# --- Working days (re-test windows, appeal decisions) ----------------------------------------------


@dataclass(frozen=True)
class HolidayCalendar:
    """The public-holiday calendar's exceptions to the Monday–Friday week (from the rule table)."""

    holidays: frozenset[date] = frozenset()  # days off, even on a weekday
    makeup_working_days: frozenset[date] = frozenset()  # weekend days worked (调休)


def is_working_day(
    day: date, holidays: frozenset[date] = frozenset(), makeup_working_days: frozenset[date] = frozenset()
) -> bool:
    """Monday to Friday, except the given public holidays; plus the make-up working days (a Saturday or
    Sunday worked in exchange for a longer holiday counts as a working day)."""
    if day in makeup_working_days:
        return True
    return day.weekday() < 5 and day not in holidays


def add_working_days(
    start: date,
    days: int,
    holidays: frozenset[date] = frozenset(),
    makeup_working_days: frozenset[date] = frozenset(),
) -> date:
    """The `days`-th working day after `start` (start itself is not counted)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day, holidays, makeup_working_days):
            counted += 1
    return day
