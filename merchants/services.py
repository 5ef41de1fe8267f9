"""Writes and workflows of the merchants app. Every state change goes through here."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from django_fsm import can_proceed

from merchants.bulkwrite import insert_rows
from merchants.errors import ActionForbidden, AdmissionRefused, DomainError, ListingRefused, TransitionRefused
from merchants.locks import single_flight
from merchants.models import (
    PROMISED_DISPATCH_HOURS,
    STORE_HOLDING_STATUSES,
    Brand,
    BrandAuthorisation,
    Category,
    CompensationRule,
    DepositAccount,
    DepositEntry,
    Entity,
    Listing,
    ListingEvent,
    ListingStatus,
    Membership,
    OccurrenceLadderApplication,
    OccurrenceLadderStep,
    PointEntry,
    PointLadderStep,
    PointYearClose,
    PromisedDispatch,
    RulesExamAttempt,
    RulesExamRequirement,
    Sanction,
    SettlementEntry,
    Store,
    StoreEvent,
    StoreScore,
    StoreStatus,
    Violation,
    ViolationStatus,
    ViolationType,
    Withdrawal,
)
from merchants.roles import APPEAL_VIOLATIONS, MANAGE_LISTINGS, MANAGE_STORE, TAKE_RULES_EXAM, role_can
from merchants.rules import (
    SCORE_METRICS,
    SCORE_PARTS,
    AdmissionFacts,
    AdmissionLimits,
    LadderStep,
    ScoreBand,
    ScoreRules,
    ScreeningHit,
    admission_refusals,
    compensation_amount,
    compensation_rule_for,
    exam_draw,
    exam_passed,
    exam_score,
    experience_score,
    ladder_steps_crossed,
    money,
    screen_texts,
)
from merchants.selectors import (
    deposit_accounts_with_position,
    deposit_balance,
    deposit_required,
    rule_decimals,
    rule_int,
    rules_exam_bank,
    screening_rules,
    withdrawal_refusal,
)
from merchants.spreadsheets import RowError, SheetRow, SpreadsheetError, read_table

logger = logging.getLogger(__name__)


def _require_perm(actor, perm: str) -> None:
    """Staff actions: a person needs the permission; the engine (actor None) acts for the platform."""
    if actor is not None and not actor.has_perm(perm):
        raise ActionForbidden(
            _("You do not have the permission for this action (%(perm)s).") % {"perm": perm}
        )


# Platform staff acting on a store's behalf need the matching model permission instead of a membership.
STAFF_PERMISSION_FOR_CAPABILITY = {
    MANAGE_LISTINGS: "merchants.change_listing",
    MANAGE_STORE: "merchants.review_store",
    APPEAL_VIOLATIONS: "merchants.record_violation",  # a reviewer filing a seller's appeal given by phone
}


def _require_store_capability(actor, store: Store, capability: str) -> None:
    """Seller actions: the actor's role on this store must allow it. The engine (actor None) passes;
    staff pass only with the permission that stands for the capability."""
    if actor is None:
        return
    if actor.is_staff and actor.has_perm(STAFF_PERMISSION_FOR_CAPABILITY[capability]):
        return
    role = Membership.objects.filter(user=actor, store=store).values_list("role", flat=True).first()
    if role is None or not role_can(role, capability):
        raise ActionForbidden(_("Your role on this store does not allow this action."))


def _store_event(store: Store, kind: str, *, actor=None, reason="", from_status="", to_status="", data=None):
    return StoreEvent.objects.create(
        store=store,
        kind=kind,
        actor=actor,
        reason=reason or "",
        from_status=from_status,
        to_status=to_status,
        data=data or {},
    )


def _locked_store(store: Store) -> Store:
    return Store.objects.select_for_update().get(pk=store.pk)


# System reasons are stored untranslated (gettext_noop) and translated when shown, so the record does not
# depend on the language of whoever triggered it.
STORE_TRANSITION_VERBS = {
    "approve": gettext_lazy("approved"),
    "reject": gettext_lazy("rejected"),
    "suspend": gettext_lazy("suspended"),
    "reinstate": gettext_lazy("reinstated"),
    "clear_out": gettext_lazy("cleared out"),
    "begin_exit": gettext_lazy("put into voluntary exit"),
    "complete_exit": gettext_lazy("closed after a voluntary exit"),
}


def _transition(store: Store, method_name: str, *, actor, reason: str, event_kind: str, **kwargs) -> Store:
    method = getattr(store, method_name)
    if not can_proceed(method):
        raise TransitionRefused(
            _("A store that is %(status)s cannot be %(action)s.")
            % {"status": store.get_status_display(), "action": STORE_TRANSITION_VERBS[method_name]}
        )
    before = store.status
    method(**kwargs)
    store.save(update_fields=["status", "opened_on", "suspended_until"])
    _store_event(store, event_kind, actor=actor, reason=reason, from_status=before, to_status=store.status)
    return store


# --- Admission ------------------------------------------------------------------------------------


def store_admission_refusals(
    *, entity: Entity, brand: Brand | None, exclude_store: Store | None = None, today=None
) -> list[str]:
    today = today or timezone.localdate()
    holding = Store.objects.filter(entity=entity, status__in=STORE_HOLDING_STATUSES)
    if exclude_store is not None:
        holding = holding.exclude(pk=exclude_store.pk)
    params = rule_decimals(
        "max_stores_per_entity",
        "max_stores_per_brand_per_entity",
        "reentry_months_after_exit",
        "licence_min_valid_days",
    )
    facts = AdmissionFacts(
        entity_kind=entity.kind,
        entity_allowed_kinds=frozenset({Entity.Kind.ENTERPRISE, Entity.Kind.INDIVIDUAL_BUSINESS}),
        banned_for_ever=entity.banned_for_ever,
        exited_on=entity.exited_on,
        licence_expires_on=entity.licence_expires_on,
        today=today,
        open_store_count=holding.count(),
        same_brand_store_count=holding.filter(brand=brand).count() if brand else 0,
        brand_name=brand.name if brand else None,
    )
    limits = AdmissionLimits(**{key: int(value) for key, value in params.items()})
    return admission_refusals(facts, limits)


@transaction.atomic
def store_apply(
    *,
    entity: Entity,
    code: str,
    name: str,
    store_type: str,
    main_category: Category,
    categories: list[Category] | None = None,
    brand: Brand | None = None,
    time_zone: str = "Asia/Shanghai",
    actor=None,
) -> Store:
    """A new store application, refused at once when the entity may not open it."""
    # Lock the entity so two applications at once cannot both slip under the store limit.
    entity = Entity.objects.select_for_update().get(pk=entity.pk)
    refusals = store_admission_refusals(entity=entity, brand=brand)
    if refusals:
        raise AdmissionRefused(*refusals)
    if Store.objects.filter(code=code).exists():
        raise AdmissionRefused(_("The store code %(code)s is taken.") % {"code": code})
    store = Store(
        code=code,
        name=name,
        entity=entity,
        store_type=store_type,
        main_category=main_category,
        brand=brand,
        time_zone=time_zone,
    )
    try:
        store.full_clean(exclude=["categories", "status"])
    except ValidationError as exc:
        raise AdmissionRefused(
            *[f"{field}: {m}" for field, ms in exc.message_dict.items() for m in ms]
        ) from exc
    store.save()
    store.categories.set({main_category, *(categories or [])})
    DepositAccount.objects.create(store=store)
    _store_event(store, "applied", actor=actor, to_status=store.status)
    return store


@transaction.atomic
def store_approve(*, store: Store, actor, reason: str = "", today=None, now=None) -> Store:
    _require_perm(actor, "merchants.review_store")
    store = _locked_store(store)
    if store.status != StoreStatus.PENDING_REVIEW:
        raise TransitionRefused(
            _("Only a store pending review can be approved; this one is %(status)s.")
            % {"status": store.get_status_display()}
        )
    Entity.objects.select_for_update().get(pk=store.entity_id)
    refusals = store_admission_refusals(
        entity=store.entity, brand=store.brand, exclude_store=store, today=today
    )
    if refusals:
        raise AdmissionRefused(*refusals)
    _transition(
        store,
        "approve",
        actor=actor,
        reason=reason,
        event_kind="admission_approved",
        today=today or timezone.localdate(),
    )
    deposit_position_refresh(store=store, now=now)
    return store


@transaction.atomic
def store_reject(*, store: Store, actor, reason: str) -> Store:
    _require_perm(actor, "merchants.review_store")
    if not reason.strip():
        raise DomainError(_("Give the applicant a reason for the rejection."))
    store = _locked_store(store)
    return _transition(store, "reject", actor=actor, reason=reason, event_kind="admission_rejected")


@transaction.atomic
def store_suspend(*, store: Store, until: datetime, actor, reason: str) -> Store:
    _require_perm(actor, "merchants.sanction_store")
    if until <= timezone.now():
        raise DomainError(_("A suspension must end in the future."))
    store = _locked_store(store)
    return _transition(store, "suspend", actor=actor, reason=reason, event_kind="suspended", until=until)


@transaction.atomic
def store_suspension_extend(*, store: Store, until: datetime, reason: str, actor=None) -> Store:
    """A suspended store's suspension runs until `until` if that is later than its current end."""
    _require_perm(actor, "merchants.sanction_store")
    store = _locked_store(store)
    if store.status != StoreStatus.SUSPENDED:
        raise TransitionRefused(_("Only a suspended store's suspension can be extended."))
    if store.suspended_until is None or until > store.suspended_until:
        before = store.suspended_until
        store.suspended_until = until
        store.save(update_fields=["suspended_until"])
        _store_event(
            store,
            "suspension_extended",
            actor=actor,
            reason=reason,
            data={"from": before.isoformat() if before else None, "until": until.isoformat()},
        )
    return store


@transaction.atomic
def store_suspension_shorten(*, store: Store, until: datetime, reason: str, actor=None) -> Store:
    """A suspended store's suspension ends at `until` (earlier than now planned, still in the future)."""
    _require_perm(actor, "merchants.sanction_store")
    store = _locked_store(store)
    if store.status != StoreStatus.SUSPENDED:
        raise TransitionRefused(_("Only a suspended store's suspension can be shortened."))
    if store.suspended_until != until:
        before = store.suspended_until
        store.suspended_until = until
        store.save(update_fields=["suspended_until"])
        _store_event(
            store,
            "suspension_shortened",
            actor=actor,
            reason=reason,
            data={"from": before.isoformat() if before else None, "until": until.isoformat()},
        )
    return store


@transaction.atomic
def store_reinstate(*, store: Store, actor, reason: str) -> Store:
    _require_perm(actor, "merchants.sanction_store")
    store = _locked_store(store)
    return _transition(store, "reinstate", actor=actor, reason=reason, event_kind="reinstated")


@transaction.atomic
def store_clear_out(*, store: Store, actor, reason: str, ban_entity: bool = True) -> Store:
    """Clear a store out (清退). For serious violations or falsified qualifications the entity is banned for ever."""
    _require_perm(actor, "merchants.sanction_store")
    store = _locked_store(store)
    _transition(store, "clear_out", actor=actor, reason=reason, event_kind="cleared_out")
    if ban_entity:
        Entity.objects.filter(pk=store.entity_id).update(banned_for_ever=True, banned_reason=reason[:300])
        _store_event(store, "entity_banned", actor=actor, reason=reason)
    return store


@transaction.atomic
def store_begin_exit(*, store: Store, actor, reason: str = "") -> Store:
    _require_store_capability(actor, store, MANAGE_STORE)
    store = _locked_store(store)
    return _transition(store, "begin_exit", actor=actor, reason=reason, event_kind="exit_requested")


