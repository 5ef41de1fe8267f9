"""Reads. Seller-facing reads take the acting user and return only their stores' rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import (
    CharField,
    Count,
    DecimalField,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Abs, Cast, Coalesce, Concat
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from merchants.models import (
    Category,
    DepositAccount,
    DepositEntry,
    Listing,
    ListingStatus,
    Membership,
    PublicHoliday,
    RuleParameter,
    Sanction,
    ScreeningPattern,
    Store,
)
from merchants.roles import CAPABILITY_NAMES, role_can
from merchants.rules import HolidayCalendar, ScreeningRule, money, required_deposit

# --- The rule table -------------------------------------------------------------------------------


def rule_decimal(key: str) -> Decimal:
    try:
        return RuleParameter.objects.values_list("value", flat=True).get(key=key)
    except RuleParameter.DoesNotExist as exc:
        raise ImproperlyConfigured(f"The rule table has no parameter {key!r}; run the migrations.") from exc


def rule_int(key: str) -> int:
    return int(rule_decimal(key))


def rule_decimals(*keys: str) -> dict[str, Decimal]:
    found = dict(RuleParameter.objects.filter(key__in=keys).values_list("key", "value"))
    missing = set(keys) - set(found)
    if missing:
        raise ImproperlyConfigured(
            f"The rule table has no parameter(s) {sorted(missing)}; run the migrations."
        )
    return found


def holiday_calendar(*, start: date, days: int = 366) -> HolidayCalendar:
    """The public-holiday calendar from `start` for `days` days (a year covers any working-day deadline the
    rule table sets), in one query."""
    rows = PublicHoliday.objects.filter(day__gte=start, day__lte=start + timedelta(days=days)).values_list(
        "day", "kind"
    )
    holidays, makeup = set(), set()
    for day, kind in rows:
        (makeup if kind == PublicHoliday.Kind.WORKING_DAY else holidays).add(day)
    return HolidayCalendar(holidays=frozenset(holidays), makeup_working_days=frozenset(makeup))


def screening_rules() -> list[ScreeningRule]:
    return [
        ScreeningRule(kind=p.kind, label=p.label, pattern=p.pattern, is_regex=p.is_regex)
        for p in ScreeningPattern.objects.filter(is_active=True).order_by("kind", "id")
    ]


# --- Tenant scoping -------------------------------------------------------------------------------


def stores_for_user(*, user) -> QuerySet[Store]:
    if not user.is_authenticated:
        return Store.objects.none()
    return Store.objects.filter(memberships__user=user).order_by("code")


def memberships_for_user(*, user) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("store").order_by("store__code")


def membership_for_store(*, user, store_code: str, capability: str | None = None) -> Membership:
    """The user's membership of the store, or 404 whatever the reason (unknown store or not a member).

    With `capability`, a member whose role lacks it gets 403: they know the store exists.
    """
    now = timezone.now()
    membership = (
        Membership.objects.filter(user=user, store__code=store_code)
        .select_related("store", "store__entity", "store__main_category")
        .prefetch_related(
            Prefetch("store__sanctions", queryset=Sanction.objects.live(now), to_attr="live_sanctions"),
        )
        .first()
    )
    if membership is None:
        raise Http404(_("No such store."))
    if capability and not role_can(membership.role, capability):
        raise PermissionDenied(
            _("Your role (%(role)s) may not %(what)s.")
            % {"role": membership.get_role_display(), "what": CAPABILITY_NAMES[capability]}
        )
    return membership


def listings_for_store(
    *, store: Store, status: str | None = None, search: str | None = None
) -> QuerySet[Listing]:
    qs = Listing.objects.filter(store=store).select_related("category", "brand")
    if status:
        qs = qs.filter(status=status)
    if search:
        qs = qs.filter(Q(sku__icontains=search) | Q(title__icontains=search))
    return qs.order_by("-updated_at", "-id")


def listing_for_store(*, store: Store, listing_id: int) -> Listing:
    listing = Listing.objects.filter(store=store, pk=listing_id).select_related("category", "brand").first()
    if listing is None:
        raise Http404(_("No such listing."))
    return listing


def listing_counts(*, store: Store) -> dict[str, int]:
    counts = dict(
        Listing.objects.filter(store=store)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in ListingStatus.values}


# --- Deposits -------------------------------------------------------------------------------------


def deposit_required(*, store: Store) -> Decimal:
    bases = list(store.categories.values_list("base_deposit", flat=True))
    bases.append(store.main_category.base_deposit)
    return required_deposit(bases, rule_decimal("default_base_deposit"))


def deposit_balance(*, store: Store) -> Decimal:
    total = DepositEntry.objects.filter(account__store=store).aggregate(total=Sum("amount"))["total"]
    return money(total or 0)


@dataclass(frozen=True)
class DepositSummary:
    balance: Decimal
    required: Decimal
    shortfall_since: object  # datetime | None

    @property
    def shortfall(self) -> Decimal:
        return max(self.required - self.balance, Decimal("0.00"))

    @property
    def is_short(self) -> bool:
        return self.balance < self.required


def deposit_summary(*, store: Store) -> DepositSummary:
    account = DepositAccount.objects.filter(store=store).only("shortfall_since").first()
    return DepositSummary(
        balance=deposit_balance(store=store),
        required=deposit_required(store=store),
        shortfall_since=account.shortfall_since if account else None,
    )


def deposit_entries(*, store: Store) -> QuerySet[DepositEntry]:
    return (
        DepositEntry.objects.filter(account__store=store)
        .select_related("actor")
        .order_by("-created_at", "-id")
    )


def deposit_accounts_with_position() -> QuerySet[DepositAccount]:
    """Every account annotated with `balance` and `required`, computed in the database (set-based)."""
    money_field = DecimalField(max_digits=14, decimal_places=2)
    balance = (
        DepositEntry.objects.filter(account=OuterRef("pk"))
        .order_by()
        .values("account")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    category_max = (
        Category.objects.filter(Q(stores=OuterRef("store")) | Q(pk=OuterRef("store__main_category")))
        .order_by("-base_deposit")
        .values("base_deposit")[:1]
    )
    return DepositAccount.objects.annotate(
        balance=Coalesce(
            Subquery(balance, output_field=money_field), Value(Decimal("0")), output_field=money_field
        ),
        required=Coalesce(
            Subquery(category_max, output_field=money_field),
            Value(rule_decimal("default_base_deposit")),
            output_field=money_field,
        ),
    ).select_related("store")


@dataclass(frozen=True)
class StoreSuspension:
    until: datetime | None
    reason: str


SUSPENSION_EVENT_KINDS = ("suspended", "suspension_extended", "suspension_shortened")


def store_suspension(*, store: Store) -> StoreSuspension | None:
    """The store's suspension in force (a reviewer's, or a ladder's: the store state, not a sanction row),
    with its end and the reason of the last step that set it; None when the store is not suspended."""
    from merchants.models import StoreEvent, StoreStatus

    if store.status != StoreStatus.SUSPENDED:
        return None
    reason = (
        StoreEvent.objects.filter(store=store, kind__in=SUSPENSION_EVENT_KINDS)
        .order_by("-created_at", "-id")
        .values_list("reason", flat=True)
        .first()
    )
    return StoreSuspension(until=store.suspended_until, reason=reason or "")


def live_sanctions(*, store: Store, now=None) -> QuerySet[Sanction]:
    return (
        Sanction.objects.live(now)
        .filter(store=store)
        .select_related("listing")
        .order_by(F("ends_at").asc(nulls_last=True))
    )


# --- Settlement and withdrawals -------------------------------------------------------------------


@dataclass(frozen=True)
class SettlementPosition:
    available: Decimal  # released: withdrawable now (negative: fee arrears)
    pending: Decimal  # earned, not yet released
    due: Decimal = Decimal("0.00")  # part of `pending` past its date, waiting for the release (or a freeze)

    @property
    def in_arrears(self) -> bool:
        return self.available < 0


def settlement_position(*, store: Store, now=None) -> SettlementPosition:
    """Released settlement is withdrawable; the rest waits for the daily release check (one query)."""
    from django.db.models import Case, When

    from merchants.models import SettlementEntry

    now = now or timezone.now()
    money_field = DecimalField(max_digits=14, decimal_places=2)
    zero = Value(Decimal("0"))
    totals = SettlementEntry.objects.filter(store=store).aggregate(
        available=Sum(
            Case(When(released_at__isnull=False, then="amount"), default=zero, output_field=money_field)
        ),
        pending=Sum(
            Case(When(released_at__isnull=True, then="amount"), default=zero, output_field=money_field)
        ),
        due=Sum(
            Case(
                When(released_at__isnull=True, available_at__lte=now, then="amount"),
                default=zero,
                output_field=money_field,
            )
        ),
    )
    return SettlementPosition(
        available=money(totals["available"] or 0),
        pending=money(totals["pending"] or 0),
        due=money(totals["due"] or 0),
    )


def withdrawal_refusal(*, store: Store, amount: Decimal | None = None, now=None) -> str | None:
    """Why the store may not withdraw (this amount) now, in words for the seller; None when it may."""
    now = now or timezone.now()
    if store.status not in ("active", "suspended", "exiting"):
        return _("The store is %(status)s; withdrawals are closed.") % {"status": store.get_status_display()}
    hold = (
        Sanction.objects.live(now)
        .filter(store=store, kind__in=[Sanction.Kind.WITHDRAWAL_HOLD, Sanction.Kind.SETTLEMENT_FREEZE])
        .order_by(F("ends_at").desc(nulls_first=True))
        .first()
    )
    if hold is not None:
        until = (
            timezone.localtime(hold.ends_at).strftime("%Y-%m-%d %H:%M") if hold.ends_at else _("it is lifted")
        )
        return _("%(what)s until %(until)s: %(reason)s") % {
            "what": hold.get_kind_display().capitalize(),
            "until": until,
            "reason": _(hold.reason),
        }
    position = settlement_position(store=store, now=now)
    if position.in_arrears:
        return _("The store owes %(amount)s in platform fees; pay the arrears before withdrawing.") % {
            "amount": -position.available
        }
    if amount is not None and amount > position.available:
        return _("Only %(available)s is withdrawable now.") % {"available": position.available}
    return None


def withdrawals_for_store(*, store: Store):
    from merchants.models import Withdrawal

    return Withdrawal.objects.filter(store=store).select_related("requested_by", "decided_by")


def settlement_entries_for_store(*, store: Store):
    from merchants.models import SettlementEntry

    return SettlementEntry.objects.filter(store=store).order_by("-created_at", "-id")


# --- Violations and points ------------------------------------------------------------------------


def _violation_entry_amount(suffix: str):
    """The size of the ledger entry a violation caused (`violation:<id>:<suffix>`), as a positive amount."""
    key = Concat(
        Value("violation:"), Cast(OuterRef("pk"), CharField()), Value(f":{suffix}"), output_field=CharField()
    )
    return Abs(Subquery(DepositEntry.objects.filter(cause_key=key).values("amount")[:1]))


def violations_for_store(*, store: Store):
    """The store's violations, newest first, each with the compensation and deduction it caused."""
    from merchants.models import Violation

    return (
        Violation.objects.filter(store=store)
        .select_related("violation_type")
        .annotate(
            compensation=_violation_entry_amount("compensation"),
            deduction=_violation_entry_amount("deduction"),
        )
        .order_by("-occurred_at", "-id")
    )