@transaction.atomic
def store_complete_exit(*, store: Store, actor, reason: str = "", today=None) -> Store:
    """Finish a voluntary exit: nothing may be owed; the deposit is returned; the entity's exit date is set."""
    _require_perm(actor, "merchants.review_store")
    store = _locked_store(store)
    account = DepositAccount.objects.select_for_update().get(store=store)
    balance = deposit_balance(store=store)
    if balance < 0:
        raise TransitionRefused(
            _("The store owes %(amount)s on its deposit; it cannot exit until paid.") % {"amount": -balance}
        )
    _transition(store, "complete_exit", actor=actor, reason=reason, event_kind="exited")
    if balance > 0:
        _deposit_insert(
            account,
            kind=DepositEntry.Kind.REFUND,
            amount=balance,
            reason=gettext_noop("Deposit returned on exit"),
            cause_key=f"store:{store.pk}:exit-refund",
            actor=actor,
        )
        _store_event(
            store,
            "deposit_refund",
            actor=actor,
            reason=gettext_noop("Deposit returned on exit"),
            data={"amount": str(-balance)},
        )
    _deposit_position_refresh_locked(account)
    # The entity's re-entry clock starts when its last store has gone.
    if not Store.objects.filter(entity_id=store.entity_id, status__in=STORE_HOLDING_STATUSES).exists():
        Entity.objects.filter(pk=store.entity_id).update(exited_on=today or timezone.localdate())
    return store


# --- Sanctions ------------------------------------------------------------------------------------


@transaction.atomic
def sanction_impose(
    *,
    store: Store,
    kind: str,
    reason: str,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    cause_key: str | None = None,
    actor=None,
    listing: Listing | None = None,
) -> Sanction:
    """Impose a sanction; with a `cause_key` it is imposed once however often this is called. A product ban
    names the `listing` it bans."""
    _require_perm(actor, "merchants.sanction_store")
    if (kind == Sanction.Kind.PRODUCT_BAN) != (listing is not None):
        raise DomainError(_("A product ban, and only a product ban, names the product it bans."))
    if listing is not None and listing.store_id != store.pk:
        raise DomainError(_("The product belongs to another store."))
    if cause_key:
        existing = Sanction.objects.filter(cause_key=cause_key).first()
        if existing:
            if existing.store_id != store.pk or existing.kind != kind:
                raise DomainError(
                    _("The cause %(cause)s already imposed a different sanction.") % {"cause": cause_key}
                )
            return existing
    starts_at = starts_at or timezone.now()
    if ends_at is not None and ends_at <= starts_at:
        raise DomainError(_("A sanction must end after it starts."))
    try:
        with transaction.atomic():
            sanction = Sanction.objects.create(
                store=store,
                kind=kind,
                reason=reason,
                starts_at=starts_at,
                ends_at=ends_at,
                cause_key=cause_key,
                created_by=actor,
                listing=listing,
            )
    except IntegrityError:
        # Another run imposed the same cause between our check and insert.
        return Sanction.objects.get(cause_key=cause_key)
    _store_event(
        store,
        "sanction_imposed",
        actor=actor,
        reason=reason,
        data={
            "sanction": sanction.pk,
            "kind": kind,
            "ends_at": ends_at.isoformat() if ends_at else None,
            **({"listing": listing.pk, "sku": listing.sku} if listing else {}),
        },
    )
    return sanction


@transaction.atomic
def listing_late_rate_escalate(
    *, listing: Listing, severe: bool, days: int, now: datetime, window_end: date
) -> list[Sanction]:
    """A product dispatched late too often (RULES §4, judged by the orders app's late-rate check): banned
    from sale for `days`; on the severe escalation the store's new orders are restricted as long. Once per
    product and judged window (the cause keys carry the window's end)."""
    store = _locked_store(listing.store)
    ends_at = now + timedelta(days=days)
    level = "severe" if severe else "ban"
    reason = (
        gettext_noop("Late-dispatch rate of this product far above the limit on several days")
        if severe
        else gettext_noop("Late-dispatch rate of this product above the limit on several days")
    )
    sanctions = [
        sanction_impose(
            store=store,
            kind=Sanction.Kind.PRODUCT_BAN,
            listing=listing,
            reason=reason,
            starts_at=now,
            ends_at=ends_at,
            cause_key=f"late-rate:{listing.pk}:{window_end.isoformat()}:{level}",
        )
    ]
    if severe:
        sanctions.append(
            sanction_impose(
                store=store,
                kind=Sanction.Kind.ORDER_RESTRICTION,
                reason=reason,
                starts_at=now,
                ends_at=ends_at,
                cause_key=f"late-rate:{listing.pk}:{window_end.isoformat()}:orders",
            )
        )
    return sanctions


@transaction.atomic
def sanction_lift(*, sanction: Sanction, actor, reason: str) -> Sanction:
    _require_perm(actor, "merchants.sanction_store")
    sanction = Sanction.objects.select_for_update().get(pk=sanction.pk)
    if sanction.lifted_at is not None:
        return sanction
    sanction.lifted_at = timezone.now()
    sanction.lifted_reason = reason[:300]
    sanction.save(update_fields=["lifted_at", "lifted_reason"])
    _store_event(
        sanction.store,
        "sanction_lifted",
        actor=actor,
        reason=reason,
        data={"sanction": sanction.pk, "kind": sanction.kind},
    )
    return sanction


@dataclass
class SanctionExpiryResult:
    reinstated: int = 0
    skipped: bool = False

    def __str__(self):
        skipped = " (another run holds the lock)" if self.skipped else ""
        return f"reinstated={self.reinstated}{skipped}"


def sanction_expiry_check(*, now: datetime | None = None) -> SanctionExpiryResult:
    """Reinstate suspended stores whose suspension has ended. Single-flight (advisory lock); each store in
    its own transaction, re-checked under its row lock."""
    now = now or timezone.now()
    result = SanctionExpiryResult()
    with single_flight("sanction_expiry_check") as acquired:
        if not acquired:
            result.skipped = True
            return result
        due = list(
            Store.objects.filter(status=StoreStatus.SUSPENDED, suspended_until__lte=now).values_list(
                "pk", flat=True
            )
        )
        for store_id in due:
            with transaction.atomic():
                store = Store.objects.select_for_update().get(pk=store_id)
                if (
                    store.status == StoreStatus.SUSPENDED
                    and store.suspended_until
                    and store.suspended_until <= now
                ):
                    _transition(
                        store,
                        "reinstate",
                        actor=None,
                        reason=gettext_noop("Suspension ended"),
                        event_kind="reinstated",
                    )
                    result.reinstated += 1
    return result


# --- Deposits -------------------------------------------------------------------------------------


def _deposit_insert(
    account: DepositAccount,
    *,
    kind,
    amount: Decimal,
    reason,
    cause_key=None,
    reference="",
    actor=None,
    reverses=None,
) -> DepositEntry:
    signed = money(amount) if kind in DepositEntry.INFLOW else -money(amount)
    entry = DepositEntry(
        account=account,
        kind=kind,
        amount=signed,
        reason=reason,
        cause_key=cause_key,
        reference=reference,
        actor=actor,
        reverses=reverses,
    )
    try:
        entry.full_clean(exclude=["account", "reverses", "actor"])
    except ValidationError as exc:
        raise DomainError(*[f"{field}: {m}" for field, ms in exc.message_dict.items() for m in ms]) from exc
    entry.save()
    return entry


@transaction.atomic
def deposit_record(
    *,
    store: Store,
    kind: str,
    amount: Decimal,
    reason: str,
    reference: str = "",
    cause_key: str | None = None,
    actor=None,
    now: datetime | None = None,
) -> DepositEntry:
    """Add one ledger entry. `amount` is positive; the kind decides the direction.

    The account row is locked for the whole write so concurrent deductions queue up and the shortfall
    decision that follows sees every entry before it. A `cause_key` makes the entry happen once.
    """
    _require_perm(actor, "merchants.adjust_deposit")
    try:
        amount = money(amount)
    except (InvalidOperation, TypeError) as exc:
        raise DomainError(_("The amount must be a number of yuan, like 1200.00.")) from exc
    if amount <= 0:
        raise DomainError(_("The amount must be greater than zero."))
    if not reason.strip():
        raise DomainError(_("Give a reason for the deposit entry."))
    if kind not in DepositEntry.Kind.values or kind == DepositEntry.Kind.REVERSAL:
        raise DomainError(_("Unknown deposit entry kind: %(kind)s.") % {"kind": kind})
    account = DepositAccount.objects.select_for_update().get(store=store)
    if kind == DepositEntry.Kind.REFUND:
        balance = deposit_balance(store=store)
        if amount > balance:
            raise DomainError(
                _("A refund cannot exceed the balance: %(amount)s asked, %(balance)s held.")
                % {"amount": amount, "balance": balance}
            )
    if cause_key:
        earlier = DepositEntry.objects.filter(cause_key=cause_key).select_related("account").first()
        if earlier is not None:
            if earlier.account.store_id != store.pk or earlier.kind != kind:
                raise DomainError(
                    _("The cause %(cause)s is already recorded on another store or as another kind of entry.")
                    % {"cause": cause_key}
                )
            return earlier
    entry = _deposit_insert(
        account,
        kind=kind,
        amount=amount,
        reason=reason,
        cause_key=cause_key,
        reference=reference,
        actor=actor,
    )
    _store_event(
        store,
        f"deposit_{kind}",
        actor=actor,
        reason=reason,
        data={"entry": entry.pk, "amount": str(entry.amount)},
    )
    _deposit_position_refresh_locked(account, now=now)
    return entry


@transaction.atomic
def deposit_reverse(*, entry: DepositEntry, reason: str, actor=None, now=None) -> DepositEntry:
    """Undo an outflow (a deduction or compensation) exactly, once."""
    _require_perm(actor, "merchants.adjust_deposit")
    account = DepositAccount.objects.select_for_update().get(pk=entry.account_id)
    entry = DepositEntry.objects.get(pk=entry.pk)
    if entry.kind not in (DepositEntry.Kind.DEDUCTION, DepositEntry.Kind.COMPENSATION):
        raise DomainError(_("Only deductions and compensation can be reversed."))
    if DepositEntry.objects.filter(reverses=entry).exists():
        return entry.reversed_by
    reversal = _deposit_insert(
        account,
        kind=DepositEntry.Kind.REVERSAL,
        amount=-entry.amount,
        reason=reason,
        actor=actor,
        reverses=entry,
        cause_key=f"reversal:{entry.cause_key}" if entry.cause_key else None,
    )
    _store_event(
        account.store,
        "deposit_reversal",
        actor=actor,
        reason=reason,
        data={"entry": reversal.pk, "reverses": entry.pk, "amount": str(reversal.amount)},
    )
    _deposit_position_refresh_locked(account, now=now)
    return reversal


DEPOSIT_OWING_STATUSES = (StoreStatus.ACTIVE, StoreStatus.SUSPENDED, StoreStatus.EXITING)


def _shortfall_cause(store_id: int, since: datetime, kind: str) -> str:
    # One shortfall episode per start time, to the microsecond: a new episode never reuses a lifted sanction.
    return f"deposit-shortfall:{store_id}:{since.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%f')}:{kind}"


def _deposit_position_refresh_locked(account: DepositAccount, *, now=None) -> None:
    """Start or end a shortfall for a locked account: hold withdrawals at once, lift everything when covered."""
    now = now or timezone.now()
    store = account.store
    # Only a trading store owes a deposit: an application or a finished store is never "short".
    short = store.status in DEPOSIT_OWING_STATUSES and deposit_balance(store=store) < deposit_required(
        store=store
    )
    if short and account.shortfall_since is None:
        account.shortfall_since = now
        account.updated_at = now
        account.save(update_fields=["shortfall_since", "updated_at"])
        _store_event(
            store, "deposit_shortfall_started", reason=gettext_noop("Deposit below the required amount")
        )
        sanction_impose(
            store=store,
            kind=Sanction.Kind.WITHDRAWAL_HOLD,
            starts_at=now,
            reason=gettext_noop("Deposit below the required amount"),
            cause_key=_shortfall_cause(store.pk, now, Sanction.Kind.WITHDRAWAL_HOLD),
        )
    elif not short and account.shortfall_since is not None:
        prefix = f"deposit-shortfall:{store.pk}:"
        for sanction in Sanction.objects.filter(
            store=store, cause_key__startswith=prefix, lifted_at__isnull=True
        ):
            sanction_lift(sanction=sanction, actor=None, reason=gettext_noop("Deposit topped up"))
        account.shortfall_since = None
        account.updated_at = now
        account.save(update_fields=["shortfall_since", "updated_at"])
        _store_event(store, "deposit_shortfall_ended", reason=gettext_noop("Deposit topped up"))


@transaction.atomic
def deposit_position_refresh(*, store: Store, now=None) -> None:
    account = DepositAccount.objects.select_for_update().select_related("store").get(store=store)
    _deposit_position_refresh_locked(account, now=now)


@dataclass
class ShortfallCheckResult:
    started: int = 0
    ended: int = 0
    escalated: int = 0
    skipped: bool = False


def deposit_shortfall_check(*, now: datetime | None = None) -> ShortfallCheckResult:
    """Find, in one query each, accounts whose shortfall starts, ends, or is past the grace period.

    Idempotent (sanctions carry a cause key), single-flight (advisory lock), set-based (only the accounts
    the queries find are touched), and each account is written in its own transaction, so one failure
    neither rolls back nor blocks the others.
    """
    now = now or timezone.now()
    result = ShortfallCheckResult()
    with single_flight("deposit_shortfall_check") as acquired:
        if not acquired:
            result.skipped = True
            return result
        positioned = deposit_accounts_with_position()
        starting = positioned.filter(
            shortfall_since__isnull=True, balance__lt=F("required"), store__status__in=DEPOSIT_OWING_STATUSES
        ).values_list("store_id", flat=True)
        ending = (
            positioned.filter(shortfall_since__isnull=False)
            .filter(Q(balance__gte=F("required")) | ~Q(store__status__in=DEPOSIT_OWING_STATUSES))
            .values_list("store_id", flat=True)
        )
        for store_ids, counter in ((list(starting), "started"), (list(ending), "ended")):
            for store_id in store_ids:
                deposit_position_refresh(store=Store(pk=store_id), now=now)
                setattr(result, counter, getattr(result, counter) + 1)

        grace = timedelta(hours=rule_int("shortfall_grace_hours"))
        overdue = list(
            DepositAccount.objects.filter(shortfall_since__lte=now - grace).select_related("store")
        )
        wanted = {
            _shortfall_cause(account.store_id, account.shortfall_since, kind): (account, kind)
            for account in overdue
            for kind in (Sanction.Kind.LISTING_BLOCK, Sanction.Kind.ORDER_RESTRICTION)
        }
        done = set(Sanction.objects.filter(cause_key__in=wanted).values_list("cause_key", flat=True))
        for cause, (account, kind) in wanted.items():
            if cause in done:
                continue
            sanction_impose(
                store=account.store,
                kind=kind,
                starts_at=account.shortfall_since + grace,
                reason=gettext_noop("Deposit still short after the grace period"),
                cause_key=cause,
            )
            result.escalated += 1
    return result


# --- Listings -------------------------------------------------------------------------------------


# The column limits (price: 12 digits with 2 decimals; stock: a 32-bit integer), checked before the database.
LISTING_MAX_PRICE = Decimal("9999999999.99")
LISTING_MAX_STOCK = 2_147_483_647

LISTING_DATA_FIELDS = [
    "sku",
    "title",
    "description",
    "category",
    "brand",
    "price",
    "stock",
    "promised_dispatch",
]


@dataclass
class ListingData:
    sku: str
    title: str
    category: Category
    price: Decimal
    stock: int
    promised_dispatch: str
    description: str = ""
    brand: Brand | None = None


@dataclass
class ListingCheckContext:
    """What checking a store's listings needs, read once: a bulk upload checks thousands of rows with it."""

    store_category_ids: set[int]
    authorisations: dict[int, BrandAuthorisation]
    max_dispatch_hours: int
    screening: list
    today: object

    @classmethod
    def for_store(cls, store: Store, today=None) -> ListingCheckContext:
        return cls(
            store_category_ids=set(store.categories.values_list("pk", flat=True)),
            authorisations={a.brand_id: a for a in BrandAuthorisation.objects.filter(store=store)},
            max_dispatch_hours=rule_int("max_promised_dispatch_hours"),
            screening=screening_rules(),
            today=today or timezone.localdate(timezone=ZoneInfo(store.time_zone)),
        )


def listing_screen(*, title: str, description: str, rules=None) -> list[ScreeningHit]:
    return screen_texts(
        {"title": title, "description": description}, screening_rules() if rules is None else rules
    )


def _hits_payload(hits: list[ScreeningHit]) -> list[dict]:
    return [{"field": h.field, "kind": h.kind, "label": h.label, "matched": h.matched} for h in hits]


def listing_write_problems(
    *, store: Store, data: ListingData, context: ListingCheckContext | None = None
) -> dict[str, list[str]]:
    """Field problems a listing write has, besides screening (which decides live or rejected)."""
    context = context or ListingCheckContext.for_store(store)
    problems: dict[str, list[str]] = {}

    def add(field_name, message):
        problems.setdefault(field_name, []).append(message)

    if data.category.pk not in context.store_category_ids:
        add(
            "category",
            _("The store does not operate in the category %(category)s; ask the platform to add it.")
            % {"category": data.category.name},
        )
    if data.price is None or data.price <= 0:
        add("price", _("The price must be greater than zero."))
    elif data.price > LISTING_MAX_PRICE:
        add("price", _("The price can be at most %(max)s.") % {"max": LISTING_MAX_PRICE})
    if data.stock is None or data.stock < 0:
        add("stock", _("Stock cannot be negative."))
    elif data.stock > LISTING_MAX_STOCK:
        add("stock", _("Stock can be at most %(max)d.") % {"max": LISTING_MAX_STOCK})
    max_hours = context.max_dispatch_hours
    if data.promised_dispatch not in PromisedDispatch.values:
        add("promised_dispatch", _("Unknown dispatch promise."))
    elif PROMISED_DISPATCH_HOURS[data.promised_dispatch] > max_hours:
        add("promised_dispatch", _("Ordinary goods must ship within %(hours)d hours.") % {"hours": max_hours})
    if data.brand is not None:
        authorisation = context.authorisations.get(data.brand.pk)
        if authorisation is None:
            add(
                "brand",
                _("The store has no authorisation on file for the brand %(brand)s.") % {"brand": data.brand},
            )
        elif not authorisation.is_valid_on(context.today):
            add(
                "brand",
                _("The store's authorisation for %(brand)s is valid %(start)s to %(end)s, not today.")
                % {"brand": data.brand, "start": authorisation.valid_from, "end": authorisation.expires_on},
            )
    return problems


def _store_listing_block_reason(store: Store) -> str | None:
    if store.status != StoreStatus.ACTIVE:
        return _("The store is %(status)s and may not list goods.") % {"status": store.get_status_display()}
    # The block that lasts longest decides when listing is possible again (no end date: until lifted).
    block = (
        Sanction.objects.live()
        .filter(store=store, kind=Sanction.Kind.LISTING_BLOCK)
        .order_by(F("ends_at").desc(nulls_first=True))
        .first()
    )
    if block:
        reason = _(block.reason)  # system reasons are stored untranslated
        if block.ends_at is None:
            return _("New listings are blocked until the restriction is lifted: %(reason)s") % {
                "reason": reason
            }
        until = timezone.localtime(block.ends_at).strftime("%Y-%m-%d %H:%M")
        return _("New listings are blocked until %(until)s: %(reason)s") % {"until": until, "reason": reason}
    return None


def _listing_save(listing: Listing) -> None:
    try:
        with transaction.atomic():
            listing.save()
    except IntegrityError as exc:
        # Another request took the SKU between our check and this write.
        raise ListingRefused(
            field_errors={
                "sku": [_("The store already has a listing with SKU %(sku)s.") % {"sku": listing.sku}]
            }
        ) from exc


def _listing_full_clean(listing: Listing) -> None:
    try:
        listing.full_clean(exclude=["store", "status"])
    except ValidationError as exc:
        raise ListingRefused(field_errors=exc.message_dict) from exc


def _apply_data(listing: Listing, data: ListingData) -> None:
    for name in LISTING_DATA_FIELDS:
        setattr(listing, name, getattr(data, name))


def _listing_event(listing, kind, *, actor, before="", reason="", data=None):
    ListingEvent.objects.create(
        listing=listing,
        kind=kind,
        actor=actor,
        from_status=before,
        to_status=listing.status,
        reason=reason,
        data=data or {},
    )


@transaction.atomic
def listing_create(*, store: Store, data: ListingData, actor=None) -> Listing:
    """Create a listing and screen it: clean → live; tripped → rejected with what tripped it."""
    _require_store_capability(actor, store, MANAGE_LISTINGS)
    store = Store.objects.select_for_update().get(pk=store.pk)
    blocked = _store_listing_block_reason(store)
    if blocked:
        raise ListingRefused(blocked)
    problems = listing_write_problems(store=store, data=data)
    if Listing.objects.filter(store=store, sku=data.sku).exists():
        problems.setdefault("sku", []).append(
            _("The store already has a listing with SKU %(sku)s.") % {"sku": data.sku}
        )
    if problems:
        raise ListingRefused(field_errors=problems)
    listing = Listing(store=store)
    _apply_data(listing, data)
    _listing_full_clean(listing)
    hits = listing_screen(title=data.title, description=data.description)
    if hits:
        listing.fail_screening(hits=_hits_payload(hits))
    else:
        listing.pass_screening()
    _listing_save(listing)
    _listing_event(
        listing,
        "created",
        actor=actor,
        before=ListingStatus.DRAFT,
        data={"screening_hits": listing.screening_hits},
    )
    return listing


@transaction.atomic
def listing_update(*, listing: Listing, data: ListingData, actor=None) -> Listing:
    """Edit a listing. A live or delisted listing keeps its old text when the new text trips screening;
    a rejected one is screened again and goes live when clean."""
    _require_store_capability(actor, listing.store, MANAGE_LISTINGS)
    listing = Listing.objects.select_for_update().select_related("store").get(pk=listing.pk)
    if listing.status == ListingStatus.REMOVED:
        raise ListingRefused(
            _("The platform removed this listing (%(reason)s); it cannot be edited.")
            % {"reason": listing.removal_reason}
        )
    blocked = _store_listing_block_reason(listing.store)
    if blocked:
        raise ListingRefused(blocked)
    problems = listing_write_problems(store=listing.store, data=data)
    if data.sku != listing.sku and Listing.objects.filter(store=listing.store, sku=data.sku).exists():
        problems.setdefault("sku", []).append(
            _("The store already has a listing with SKU %(sku)s.") % {"sku": data.sku}
        )
    if problems:
        raise ListingRefused(field_errors=problems)
    hits = listing_screen(title=data.title, description=data.description)
    before = listing.status
    if hits and listing.status in (ListingStatus.LIVE, ListingStatus.DELISTED):
        field_errors: dict[str, list[str]] = {}
        for hit in hits:
            field_errors.setdefault(hit.field, []).append(hit.message())
        raise ListingRefused(
            _("The new text was refused by screening; the listing keeps its old text."),
            field_errors=field_errors,
        )
    _apply_data(listing, data)
    _listing_full_clean(listing)
    if listing.status in (ListingStatus.DRAFT, ListingStatus.REJECTED):
        if hits:
            listing.fail_screening(hits=_hits_payload(hits))
        else:
            listing.pass_screening()
    listing.updated_at = timezone.now()
    _listing_save(listing)
    _listing_event(
        listing, "edited", actor=actor, before=before, data={"screening_hits": listing.screening_hits}
    )
    return listing


@transaction.atomic
def listing_delist(*, listing: Listing, actor=None) -> Listing:
    _require_store_capability(actor, listing.store, MANAGE_LISTINGS)
    listing = Listing.objects.select_for_update().get(pk=listing.pk)
    if not can_proceed(listing.delist):
        raise TransitionRefused(
            _("Only a live listing can be delisted; this one is %(status)s.")
            % {"status": listing.get_status_display()}
        )
    listing.delist()
    listing.updated_at = timezone.now()
    listing.save(update_fields=["status", "updated_at"])
    _listing_event(listing, "delisted", actor=actor, before=ListingStatus.LIVE)
    return listing