def compensation_paid(*, store: Store, since: datetime) -> Decimal:
    """Consumer compensation paid from the store's deposit since a moment, less what revokes gave back."""
    paid = DepositEntry.objects.filter(account__store=store, created_at__gte=since).filter(
        Q(kind=DepositEntry.Kind.COMPENSATION)
        | Q(kind=DepositEntry.Kind.REVERSAL, reverses__kind=DepositEntry.Kind.COMPENSATION)
    )
    return -(paid.aggregate(total=Sum("amount"))["total"] or Decimal("0"))


@dataclass(frozen=True)
class LedgerPosition:
    ledger: str
    label: str
    points: int
    next_threshold: int | None
    next_penalties: tuple[str, ...]
    reached: list[int]

    @property
    def next_penalty_labels(self) -> list[str]:
        """The next step's penalties in words, in the active language (codes the table does not know as typed)."""
        from merchants.rules import PENALTY_LABELS

        return [str(PENALTY_LABELS.get(penalty, penalty)) for penalty in self.next_penalties]


def point_positions(*, store: Store, year: int) -> list[LedgerPosition]:
    """Points per ledger this natural year, the thresholds reached and the next one."""
    from merchants.models import PointEntry, PointLadderStep, ViolationType
    from merchants.rules import LadderStep, next_ladder_step

    totals = dict(
        PointEntry.objects.filter(store=store, year=year)
        .values_list("ledger")
        .annotate(total=Sum("points"))
        .values_list("ledger", "total")
    )
    steps_by_ledger: dict[str, list[LadderStep]] = {}
    for step in PointLadderStep.objects.all():
        steps_by_ledger.setdefault(step.ledger, []).append(
            LadderStep(
                step.threshold, tuple(p.strip() for p in step.penalties.split(",")), step.duration_days
            )
        )
    positions = []
    for ledger, label in ViolationType.Severity.choices:
        points = totals.get(ledger) or 0
        steps = steps_by_ledger.get(ledger, [])
        upcoming = next_ladder_step(points=points, steps=steps)
        positions.append(
            LedgerPosition(
                ledger=ledger,
                label=str(label),
                points=points,
                next_threshold=upcoming.threshold if upcoming else None,
                next_penalties=upcoming.penalties if upcoming else (),
                reached=[
                    s.threshold for s in sorted(steps, key=lambda s: s.threshold) if s.threshold <= points
                ],
            )
        )
    return positions