@transaction.atomic
def listing_relist(*, listing: Listing, actor=None) -> Listing:
    _require_store_capability(actor, listing.store, MANAGE_LISTINGS)
    listing = Listing.objects.select_for_update().select_related("store").get(pk=listing.pk)
    if not can_proceed(listing.relist):
        raise TransitionRefused(
            _("Only a delisted listing can be relisted; this one is %(status)s.")
            % {"status": listing.get_status_display()}
        )
    blocked = _store_listing_block_reason(listing.store)
    if blocked:
        raise ListingRefused(blocked)
    problems = listing_write_problems(
        store=listing.store,
        data=ListingData(
            sku=listing.sku,
            title=listing.title,
            category=listing.category,
            price=listing.price,
            stock=listing.stock,
            promised_dispatch=listing.promised_dispatch,
            description=listing.description,
            brand=listing.brand,
        ),
    )
    if problems:
        raise ListingRefused(field_errors=problems)
    listing.relist()
    listing.updated_at = timezone.now()
    listing.save(update_fields=["status", "updated_at"])
    _listing_event(listing, "relisted", actor=actor, before=ListingStatus.DELISTED)
    return listing


@transaction.atomic
def listing_remove(*, listing: Listing, actor, reason: str) -> Listing:
    """Platform removal (spot check or reviewer). The seller cannot undo it."""
    _require_perm(actor, "merchants.remove_listing")
    if not reason.strip():
        raise DomainError(_("Give the seller a reason for the removal."))
    listing = Listing.objects.select_for_update().get(pk=listing.pk)
    if not can_proceed(listing.remove):
        raise TransitionRefused(_("This listing is already removed."))
    before = listing.status
    listing.remove(reason=reason[:300])
    listing.updated_at = timezone.now()
    listing.save(update_fields=["status", "removal_reason", "updated_at"])
    _listing_event(listing, "removed", actor=actor, before=before, reason=reason)
    return listing


@transaction.atomic
def listing_restore(*, listing: Listing, actor, reason: str) -> Listing:
    """Undo a platform removal that was overturned: the listing comes back delisted (the seller relists)."""
    _require_perm(actor, "merchants.remove_listing")
    listing = Listing.objects.select_for_update().get(pk=listing.pk)
    if not can_proceed(listing.restore):
        raise TransitionRefused(_("Only a removed listing can be restored."))
    listing.restore()
    listing.updated_at = timezone.now()
    listing.save(update_fields=["status", "removal_reason", "updated_at"])
    _listing_event(listing, "restored", actor=actor, before=ListingStatus.REMOVED, reason=reason)
    return listing


# --- Bulk listing upload --------------------------------------------------------------------------

LISTING_COLUMNS_REQUIRED = ["sku", "title", "category", "price", "stock", "promised_dispatch_hours"]
LISTING_COLUMNS_OPTIONAL = ["description", "brand"]

_DISPATCH_ALIASES = {
    "same_day": PromisedDispatch.SAME_DAY,
    "same day": PromisedDispatch.SAME_DAY,
    "当日": PromisedDispatch.SAME_DAY,
    "当日发": PromisedDispatch.SAME_DAY,
    "next_day": PromisedDispatch.NEXT_DAY,
    "next day": PromisedDispatch.NEXT_DAY,
    "次日": PromisedDispatch.NEXT_DAY,
    "次日发": PromisedDispatch.NEXT_DAY,
    "24": PromisedDispatch.H24,
    "24h": PromisedDispatch.H24,
    "48": PromisedDispatch.H48,
    "48h": PromisedDispatch.H48,
    "72": PromisedDispatch.H72,
    "72h": PromisedDispatch.H72,
}
_MONEY_NOISE = re.compile(r"[¥￥$,\s]|CNY|RMB|元", re.IGNORECASE)


@dataclass
class BulkRowResult:
    line: int
    sku: str
    outcome: str  # created | updated | error
    errors: list[RowError] = field(default_factory=list)


@dataclass
class BulkResult:
    rows: list[BulkRowResult]
    written: bool

    @property
    def errors(self) -> list[RowError]:
        return [e for r in self.rows for e in r.errors]

    @property
    def created(self) -> int:
        return sum(1 for r in self.rows if r.outcome == "created")

    @property
    def updated(self) -> int:
        return sum(1 for r in self.rows if r.outcome == "updated")


def listing_row_parse(
    *,
    store: Store,
    row: SheetRow,
    categories: dict[str, Category],
    brands: dict[str, Brand],
    context: ListingCheckContext | None = None,
) -> tuple[ListingData | None, list[RowError]]:
    """One spreadsheet row to ListingData, or the errors that name its columns."""
    errors: list[RowError] = []
    values = row.values

    def err(column, message):
        errors.append(RowError(line=row.line, column=column, message=str(message)))

    sku = values.get("sku", "")
    if not sku:
        err("sku", _("required"))
    elif len(sku) > 64:
        err("sku", _("at most 64 characters"))
    title = values.get("title", "")
    if not title:
        err("title", _("required"))
    elif len(title) > 200:
        err("title", _("at most 200 characters"))
    category = categories.get(values.get("category", "").lower())
    if not values.get("category"):
        err("category", _("required"))
    elif category is None:
        err(
            "category",
            _("unknown category %(code)s (use one of: %(codes)s)")
            % {"code": values["category"], "codes": ", ".join(sorted(categories))},
        )
    price = None
    raw_price = _MONEY_NOISE.sub("", values.get("price", ""))
    try:
        price = Decimal(raw_price)
        if not price.is_finite() or price <= 0:
            err("price", _("must be greater than zero, got %(value)s") % {"value": values.get("price")})
            price = None
        elif price != price.quantize(Decimal("0.01")):
            err("price", _("at most two decimals, got %(value)s") % {"value": values.get("price")})
            price = None
    except InvalidOperation:
        err("price", _("not a number: %(value)s") % {"value": values.get("price") or _("(empty)")})
    stock = None
    raw_stock = values.get("stock", "").replace(",", "")
    try:
        stock_decimal = Decimal(raw_stock)
        if stock_decimal != stock_decimal.to_integral_value() or stock_decimal < 0:
            raise InvalidOperation
        stock = int(stock_decimal)
    except InvalidOperation:
        err(
            "stock",
            _("must be a whole number of 0 or more, got %(value)s")
            % {"value": values.get("stock") or _("(empty)")},
        )
    promise = _DISPATCH_ALIASES.get(values.get("promised_dispatch_hours", "").strip().lower())
    if promise is None:
        err(
            "promised_dispatch_hours",
            _("must be one of same_day, next_day, 24, 48, 72; got %(value)s")
            % {"value": values.get("promised_dispatch_hours") or _("(empty)")},
        )
    brand = None
    if values.get("brand"):
        brand = brands.get(values["brand"].lower())
        if brand is None:
            err("brand", _("unknown brand %(brand)s") % {"brand": values["brand"]})
    context = context or ListingCheckContext.for_store(store)
    for hit in listing_screen(
        title=title, description=values.get("description", ""), rules=context.screening
    ):
        err(hit.field, _("refused by screening: %(hit)s") % {"hit": hit.message()})
    if errors:
        return None, errors
    data = ListingData(
        sku=sku,
        title=title,
        category=category,
        price=price,
        stock=stock,
        promised_dispatch=promise,
        description=values.get("description", ""),
        brand=brand,
    )
    column_of = {"promised_dispatch": "promised_dispatch_hours"}
    for field_name, messages in listing_write_problems(store=store, data=data, context=context).items():
        for message in messages:
            err(column_of.get(field_name, field_name), message)
    return (None if errors else data), errors


def listing_bulk_upload(*, store: Store, data: bytes, actor=None, dry_run: bool = False) -> BulkResult:
    """Create or update listings from a CSV/XLSX; all rows or none.

    Raises SpreadsheetError for a file that cannot be read at all (type, encoding, columns) and
    ListingRefused when the store may not list; otherwise returns a result per row.
    """
    _require_store_capability(actor, store, MANAGE_LISTINGS)
    rows = read_table(
        data,
        required=LISTING_COLUMNS_REQUIRED,
        optional=LISTING_COLUMNS_OPTIONAL,
        max_bytes=settings.LISTING_UPLOAD_MAX_BYTES,
    )
    blocked = _store_listing_block_reason(store)
    if blocked:
        raise ListingRefused(blocked)
    categories = {c.code.lower(): c for c in Category.objects.all()}
    brands = {b.name.lower(): b for b in Brand.objects.all()}
    context = ListingCheckContext.for_store(store)
    existing = {
        listing.sku: listing
        for listing in Listing.objects.filter(store=store, sku__in=[r.values.get("sku", "") for r in rows])
    }
    results: list[BulkRowResult] = []
    parsed: list[tuple[BulkRowResult, ListingData]] = []
    first_line_of_sku: dict[str, int] = {}
    for row in rows:
        data_row, errors = listing_row_parse(
            store=store, row=row, categories=categories, brands=brands, context=context
        )
        sku = row.values.get("sku", "")
        if sku:
            if sku in first_line_of_sku:
                errors.append(
                    RowError(
                        row.line,
                        "sku",
                        _("SKU %(sku)s appears again (first on row %(first)d)")
                        % {"sku": sku, "first": first_line_of_sku[sku]},
                    )
                )
            else:
                first_line_of_sku[sku] = row.line
        current = existing.get(sku)
        if current is not None and current.status == ListingStatus.REMOVED:
            errors.append(
                RowError(
                    row.line,
                    "sku",
                    _("listing %(sku)s was removed by the platform and cannot be changed") % {"sku": sku},
                )
            )
        result = BulkRowResult(
            line=row.line,
            sku=sku,
            outcome="error" if errors else ("updated" if current else "created"),
            errors=errors,
        )
        results.append(result)
        if not errors:
            parsed.append((result, data_row))
    if any(r.errors for r in results) or dry_run:
        return BulkResult(rows=results, written=False)
    _listing_bulk_write(store=store, rows=[data_row for _result, data_row in parsed], actor=actor)
    return BulkResult(rows=results, written=True)


@transaction.atomic
def _listing_bulk_write(*, store: Store, rows: list[ListingData], actor) -> None:
    """Write checked rows in a few statements: every row has passed the same checks and screening as
    `listing_create`/`listing_update`, so new and rejected listings go live through the FSM in memory."""
    store = Store.objects.select_for_update().get(pk=store.pk)
    blocked = _store_listing_block_reason(store)
    if blocked:
        raise ListingRefused(blocked)
    now = timezone.now()
    current = {
        listing.sku: listing
        for listing in Listing.objects.select_for_update().filter(store=store, sku__in=[r.sku for r in rows])
    }
    to_create, to_update, events = [], [], []
    for data_row in rows:
        listing = current.get(data_row.sku)
        if listing is not None and listing.status == ListingStatus.REMOVED:
            raise ListingRefused(
                _("Listing %(sku)s was removed by the platform meanwhile; nothing was saved.")
                % {"sku": data_row.sku}
            )
        before = listing.status if listing else ListingStatus.DRAFT
        if listing is None:
            listing = Listing(store=store, created_at=now)
        _apply_data(listing, data_row)
        listing.updated_at = now
        if listing.status in (ListingStatus.DRAFT, ListingStatus.REJECTED):
            listing.pass_screening()
        (to_update if listing.pk else to_create).append(listing)
        events.append((listing, "edited" if listing.pk else "created", before))
    try:
        with transaction.atomic():
            Listing.objects.bulk_create(to_create, batch_size=1000)
    except IntegrityError as exc:
        raise ListingRefused(
            _("Another upload created some of these SKUs at the same time; nothing was saved. Upload again.")
        ) from exc
    if to_create and to_create[0].pk is None:  # backends that do not return ids (none we support today)
        by_sku = dict(
            Listing.objects.filter(store=store, sku__in=[x.sku for x in to_create]).values_list("sku", "pk")
        )
        for listing in to_create:
            listing.pk = by_sku[listing.sku]
    Listing.objects.bulk_update(
        to_update, [*LISTING_DATA_FIELDS, "status", "screening_hits", "updated_at"], batch_size=1000
    )
    ListingEvent.objects.bulk_create(
        [
            ListingEvent(
                listing=listing,
                kind=kind,
                actor=actor,
                from_status=before,
                to_status=listing.status,
                data={"source": "bulk upload"},
                created_at=now,
            )
            for listing, kind, before in events
        ],
        batch_size=1000,
    )


__all__ = [
    "SpreadsheetError",
]


# --- Settlement and withdrawals -------------------------------------------------------------------


# Movements that count at once: money leaving (withdrawals, fee charges, negative adjustments) and a rejected
# withdrawal's return (it was released before). Order income and its fee wait for the release check.
SETTLEMENT_RELEASED_ON_RECORD = {
    SettlementEntry.Kind.WITHDRAWAL,
    SettlementEntry.Kind.WITHDRAWAL_RETURNED,
    SettlementEntry.Kind.FEE_CHARGE,
}


def settlement_record(
    *, store: Store, kind: str, amount: Decimal, available_at: datetime, cause_key: str, reason: str = ""
) -> SettlementEntry:
    """Add one settlement movement, once per cause (higher apps call this: an order's income and fee)."""
    amount = money(amount)
    released = kind in SETTLEMENT_RELEASED_ON_RECORD or (
        kind == SettlementEntry.Kind.ADJUSTMENT and amount < 0
    )
    entry, _created = SettlementEntry.objects.get_or_create(
        cause_key=cause_key,
        defaults={
            "store": store,
            "kind": kind,
            "amount": amount,
            "available_at": available_at,
            "released_at": timezone.now() if released else None,
            "reason": reason,
        },
    )
    return entry


@transaction.atomic
def withdrawal_request(*, store: Store, amount, actor, now: datetime | None = None) -> Withdrawal:
    """The owner asks to withdraw settled money: refused with the reason during a hold, a freeze, fee arrears,
    or beyond what is withdrawable. The amount is set aside at once so a second request cannot spend it too."""
    now = now or timezone.now()
    _require_store_capability(actor, store, MANAGE_STORE)
    try:
        amount = money(amount)
    except (InvalidOperation, TypeError) as exc:
        raise DomainError(_("The amount must be a number of yuan, like 1200.00.")) from exc
    if amount <= 0:
        raise DomainError(_("The amount must be greater than zero."))
    store = Store.objects.select_for_update().get(pk=store.pk)
    refusal = withdrawal_refusal(store=store, amount=amount, now=now)
    if refusal:
        raise DomainError(refusal)
    withdrawal = Withdrawal.objects.create(store=store, amount=amount, requested_by=actor, requested_at=now)
    settlement_record(
        store=store,
        kind=SettlementEntry.Kind.WITHDRAWAL,
        amount=-amount,
        available_at=now,
        cause_key=f"withdrawal:{withdrawal.pk}",
        reason=gettext_noop("Withdrawal requested"),
    )
    _store_event(
        store, "withdrawal_requested", actor=actor, data={"withdrawal": withdrawal.pk, "amount": str(amount)}
    )
    return withdrawal


@transaction.atomic
def withdrawal_approve(
    *, withdrawal: Withdrawal, actor, bank_reference: str, now: datetime | None = None
) -> Withdrawal:
    """Finance pays the withdrawal out; refused while the store's withdrawals are held."""
    _require_perm(actor, "merchants.decide_withdrawal")
    now = now or timezone.now()
    withdrawal = Withdrawal.objects.select_for_update().select_related("store").get(pk=withdrawal.pk)
    if not can_proceed(withdrawal.approve):
        raise TransitionRefused(_("This withdrawal was already decided."))
    if not bank_reference.strip():
        raise DomainError(_("Enter the bank reference of the payout."))
    # The amount was set aside at the request; what can still stop the payout is a hold, a freeze or arrears.
    refusal = withdrawal_refusal(store=withdrawal.store, now=now)
    if refusal:
        raise DomainError(refusal)
    withdrawal.approve(by=actor, at=now, bank_reference=bank_reference.strip()[:100])
    withdrawal.save(update_fields=["status", "decided_by", "decided_at", "bank_reference"])
    _store_event(withdrawal.store, "withdrawal_approved", actor=actor, data={"withdrawal": withdrawal.pk})
    return withdrawal


@transaction.atomic
def withdrawal_reject(
    *, withdrawal: Withdrawal, actor, reason: str, now: datetime | None = None
) -> Withdrawal:
    """Finance refuses the withdrawal; the amount returns to the withdrawable balance."""
    _require_perm(actor, "merchants.decide_withdrawal")
    now = now or timezone.now()
    if not reason.strip():
        raise DomainError(_("Tell the seller why the withdrawal is rejected."))
    withdrawal = Withdrawal.objects.select_for_update().select_related("store").get(pk=withdrawal.pk)
    if not can_proceed(withdrawal.reject):
        raise TransitionRefused(_("This withdrawal was already decided."))
    withdrawal.reject(by=actor, at=now, reason=reason.strip()[:300])
    withdrawal.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    settlement_record(
        store=withdrawal.store,
        kind=SettlementEntry.Kind.WITHDRAWAL_RETURNED,
        amount=withdrawal.amount,
        available_at=now,
        cause_key=f"withdrawal:{withdrawal.pk}:returned",
        reason=gettext_noop("Withdrawal rejected: amount returned"),
    )
    _store_event(
        withdrawal.store,
        "withdrawal_rejected",
        actor=actor,
        reason=reason,
        data={"withdrawal": withdrawal.pk},
    )
    return withdrawal


# --- Violations, points and the penalty ladder ----------------------------------------------------


def _points_total(*, store: Store, year: int, ledger: str) -> int:
    return (
        PointEntry.objects.filter(store=store, year=year, ledger=ledger).aggregate(total=Sum("points"))[
            "total"
        ]
        or 0
    )


def _ladder(ledger: str) -> list[LadderStep]:
    return [
        LadderStep(
            threshold=step.threshold,
            penalties=tuple(p.strip() for p in step.penalties.split(",") if p.strip()),
            duration_days=step.duration_days,
        )
        for step in PointLadderStep.objects.filter(ledger=ledger)
    ]


def _ladder_cause(store: Store, year: int, ledger: str, threshold: int, penalty: str) -> str:
    return f"ladder:{store.pk}:{year}:{ledger}:{threshold}:{penalty}"


def _is_ladder_round(cause: str, base: str) -> bool:
    """A ladder step reached again after a revoke took it back is a new round of the same cause:
    `base`, then `base#1`, `base#2`…"""
    return cause == base or cause.startswith(f"{base}#")


def _ladder_sanction_cause(base: str) -> str:
    """The cause key for imposing a ladder sanction: the round in force if there is one (imposing it again
    changes nothing), else a new round when every earlier one was lifted (the threshold is reached again
    after a revoke took it back)."""
    rounds = list(
        Sanction.objects.filter(Q(cause_key=base) | Q(cause_key__startswith=f"{base}#")).values_list(
            "cause_key", "lifted_at"
        )
    )
    if not rounds:
        return base
    in_force = [cause for cause, lifted_at in rounds if lifted_at is None]
    return in_force[0] if in_force else f"{base}#{len(rounds)}"


def _ladder_suspension_cause(store: Store, base: str) -> str:
    """Like `_ladder_sanction_cause`, for the suspension a step applies (kept as store events)."""
    applied = [
        cause
        for cause in StoreEvent.objects.filter(store=store, kind="ladder_suspension").values_list(
            "data__cause", flat=True
        )
        if cause and _is_ladder_round(cause, base)
    ]
    if not applied:
        return base
    undone = set(
        StoreEvent.objects.filter(store=store, kind="ladder_suspension_undone").values_list(
            "data__cause", flat=True
        )
    )
    standing = [cause for cause in applied if cause not in undone]
    return standing[0] if standing else f"{base}#{len(applied)}"


def _apply_ladder_step(*, store: Store, year: int, ledger: str, step: LadderStep, now: datetime) -> None:
    ends_at = now + timedelta(days=step.duration_days) if step.duration_days else None
    reason = gettext_noop("Violation points reached a threshold of the penalty ladder")
    for penalty in step.penalties:
        cause = _ladder_cause(store, year, ledger, step.threshold, penalty)
        if penalty in (Sanction.Kind.LISTING_BLOCK, Sanction.Kind.ORDER_RESTRICTION):
            cause = _ladder_sanction_cause(cause)
            sanction_impose(
                store=store, kind=penalty, reason=reason, starts_at=now, ends_at=ends_at, cause_key=cause
            )
        elif penalty == "suspension" and ends_at:
            cause = _ladder_suspension_cause(store, cause)
            if can_proceed(store.suspend):
                store = store_suspend(store=store, until=ends_at, actor=None, reason=reason)
            elif store.status == StoreStatus.SUSPENDED:
                # Already suspended (a lower step, a reviewer): the longer end wins.
                store = store_suspension_extend(store=store, until=ends_at, reason=reason)
        elif penalty == "clear_out" and can_proceed(store.clear_out):
            store_clear_out(store=store, actor=None, reason=reason, ban_entity=True)
        elif penalty == "rules_exam":
            rules_exam_require(
                store=store, cause_key=cause, now=now, ledger=ledger, year=year, threshold=step.threshold
            )
        _store_event(
            store,
            f"ladder_{penalty}",
            reason=reason,
            data={
                "ledger": ledger,
                "year": year,
                "threshold": step.threshold,
                "cause": cause,
                **({"until": ends_at.isoformat()} if penalty == "suspension" and ends_at else {}),
            },
        )


def _ladder_suspensions_undo(*, store: Store, causes: list[str]) -> Store:
    """After a revoke, the ladder suspensions of `causes` no longer stand: a store suspended by the ladder
    is suspended only until the latest suspension that still stands, or reinstated if none does."""
    events = StoreEvent.objects.filter(store=store, kind="ladder_suspension")
    applied = {event.data["cause"]: event.data.get("until") for event in events}
    undone = set(
        StoreEvent.objects.filter(store=store, kind="ladder_suspension_undone").values_list(
            "data__cause", flat=True
        )
    )
    # `causes` are the steps' base causes; each may have been applied in several rounds.
    lifted = [
        cause
        for cause in applied
        if cause not in undone and any(_is_ladder_round(cause, base) for base in causes)
    ]
    if not lifted:
        return store
    for cause in lifted:
        _store_event(
            store, "ladder_suspension_undone", reason=gettext_noop("Violation revoked"), data={"cause": cause}
        )
    if store.status != StoreStatus.SUSPENDED:
        return store
    now = timezone.now()
    standing = [
        datetime.fromisoformat(until)
        for cause, until in applied.items()
        if until and cause not in undone and cause not in lifted and datetime.fromisoformat(until) > now
    ]
    if standing:
        return store_suspension_shorten(
            store=store, until=max(standing), reason=gettext_noop("Violation revoked")
        )
    return store_reinstate(store=store, actor=None, reason=gettext_noop("Violation revoked"))


@dataclass(frozen=True)
class ViolationCause:
    """One cause of a violation for `violations_record_many`: what happened, to which store, when."""

    store_id: int
    cause_kind: str  # order, shipment, complaint, inspection, contact, manual
    cause_id: str
    cause_label: str = ""
    occurred_at: datetime | None = None
    amount_paid: Decimal | None = None  # the order's amount, when the type pays compensation
    promised_hours: int | None = None  # picks the compensation rule
    points: int | None = None  # None: the type's points