def point_totals(*, store: Store, year: int) -> dict[str, int]:
    """Points per ledger in a natural year (every ledger present, 0 when none)."""
    from merchants.models import PointEntry, ViolationType

    totals = dict(
        PointEntry.objects.filter(store=store, year=year)
        .values_list("ledger")
        .annotate(total=Sum("points"))
        .values_list("ledger", "total")
    )
    return {ledger: totals.get(ledger) or 0 for ledger in ViolationType.Severity.values}


def point_year_close(*, store: Store, year: int):
    """The closing record of a natural year, or None before the year-rollover check has closed it."""
    from merchants.models import PointYearClose

    return PointYearClose.objects.filter(store=store, year=year).first()


# --- Rules exam -----------------------------------------------------------------------------------


def rules_exam_bank():
    """Every question the rule table can ask now (four queries, whatever the table's size)."""
    from merchants.models import CompensationRule, OccurrenceLadderStep, PointLadderStep
    from merchants.rules import EXAM_PARAMETER_UNITS, exam_question_bank

    def penalties(text: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in text.split(",") if p.strip())

    return exam_question_bank(
        parameters=dict(
            RuleParameter.objects.filter(key__in=EXAM_PARAMETER_UNITS).values_list("key", "value")
        ),
        ladder_steps=[
            (step.ledger, step.threshold, penalties(step.penalties)) for step in PointLadderStep.objects.all()
        ],
        compensation_rules=[
            (rule.description or rule.kind, rule.rate, rule.minimum, rule.maximum)
            for rule in CompensationRule.objects.all()
        ],
        occurrence_steps=[
            (step.violation_type.name, step.occurrence, penalties(step.penalties))
            for step in OccurrenceLadderStep.objects.select_related("violation_type")
        ],
    )