def violation_record(
    *,
    store: Store,
    type_code: str,
    cause_kind: str,
    cause_id: str,
    cause_label: str = "",
    occurred_at: datetime | None = None,
    amount_paid: Decimal | None = None,
    promised_hours: int | None = None,
    points: int | None = None,
    reason: str = "",
    actor=None,
    now: datetime | None = None,
) -> tuple[Violation, bool]:
    """The only way a violation comes into being: once per cause and type, with everything it causes —
    points (and the ladder), the deposit deduction and the consumer compensation — in one transaction.
    `occurred_at` dates what happened; `now` is when the platform records it (`created_at`, from which the
    appeal window runs). Returns the violation and whether this call recorded it."""
    cause = ViolationCause(
        store_id=store.pk,
        cause_kind=cause_kind,
        cause_id=str(cause_id),
        cause_label=cause_label,
        occurred_at=occurred_at,
        amount_paid=amount_paid,
        promised_hours=promised_hours,
        points=points,
    )
    created = violations_record_many(type_code=type_code, causes=[cause], reason=reason, actor=actor, now=now)
    if created:
        return Violation.objects.get(pk=created[0]), True
    return Violation.objects.get(
        violation_type__code=type_code, cause_kind=cause_kind, cause_id=str(cause_id)
    ), False


@transaction.atomic
def violations_record_many(
    *, type_code: str, causes: list[ViolationCause], reason: str = "", actor=None, now: datetime | None = None
) -> list[int]:
    """Record violations of one type for many causes at once, each once (the path of the scheduled checks and
    of `violation_record`): a fixed number of queries per batch plus one per ladder step or shortfall that a
    store actually reaches. Causes already recorded are left alone. Returns the ids of the violations this
    call created, in the order of their causes.

    Locks every store concerned (in id order) before looking for earlier records, so a concurrent writer of the
    same cause waits and then finds it; the deposit accounts are locked after the stores, as everywhere.
    Rows go in through `insert_rows` (COPY on PostgreSQL): a check may write tens of thousands."""
    _require_perm(actor, "merchants.record_violation")
    now = now or timezone.now()
    violation_type = ViolationType.objects.get(code=type_code)
    unique: dict[tuple[str, str], ViolationCause] = {}
    for cause in causes:
        unique.setdefault((cause.cause_kind, str(cause.cause_id)), cause)
    if not unique:
        return []
    # Only the lock and the time zone are needed of each store (a batch may hold a thousand stores).
    zones = dict(
        Store.objects.select_for_update()
        .filter(pk__in={cause.store_id for cause in unique.values()})
        .order_by("pk")
        .values_list("pk", "time_zone")
    )
    recorded = set(
        Violation.objects.filter(
            violation_type=violation_type,
            cause_kind__in={kind for kind, _id in unique},
            cause_id__in={cause_id for _kind, cause_id in unique},
        ).values_list("cause_kind", "cause_id")
    )
    fresh = [cause for key, cause in unique.items() if key not in recorded]
    if not fresh:
        return []
    ledger = violation_type.severity
    actor_id = actor.pk if actor is not None else None
    reason = reason[:300]
    recorded_rows = []
    for cause in fresh:
        occurred = cause.occurred_at or now
        recorded_rows.append(
            (
                cause.store_id,
                violation_type.pk,
                cause.cause_kind,
                str(cause.cause_id),
                cause.cause_label[:100],
                occurred,
                violation_type.points if cause.points is None else cause.points,
                ledger,
                occurred.astimezone(ZoneInfo(zones[cause.store_id])).year,
                ViolationStatus.ACTIVE,
                reason,
                actor_id,
                None,
                now,
            )
        )
    ids = insert_rows(Violation, VIOLATION_COLUMNS, recorded_rows, return_ids=True)
    # (id, store id, occurred, points, point year) of each new violation
    created = [(pk, row[0], row[5], row[6], row[8]) for pk, row in zip(ids, recorded_rows, strict=True)]

    # Money: the entries, then each touched account's position (a shortfall starts at once).
    compensation_rules = (
        list(CompensationRule.objects.filter(kind=violation_type.compensation_kind))
        if violation_type.compensation_kind
        else []
    )
    accounts = dict(
        DepositAccount.objects.select_for_update()
        .filter(store_id__in={store_id for _pk, store_id, *_rest in created})
        .order_by("pk")
        .values_list("store_id", "pk")
    )
    deduction = money(violation_type.deposit_deduction)
    entry_rows, event_rows = [], []
    for (pk, store_id, _occurred, points, _year), cause in zip(created, fresh, strict=True):
        outflows = []
        if deduction > 0:
            outflows.append((DepositEntry.Kind.DEDUCTION, deduction, "deduction"))
        rule = compensation_rule_for(compensation_rules, cause.promised_hours)
        if rule is not None and cause.amount_paid is not None:
            amount = compensation_amount(
                amount_paid=cause.amount_paid, rate=rule.rate, minimum=rule.minimum, maximum=rule.maximum
            )
            outflows.append((DepositEntry.Kind.COMPENSATION, amount, "compensation"))
        data = {"violation": pk, "type": type_code, "points": points}
        for kind, amount, suffix in outflows:
            if amount <= 0:
                continue
            # account, kind, amount, reason, reference, cause key, actor, reverses, created
            entry_rows.append(
                (
                    accounts[store_id],
                    kind,
                    -amount,
                    violation_type.name,
                    "",
                    f"violation:{pk}:{suffix}",
                    actor_id,
                    None,
                    now,
                )
            )
            data[suffix] = str(amount)
        # store, kind, from, to, reason, data, actor, created
        event_rows.append((store_id, "violation_recorded", "", "", reason, data, actor_id, now))
    insert_rows(DepositEntry, DEPOSIT_ENTRY_COLUMNS, entry_rows)
    insert_rows(StoreEvent, STORE_EVENT_COLUMNS, event_rows)
    if entry_rows:
        for account in deposit_accounts_with_position().filter(
            pk__in={row[0] for row in entry_rows}, shortfall_since__isnull=True, balance__lt=F("required")
        ):
            _deposit_position_refresh_locked(account, now=now)  # locked above

    # Points, then the ladder once per store and year whose total crosses a threshold.
    pointed = [
        (pk, store_id, occurred, points, year) for pk, store_id, occurred, points, year in created if points
    ]
    if pointed:
        before = {
            (row["store_id"], row["year"]): row["total"] or 0
            for row in PointEntry.objects.filter(
                store_id__in={store_id for _pk, store_id, *_rest in pointed},
                year__in={year for *_rest, year in pointed},
                ledger=ledger,
            )
            .values("store_id", "year")
            .annotate(total=Sum("points"))
        }
        insert_rows(
            PointEntry,
            POINT_ENTRY_COLUMNS,
            [
                (store_id, ledger, year, points, pk, f"violation:{pk}:points", occurred)
                for pk, store_id, occurred, points, year in pointed
            ],
        )
        added: dict[tuple[int, int], int] = {}
        for _pk, store_id, _occurred, points, year in pointed:
            added[(store_id, year)] = added.get((store_id, year), 0) + points
        steps = _ladder(ledger)
        for (store_id, year), points in sorted(added.items()):
            total = before.get((store_id, year), 0)
            for step in ladder_steps_crossed(before=total, after=total + points, steps=steps):
                # A ladder penalty runs from when it is applied, even for a violation dated earlier.
                _apply_ladder_step(
                    store=Store.objects.get(pk=store_id),
                    year=year,
                    ledger=ledger,
                    step=step,
                    now=timezone.now(),
                )
    # Types counted by occurrence (fraudulent dispatch: the nth in a natural year) climb their own ladder.
    occurrence_steps = list(OccurrenceLadderStep.objects.filter(violation_type=violation_type))
    if occurrence_steps:
        stores = {store.pk: store for store in Store.objects.filter(pk__in={row[1] for row in created})}
        for violation in Violation.objects.filter(pk__in=ids).order_by("occurred_at", "pk"):
            _apply_occurrence_ladder(
                store=stores[violation.store_id],
                violation=violation,
                now=timezone.now(),
                steps=occurrence_steps,
            )
    return ids


# The columns `violations_record_many` writes, in the order of its row tuples.
VIOLATION_COLUMNS = (
    "store_id", "violation_type_id", "cause_kind", "cause_id", "cause_label", "occurred_at", "points", "ledger",
    "point_year", "status", "reason", "recorded_by_id", "revoked_at", "created_at",
)  # fmt: skip
DEPOSIT_ENTRY_COLUMNS = (
    "account_id", "kind", "amount", "reason", "reference", "cause_key", "actor_id", "reverses_id", "created_at",
)  # fmt: skip
STORE_EVENT_COLUMNS = (
    "store_id",
    "kind",
    "from_status",
    "to_status",
    "reason",
    "data",
    "actor_id",
    "created_at",
)
POINT_ENTRY_COLUMNS = ("store_id", "ledger", "year", "points", "violation_id", "cause_key", "created_at")


@transaction.atomic
def violation_revoke(*, violation: Violation, actor, reason: str, now: datetime | None = None) -> Violation:
    """Undo everything the violation caused, exactly: its deposit entries are reversed, its points taken
    back, and ladder restrictions whose threshold the store no longer reaches are lifted."""
    _require_perm(actor, "merchants.record_violation")
    now = now or timezone.now()
    violation = (
        Violation.objects.select_for_update().select_related("store", "violation_type").get(pk=violation.pk)
    )
    if not can_proceed(violation.revoke):
        raise TransitionRefused(_("This violation is already revoked."))
    store = Store.objects.select_for_update().get(pk=violation.store_id)
    violation.revoke(at=now)
    violation.save(update_fields=["status", "revoked_at"])
    for entry in DepositEntry.objects.filter(cause_key__startswith=f"violation:{violation.pk}:").exclude(
        kind=DepositEntry.Kind.REVERSAL
    ):
        deposit_reverse(entry=entry, reason=gettext_noop("Violation revoked"), actor=None, now=now)
    if violation.points:
        PointEntry.objects.create(
            store=store,
            ledger=violation.ledger,
            year=violation.point_year,
            points=-violation.points,
            violation=violation,
            cause_key=f"violation:{violation.pk}:points-revoked",
            created_at=now,
        )
        total = _points_total(store=store, year=violation.point_year, ledger=violation.ledger)
        suspensions = []
        for step in _ladder(violation.ledger):
            if step.threshold <= total:
                continue
            for penalty in step.penalties:
                cause = _ladder_cause(store, violation.point_year, violation.ledger, step.threshold, penalty)
                for sanction in Sanction.objects.filter(
                    Q(cause_key=cause) | Q(cause_key__startswith=f"{cause}#"), lifted_at__isnull=True
                ):
                    sanction_lift(sanction=sanction, actor=None, reason=gettext_noop("Violation revoked"))
                if penalty == "suspension":
                    suspensions.append(cause)
        store = _ladder_suspensions_undo(store=store, causes=suspensions)
        rules_exam_lift_unreached(store=store, year=violation.point_year, ledger=violation.ledger, now=now)
    _undo_occurrence_ladder(store=store, violation=violation, now=now)
    _store_event(store, "violation_revoked", actor=actor, reason=reason, data={"violation": violation.pk})
    return violation


@transaction.atomic
def violation_appeal_open(*, violation: Violation, actor, reason: str = "") -> Violation:
    """The store appeals against the violation (the appeal itself lives higher up, in complaints): the
    violation shows as under appeal. Its penalties stay in force meanwhile (RULES §10)."""
    violation = Violation.objects.select_for_update().select_related("store").get(pk=violation.pk)
    _require_store_capability(actor, violation.store, APPEAL_VIOLATIONS)
    if not can_proceed(violation.appeal):
        raise TransitionRefused(
            _("A violation that is %(status)s cannot be appealed.")
            % {"status": violation.get_status_display()}
        )
    before = violation.status
    violation.appeal()
    violation.save(update_fields=["status"])
    _store_event(
        violation.store,
        "violation_appealed",
        actor=actor,
        reason=reason,
        from_status=before,
        to_status=violation.status,
        data={"violation": violation.pk},
    )
    return violation