def rules_exam_requirements_open(*, store: Store):
    from merchants.models import RulesExamRequirement

    return RulesExamRequirement.objects.open().filter(store=store).order_by("required_at", "id")


def rules_exam_attempt_in_progress(*, store: Store, user):
    """The user's unsubmitted sitting for this store, if any."""
    from merchants.models import RulesExamAttempt

    return (
        RulesExamAttempt.objects.filter(store=store, user=user, submitted_at__isnull=True)
        .order_by("-started_at", "-id")
        .first()
    )


def rules_exam_attempt_for_store(*, store: Store, attempt_id: int):
    from merchants.models import RulesExamAttempt

    attempt = RulesExamAttempt.objects.filter(store=store, pk=attempt_id).first()
    if attempt is None:
        raise Http404(_("No such exam attempt."))
    return attempt


def rules_exam_attempts_for_store(*, store: Store):
    from merchants.models import RulesExamAttempt

    return (
        RulesExamAttempt.objects.filter(store=store, submitted_at__isnull=False)
        .select_related("user")
        .order_by("-submitted_at", "-id")
    )


def banned_skus(*, store: Store, now=None) -> dict[str, datetime | None]:
    """The store's products banned from sale now: SKU → when the ban ends (None: until lifted)."""
    return dict(
        Sanction.objects.live(now)
        .filter(store=store, kind=Sanction.Kind.PRODUCT_BAN)
        .order_by("ends_at")
        .values_list("listing__sku", "ends_at")
    )