@transaction.atomic
def violation_appeal_close(*, violation: Violation, actor, reason: str) -> Violation:
    """The appeal was rejected: the violation is in force again, every penalty where it was. (A won appeal
    goes through `violation_revoke` instead.)"""
    _require_perm(actor, "merchants.record_violation")
    violation = Violation.objects.select_for_update().select_related("store").get(pk=violation.pk)
    if not can_proceed(violation.uphold):
        raise TransitionRefused(
            _("The violation is %(status)s, not under appeal.") % {"status": violation.get_status_display()}
        )
    before = violation.status
    violation.uphold()
    violation.save(update_fields=["status"])
    _store_event(
        violation.store,
        "violation_appeal_rejected",
        actor=actor,
        reason=reason,
        from_status=before,
        to_status=violation.status,
        data={"violation": violation.pk},
    )
    return violation


# --- Rules exam -----------------------------------------------------------------------------------


def rules_exam_require(
    *,
    store: Store,
    cause_key: str,
    now: datetime | None = None,
    ledger: str = "",
    year: int | None = None,
    threshold: int | None = None,
) -> RulesExamRequirement:
    """The store must pass the rules exam, once per cause (a ladder step). A requirement a revoke lifted is
    opened again when the cause is reached again; one already passed stays passed."""
    now = now or timezone.now()
    with transaction.atomic():
        requirement, created = RulesExamRequirement.objects.select_for_update().get_or_create(
            cause_key=cause_key,
            defaults={
                "store": store,
                "ledger": ledger,
                "year": year,
                "threshold": threshold,
                "required_at": now,
            },
        )
        if created or requirement.lifted_at is not None:
            if not created:
                requirement.lifted_at, requirement.lifted_reason, requirement.required_at = None, "", now
                requirement.save(update_fields=["lifted_at", "lifted_reason", "required_at"])
            _store_event(
                store,
                "rules_exam_required",
                reason=gettext_noop("The store must pass the rules exam"),
                data={"requirement": requirement.pk, "cause": cause_key},
            )
    return requirement


def _rules_exam_lift(requirements, *, reason: str, now: datetime) -> int:
    lifted = 0
    for requirement in requirements:
        requirement.lifted_at, requirement.lifted_reason = now, reason[:300]
        requirement.save(update_fields=["lifted_at", "lifted_reason"])
        _store_event(
            requirement.store,
            "rules_exam_lifted",
            reason=reason,
            data={"requirement": requirement.pk, "cause": requirement.cause_key},
        )
        lifted += 1
    return lifted


@transaction.atomic
def rules_exam_lift_unreached(*, store: Store, year: int, ledger: str, now: datetime | None = None) -> int:
    """After a revoke: lift the store's open exam requirements from ladder steps of this year and ledger
    whose threshold its points no longer reach. Returns how many were lifted."""
    now = now or timezone.now()
    total = _points_total(store=store, year=year, ledger=ledger)
    unreached = (
        RulesExamRequirement.objects.open()
        .select_for_update()
        .select_related("store")
        .filter(store=store, year=year, ledger=ledger, threshold__gt=total)
    )
    return _rules_exam_lift(unreached, reason=gettext_noop("Violation revoked"), now=now)


def _require_exam_taker(actor, store: Store) -> None:
    """Only the store's owner or operator sits the exam (never staff on the store's behalf)."""
    role = Membership.objects.filter(user=actor, store=store).values_list("role", flat=True).first()
    if role is None or not role_can(role, TAKE_RULES_EXAM):
        raise ActionForbidden(_("Your role on this store does not allow this action."))


@transaction.atomic
def rules_exam_start(
    *, store: Store, actor, now: datetime | None = None, seed: int | None = None
) -> RulesExamAttempt:
    """Draw a sitting of the exam from the rule table as it is now. The seed and the questions as drawn are
    kept, so the sitting is graded on what was shown even if the table changes meanwhile. A sitting the
    same person has not submitted yet is returned instead of drawing a second one."""
    now = now or timezone.now()
    _require_exam_taker(actor, store)
    store = _locked_store(store)
    if not RulesExamRequirement.objects.open().filter(store=store).exists():
        raise DomainError(_("The store has no rules exam to take."))
    unfinished = (
        RulesExamAttempt.objects.filter(store=store, user=actor, submitted_at__isnull=True)
        .order_by("-started_at", "-id")
        .first()
    )
    if unfinished is not None:
        return unfinished
    seed = secrets.randbelow(2**31) if seed is None else seed
    params = rule_decimals("rules_exam_question_count", "rules_exam_pass_share")
    questions = exam_draw(bank=rules_exam_bank(), count=int(params["rules_exam_question_count"]), seed=seed)
    if not questions:
        raise DomainError(_("The rule table has no questions to ask; tell the platform."))
    return RulesExamAttempt.objects.create(
        store=store,
        user=actor,
        seed=seed,
        questions=[question.as_data() for question in questions],
        pass_share=params["rules_exam_pass_share"],
        started_at=now,
    )


@transaction.atomic
def rules_exam_submit(
    *, attempt: RulesExamAttempt, answers: list[int], actor, now: datetime | None = None
) -> RulesExamAttempt:
    """Grade a sitting. A pass meets every open exam requirement of the store; a fail leaves them open."""
    now = now or timezone.now()
    attempt = RulesExamAttempt.objects.select_for_update().select_related("store").get(pk=attempt.pk)
    _require_exam_taker(actor, attempt.store)
    if attempt.user_id != actor.pk:
        raise ActionForbidden(_("Only the person who started this sitting may submit it."))
    if attempt.submitted_at is not None:
        raise TransitionRefused(_("This sitting was already submitted."))
    if len(answers) != len(attempt.questions) or any(
        not 0 <= answer < len(question["choices"])
        for answer, question in zip(answers, attempt.questions, strict=True)
    ):
        raise DomainError(_("Answer every question."))
    store = _locked_store(attempt.store)
    attempt.answers = list(answers)
    attempt.score = exam_score(questions=attempt.questions, answers=attempt.answers)
    attempt.passed = exam_passed(score=attempt.score, total=attempt.total, pass_share=attempt.pass_share)
    attempt.submitted_at = now
    attempt.save(update_fields=["answers", "score", "passed", "submitted_at"])
    met = []
    if attempt.passed:
        for requirement in RulesExamRequirement.objects.open().select_for_update().filter(store=store):
            requirement.passed_at, requirement.passed_attempt = now, attempt
            requirement.save(update_fields=["passed_at", "passed_attempt"])
            met.append(requirement.pk)
    _store_event(
        store,
        "rules_exam_passed" if attempt.passed else "rules_exam_failed",
        actor=actor,
        data={"attempt": attempt.pk, "score": attempt.score, "total": attempt.total, "requirements": met},
    )
    return attempt


# --- Fraudulent-dispatch style occurrence ladders -------------------------------------------------

OCCURRENCE_SANCTIONS = {
    Sanction.Kind.SETTLEMENT_FREEZE,
    Sanction.Kind.LISTING_BLOCK,
    Sanction.Kind.ORDER_RESTRICTION,
    Sanction.Kind.WITHDRAWAL_HOLD,
}


def _occurrences_in_year(*, store: Store, violation: Violation, excluding: int | None = None) -> int:
    """Violations of this type in the store's natural year that still stand (revoked ones do not count)."""
    standing = Violation.objects.filter(
        store_id=store.pk, violation_type_id=violation.violation_type_id, point_year=violation.point_year
    ).exclude(status=ViolationStatus.REVOKED)
    if excluding is not None:
        standing = standing.exclude(pk=excluding)
    return standing.count()


def _apply_occurrence_ladder(
    *, store: Store, violation: Violation, now: datetime, steps: list[OccurrenceLadderStep] | None = None
) -> list:
    """Apply the occurrence-ladder steps of the violation's type that the store's count of such violations
    this natural year has reached and that do not stand yet (each once while it stands). Called with the
    store row locked, after the violation is saved. A batch passes the type's `steps`, loaded once (and
    skips the call when there are none). Returns the applications made."""
    if steps is None:
        steps = list(OccurrenceLadderStep.objects.filter(violation_type_id=violation.violation_type_id))
    if not steps:
        return []
    count = _occurrences_in_year(store=store, violation=violation)
    standing = set(
        OccurrenceLadderApplication.objects.filter(
            store_id=store.pk,
            violation_type_id=violation.violation_type_id,
            year=violation.point_year,
            undone_at__isnull=True,
        ).values_list("occurrence", flat=True)
    )
    reason = gettext_noop("Repeated violations of one kind in a natural year")
    made = []
    for step in sorted(steps, key=lambda s: s.occurrence):
        if step.occurrence > count or step.occurrence in standing:
            continue
        penalties = [p.strip() for p in step.penalties.split(",") if p.strip()]
        ends_at = now + timedelta(days=step.duration_days) if step.duration_days else None
        try:
            with transaction.atomic():
                application = OccurrenceLadderApplication.objects.create(
                    store_id=store.pk,
                    violation_type_id=violation.violation_type_id,
                    year=violation.point_year,
                    occurrence=step.occurrence,
                    violation=violation,
                    penalties=",".join(penalties),
                    applied_at=now,
                    ends_at=ends_at,
                )
        except IntegrityError:
            continue  # applied by a concurrent writer
        for penalty in penalties:
            cause = f"occurrence:{application.pk}:{penalty}"
            if penalty in OCCURRENCE_SANCTIONS:
                sanction_impose(
                    store=store, kind=penalty, reason=reason, starts_at=now, ends_at=ends_at, cause_key=cause
                )
            elif penalty == "suspension":
                store.refresh_from_db(fields=["status", "suspended_until"])
                if can_proceed(store.suspend) and ends_at and ends_at > timezone.now():
                    store_suspend(store=store, until=ends_at, actor=None, reason=reason)
                    store.refresh_from_db(fields=["status", "suspended_until"])
                    application.suspended_store = True
                    application.save(update_fields=["suspended_store"])
            elif penalty == "clear_out":
                store.refresh_from_db(fields=["status", "suspended_until"])
                if can_proceed(store.clear_out):
                    store_clear_out(store=store, actor=None, reason=reason, ban_entity=True)
                    store.refresh_from_db(fields=["status", "suspended_until"])
            elif penalty == "rules_exam":
                rules_exam_require(store=store, cause_key=cause, now=now)
        _store_event(
            store,
            "occurrence_ladder_applied",
            reason=reason,
            data={
                "application": application.pk,
                "violation": violation.pk,
                "type": violation.violation_type_id,
                "year": violation.point_year,
                "occurrence": step.occurrence,
                "penalties": penalties,
            },
        )
        made.append(application)
    return made


def _undo_occurrence_ladder(*, store: Store, violation: Violation, now: datetime) -> int:
    """After `violation` is revoked: undo the standing occurrence-ladder steps its type's count this year no
    longer reaches — sanctions lifted, a suspension it caused ended, an exam it required lifted. A clear-out
    is final and stays (a reviewer decides). Called with the store row locked. Returns how many were undone."""
    # The revoked violation never counts, whether or not the caller has saved its new status yet.
    count = _occurrences_in_year(store=store, violation=violation, excluding=violation.pk)
    undone = 0
    reason = gettext_noop("Violation revoked")
    for application in OccurrenceLadderApplication.objects.select_for_update().filter(
        store_id=store.pk,
        violation_type_id=violation.violation_type_id,
        year=violation.point_year,
        undone_at__isnull=True,
        occurrence__gt=count,
    ):
        for sanction in Sanction.objects.filter(
            cause_key__startswith=f"occurrence:{application.pk}:", lifted_at__isnull=True
        ):
            sanction_lift(sanction=sanction, actor=None, reason=reason)
        store.refresh_from_db(fields=["status", "suspended_until"])
        if (
            application.suspended_store
            and store.status == StoreStatus.SUSPENDED
            and store.suspended_until == application.ends_at
        ):
            store_reinstate(store=store, actor=None, reason=reason)
            store.refresh_from_db(fields=["status", "suspended_until"])
        _rules_exam_lift(
            RulesExamRequirement.objects.open()
            .select_related("store")
            .filter(cause_key=f"occurrence:{application.pk}:rules_exam"),
            reason=reason,
            now=now,
        )
        application.undone_at = now
        application.save(update_fields=["undone_at"])
        _store_event(
            store,
            "occurrence_ladder_undone",
            reason=reason,
            data={
                "application": application.pk,
                "violation": violation.pk,
                "occurrence": application.occurrence,
                "cleared_out_stays": "clear_out" in application.penalties.split(","),
            },
        )
        undone += 1
    return undone


# --- Settlement release ---------------------------------------------------------------------------


@dataclass
class SettlementReleaseResult:
    stores: int = 0
    entries: int = 0
    frozen_stores: int = 0
    skipped: bool = False

    def __str__(self):
        skipped = " (another run holds the lock)" if self.skipped else ""
        return f"stores={self.stores} entries={self.entries} frozen={self.frozen_stores}{skipped}"


def _settlement_freezes(now: datetime):
    return Sanction.objects.live(now).filter(kind=Sanction.Kind.SETTLEMENT_FREEZE)


@transaction.atomic
def _settlement_release_store(*, store_id: int, now: datetime) -> int:
    """Release one store's due settlement; nothing while a settlement freeze is live. Returns entries."""
    store = Store.objects.select_for_update().get(pk=store_id)
    if _settlement_freezes(now).filter(store=store).exists():
        return 0
    released = SettlementEntry.objects.filter(
        store=store, released_at__isnull=True, available_at__lte=now
    ).update(released_at=now)
    if not released:
        return 0
    # What this run released carries its timestamp (rows released on record carry their own).
    amount = SettlementEntry.objects.filter(store=store, released_at=now, available_at__lte=now).aggregate(
        total=Sum("amount")
    )["total"]
    _store_event(
        store,
        "settlement_released",
        reason=gettext_noop("Settlement released after the waiting days"),
        data={"amount": str(money(amount or 0)), "entries": released},
    )
    return released


def settlement_release_check(*, now: datetime | None = None) -> SettlementReleaseResult:
    """Release settlement whose waiting days are over to the withdrawable balance, store by store (one event
    each); stores under a live settlement freeze keep theirs pending until the freeze ends. Set-based (the
    partial index on unreleased rows), idempotent (released rows are not due again), single-flight."""
    now = now or timezone.now()
    result = SettlementReleaseResult()
    with single_flight("settlement_release_check") as acquired:
        if not acquired:
            result.skipped = True
            return result
        due = SettlementEntry.objects.filter(released_at__isnull=True, available_at__lte=now).order_by()
        frozen = _settlement_freezes(now).values("store_id")
        result.frozen_stores = due.filter(store_id__in=frozen).values("store_id").distinct().count()
        for store_id in due.exclude(store_id__in=frozen).values_list("store_id", flat=True).distinct():
            released = _settlement_release_store(store_id=store_id, now=now)
            result.entries += released
            result.stores += int(released > 0)
    return result


# --- Natural-year rollover of the point ledgers ---------------------------------------------------


@dataclass
class YearRolloverResult:
    closed: int = 0
    skipped: bool = False

    def __str__(self):
        skipped = " (another run holds the lock)" if self.skipped else ""
        return f"closed={self.closed}{skipped}"


def point_year_rollover_check(*, now: datetime | None = None) -> YearRolloverResult:
    """Once the 1st of January has come in a store's time zone, record the year just closed — its general
    and serious totals — once per store (a PointYearClose row and a store event). Points are keyed by year,
    so nothing moves: the new year simply starts at zero. Stores open during the closed year and still
    trading, and any store with points in it, are closed; a second run changes nothing."""
    now = now or timezone.now()
    result = YearRolloverResult()
    with single_flight("point_year_rollover_check") as acquired:
        if not acquired:
            result.skipped = True
            return result
        for zone_name in Store.objects.order_by().values_list("time_zone", flat=True).distinct():
            new_year = now.astimezone(ZoneInfo(zone_name)).year
            result.closed += _point_year_close_zone(zone_name=zone_name, year=new_year - 1, now=now)
    return result


@transaction.atomic
def _point_year_close_zone(*, zone_name: str, year: int, now: datetime) -> int:
    points_that_year = PointEntry.objects.filter(store=OuterRef("pk"), year=year)
    stores = list(
        Store.objects.filter(time_zone=zone_name)
        .filter(
            Q(
                opened_on__lte=date(year, 12, 31),
                status__in=[StoreStatus.ACTIVE, StoreStatus.SUSPENDED, StoreStatus.EXITING],
            )
            | Q(Exists(points_that_year))
        )
        .exclude(Exists(PointYearClose.objects.filter(store=OuterRef("pk"), year=year)))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not stores:
        return 0
    totals: dict[tuple[int, str], int] = {
        (row["store_id"], row["ledger"]): row["total"] or 0
        for row in PointEntry.objects.filter(store_id__in=stores, year=year)
        .values("store_id", "ledger")
        .annotate(total=Sum("points"))
    }
    general, serious = ViolationType.Severity.GENERAL, ViolationType.Severity.SERIOUS
    closes = [
        PointYearClose(
            store_id=store_id,
            year=year,
            general_points=totals.get((store_id, general), 0),
            serious_points=totals.get((store_id, serious), 0),
            closed_at=now,
        )
        for store_id in stores
    ]
    PointYearClose.objects.bulk_create(closes, batch_size=1000)
    StoreEvent.objects.bulk_create(
        [
            StoreEvent(
                store_id=close.store_id,
                kind="point_year_closed",
                reason=gettext_noop("Natural year closed: points start again at zero"),
                data={"year": year, general: close.general_points, serious: close.serious_points},
                created_at=now,
            )
            for close in closes
        ],
        batch_size=1000,
    )
    return len(closes)


# --- Store experience score (RULES §11) -----------------------------------------------------------


def score_rules() -> ScoreRules:
    """The score's numbers from the rule table."""
    keys = [f"score_{metric}_{end}" for metric in SCORE_METRICS for end in ("good", "bad")]
    keys += [f"score_weight_{part}" for part in SCORE_PARTS]
    keys += [
        "score_floor",
        "score_ceiling",
        "score_growth_min_orders",
        "score_growth_score",
        "score_negative_service_points",
        "score_negative_service_cap",
        "score_fraudulent_dispatch_points",
    ]
    p = rule_decimals(*keys)
    return ScoreRules(
        bands={m: ScoreBand(good=p[f"score_{m}_good"], bad=p[f"score_{m}_bad"]) for m in SCORE_METRICS},
        weights={part: p[f"score_weight_{part}"] for part in SCORE_PARTS},
        floor=p["score_floor"],
        ceiling=p["score_ceiling"],
        growth_min_orders=int(p["score_growth_min_orders"]),
        growth_score=p["score_growth_score"],
        negative_service_points=p["score_negative_service_points"],
        negative_service_cap=p["score_negative_service_cap"],
        fraudulent_dispatch_points=p["score_fraudulent_dispatch_points"],
    )


@dataclass
class ScoreCheckResult:
    day: date | None = None
    scored: int = 0
    skipped: bool = False

    def __str__(self):
        skipped = " (another run holds the lock)" if self.skipped else ""
        return f"day={self.day} stores_scored={self.scored}{skipped}"


def _behaviour_counts(*, start: datetime, end: datetime) -> dict[int, dict[str, int]]:
    """Per store, the violations in the window that the score deducts for (revoked ones do not count)."""
    rows = (
        Violation.objects.filter(
            occurred_at__gte=start,
            occurred_at__lt=end,
            violation_type__code__in=["negative_service", "fraudulent_dispatch"],
        )
        .exclude(status=ViolationStatus.REVOKED)
        .values("store_id", "violation_type__code")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["store_id"], {})[row["violation_type__code"]] = row["n"]
    return counts


def experience_score_check(*, now: datetime | None = None, day: date | None = None) -> ScoreCheckResult:
    """Daily: each trading store's score for the last complete day (default time zone), over the window of
    days before it; set-based (one query per figure source for all stores), idempotent (one row per store
    and day: a store already scored is left alone), single-flight."""
    now = now or timezone.now()
    zone = timezone.get_default_timezone()
    day = day or timezone.localdate(now, zone) - timedelta(days=1)
    result = ScoreCheckResult(day=day)
    with single_flight("experience_score_check") as acquired:
        if not acquired:
            result.skipped = True
            return result
        stores = list(
            Store.objects.filter(status__in=[StoreStatus.ACTIVE, StoreStatus.SUSPENDED])
            .exclude(scores__day=day)
            .values_list("pk", flat=True)
        )
        if not stores:
            return result
        rows = _score_rows(store_ids=stores, day=day, rules=score_rules(), now=now)
        with transaction.atomic():
            insert_rows(StoreScore, STORE_SCORE_COLUMNS, rows)
        result.scored = len(rows)
    return result


def _score_rows(*, store_ids: list[int], day: date, rules: ScoreRules, now: datetime) -> list[tuple]:
    """The score rows (STORE_SCORE_COLUMNS) of the given stores for a day, over the window before it."""
    from merchants.scoring import score_figures

    zone = timezone.get_default_timezone()
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    start = end - timedelta(days=rule_int("score_window_days"))
    figures = score_figures(start=start, end=end)
    behaviour = _behaviour_counts(start=start, end=end)
    rows = []
    for store_id in store_ids:
        metrics = figures.get(store_id, {})
        paid = int(metrics.get("paid_orders") or 0)
        counts = behaviour.get(store_id, {})
        parts = experience_score(
            metrics={m: metrics.get(m) for m in SCORE_METRICS},
            paid_orders=paid,
            negative_service_events=counts.get("negative_service", 0),
            fraudulent_dispatch_violations=counts.get("fraudulent_dispatch", 0),
            rules=rules,
        )
        shown = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in metrics.items() if v is not None}
        rows.append(
            (
                store_id,
                day,
                parts.score,
                parts.product,
                parts.logistics,
                parts.service,
                parts.deductions,
                parts.growth_stage,
                paid,
                shown,
                now,
            )
        )
    return rows


def experience_score_backfill(
    *, days: int, now: datetime | None = None, store_ids=None, every: int = 1
) -> int:
    """The score history of the `days` complete days before today, for each trading store (or the given
    ones) from the day it opened, on the days it has no score yet: after a deployment, or for the demo.
    With `every` > 1 only every so many days are scored, counting back from yesterday (which always is).
    Each day costs one run of the figure sources for all stores (as the daily check); rows are written in
    bulk. Idempotent; holds the daily check's lock. Returns the rows written."""
    now = now or timezone.now()
    today = timezone.localdate(now, timezone.get_default_timezone())
    first_day = today - timedelta(days=days)
    with single_flight("experience_score_check") as acquired:
        if not acquired:
            return 0
        trading = Store.objects.filter(status__in=[StoreStatus.ACTIVE, StoreStatus.SUSPENDED])
        if store_ids is not None:
            trading = trading.filter(pk__in=store_ids)
        opened = dict(trading.values_list("pk", "opened_on"))
        scored = set(
            StoreScore.objects.filter(store_id__in=opened, day__gte=first_day, day__lt=today).values_list(
                "store_id", "day"
            )
        )
        rules = score_rules()
        rows = []
        for back in range(days, 0, -1):
            if (back - 1) % every:
                continue
            day = today - timedelta(days=back)
            due = [
                pk
                for pk, opened_on in opened.items()
                if (opened_on is None or opened_on <= day) and (pk, day) not in scored
            ]
            if due:
                rows += _score_rows(store_ids=due, day=day, rules=rules, now=now)
        with transaction.atomic():
            insert_rows(StoreScore, STORE_SCORE_COLUMNS, rows)
    return len(rows)


STORE_SCORE_COLUMNS = (
    "store_id", "day", "score", "product", "logistics", "service", "deductions", "growth_stage", "paid_orders",
    "metrics", "computed_at",
)  # fmt: skip
