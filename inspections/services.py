"""Writes and workflows of spot-check inspections. Every state change goes through here.

Each service locks the inspection, checks the transition (`can_proceed`) and, for a person, the transition's
permission (`has_transition_perm`; the engine acts with `actor=None`), transitions, saves the changed fields and
writes one InspectionEvent, all in one transaction. What a result does elsewhere goes through the merchants
services, downwards: `listing_remove`, `violation_record`, `violation_revoke`, `settlement_record`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_fsm import can_proceed, has_transition_perm

from inspections import rules
from inspections.models import (
    Defect,
    Inspection,
    InspectionEvent,
    InspectionStatus,
    Lab,
    LabReport,
    SamplingRound,
)
from inspections.reports import CheckedReport, report_check
from inspections.rules import fingerprint_line, weighted_draw
from inspections.selectors import risk_weights, sampling_candidates, store_risk
from merchants.errors import ActionForbidden, DomainError, TransitionRefused
from merchants.models import (
    Listing,
    ListingEvent,
    ListingStatus,
    Membership,
    SettlementEntry,
    Violation,
)
from merchants.roles import REQUEST_RETEST, role_can
from merchants.rules import money
from merchants.selectors import holiday_calendar, rule_decimals, rule_int
from merchants.services import (
    listing_remove,
    listing_restore,
    settlement_record,
    violation_record,
    violation_revoke,
)
from orders.models import Order

logger = logging.getLogger(__name__)

SPOT_CHECK_VIOLATION = "spot_check_failed"


# --- Shared machinery -----------------------------------------------------------------------------


def _require_perm(actor, perm: str) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise ActionForbidden(
            _("You do not have the permission for this action (%(perm)s).") % {"perm": perm}
        )


def _event(inspection: Inspection, kind: str, *, actor, before: str = "", reason: str = "", data=None):
    return InspectionEvent.objects.create(
        inspection=inspection,
        kind=kind,
        from_status=before,
        to_status=inspection.status,
        reason=reason or "",
        data=data or {},
        actor=actor,
    )


def _locked(inspection: Inspection) -> Inspection:
    return Inspection.objects.select_for_update().select_related("listing", "store").get(pk=inspection.pk)


def _guard(inspection: Inspection, method_name: str, *, actor, refusal: str) -> None:
    """The transition must be possible from the current state, and a person needs its permission."""
    method = getattr(inspection, method_name)
    if not can_proceed(method):
        raise TransitionRefused(refusal % {"status": inspection.get_status_display(), "id": inspection.pk})
    if actor is not None and not has_transition_perm(method, actor):
        raise ActionForbidden(_("You do not have the permission for this step of the inspection."))


def _save(inspection: Inspection, *fields: str) -> None:
    inspection.updated_at = timezone.now()
    inspection.save(update_fields=["status", "updated_at", *fields])


def _store_report(inspection: Inspection, *, report: CheckedReport, phase: str, actor) -> LabReport:
    """The row and the file; if the transaction fails after this, the caller deletes the file."""
    row = LabReport(
        inspection=inspection,
        phase=phase,
        content_type=report.content_type,
        extension=report.extension,
        size=report.size,
        sha256=report.sha256,
        original_name=report.original_name,
        uploaded_by=actor,
    )
    row.file.save("report" + report.extension, ContentFile(report.data), save=False)
    try:
        row.save()
    except Exception:
        row.file.delete(save=False)
        raise
    return row


def _check_defects(defects) -> list[str]:
    codes = list(dict.fromkeys(defects or []))
    unknown = [code for code in codes if code not in Defect.values]
    if unknown:
        raise DomainError(_("Unknown defects: %(codes)s.") % {"codes": ", ".join(unknown)})
    if not codes:
        raise DomainError(_("A failed result needs at least one defect found by the lab."))
    return codes


# --- Sampling rounds ------------------------------------------------------------------------------


@transaction.atomic
def sampling_round_draw(
    *,
    actor,
    sample_size: int | None = None,
    seed: str | None = None,
    trigger: str = SamplingRound.Trigger.INSPECTOR,
    cause_key: str | None = None,
    note: str = "",
    now: datetime | None = None,
) -> SamplingRound:
    """Draw up to `sample_size` live listings (default: the rule table's) at random, weighted towards risk,
    from a recorded seed: the same seed over the same candidates draws the same listings. Each drawn listing
    becomes an inspection in `selected` with its weight and the factors behind it.

    Candidates are streamed in id order (one query for the listings, three grouped ones for the stores), so the
    weekly round on a million listings holds only the sample in memory."""
    _require_perm(actor, "inspections.draw_round")
    now = now or timezone.now()
    size = rule_int("spot_check_sample_size") if sample_size is None else int(sample_size)
    max_size = rule_int("spot_check_max_sample_size")
    if not 1 <= size <= max_size:
        raise DomainError(_("The sample size must be between 1 and %(max)s listings.") % {"max": max_size})
    seed = (seed or "").strip() or secrets.token_hex(8)
    if len(seed) > 64:
        raise DomainError(_("The seed may have at most 64 characters."))
    weights = risk_weights()
    risk = store_risk(now=now)

    digest = hashlib.sha256()
    counted = 0

    def weighed():
        nonlocal counted
        for listing_id, _store_id, weight, _factors in sampling_candidates(
            now=now, weights=weights, risk=risk
        ):
            digest.update(fingerprint_line(listing_id, weight))
            counted += 1
            yield listing_id, weight

    drawn_ids = weighted_draw(weighed(), size=size, seed=seed)
    sampling_round = SamplingRound(
        trigger=trigger,
        seed=seed,
        sample_size=size,
        drawn_count=len(drawn_ids),
        candidate_count=counted,
        candidates_digest=digest.hexdigest(),
        weights=weights.as_dict(),
        cause_key=cause_key,
        drawn_by=actor,
        drawn_at=now,
        note=note[:300],
    )
    sampling_round.full_clean(exclude=["drawn_by"])
    sampling_round.save()
    listings = {
        listing.pk: listing
        for listing in Listing.objects.filter(pk__in=drawn_ids).select_related("category", "store")
    }
    today = timezone.localdate(now)
    for rank, listing_id in enumerate(drawn_ids, start=1):
        listing = listings[listing_id]
        factors = risk.factors(
            store_id=listing.store_id, risky_category=listing.category.is_risky, today=today
        )
        contributions = rules.risk_contributions(factors, weights)
        inspection = Inspection.objects.create(
            round=sampling_round,
            listing=listing,
            store_id=listing.store_id,
            draw_rank=rank,
            weight=rules.risk_weight(factors, weights),
            risk_factors={
                "store_age_days": factors.store_age_days,
                "complaint_rate": None
                if factors.complaint_rate is None
                else rules.plain(factors.complaint_rate),
                "risky_category": factors.risky_category,
                "earlier_failures": factors.earlier_failures,
                "contributions": {name: rules.plain(value) for name, value in contributions.items()},
            },
            created_at=now,
            updated_at=now,
        )
        _event(
            inspection,
            "selected",
            actor=actor,
            data={"round": sampling_round.pk, "rank": rank, "weight": str(inspection.weight)},
        )
    return sampling_round


# --- The inspection's steps -----------------------------------------------------------------------


@transaction.atomic
def inspection_record_purchase(
    *, inspection: Inspection, order_no: str, actor, now: datetime | None = None
) -> Inspection:
    """Link the mystery order: bought from the store as an ordinary consumer, with a line of the listing."""
    now = now or timezone.now()
    inspection = _locked(inspection)
    _guard(
        inspection,
        "purchase",
        actor=actor,
        refusal=_("Inspection %(id)s is %(status)s: its purchase cannot be recorded now."),
    )
    order = (
        Order.objects.filter(store_id=inspection.store_id, order_no=(order_no or "").strip())
        .select_related("store")
        .first()
    )
    if order is None:
        raise DomainError(
            _("Store %(store)s has no order %(order_no)s.")
            % {"store": inspection.store.code, "order_no": order_no}
        )
    if not order.lines.filter(listing_id=inspection.listing_id).exists():
        raise DomainError(
            _("Order %(order_no)s does not contain listing %(sku)s.")
            % {"order_no": order.order_no, "sku": inspection.listing.sku}
        )
    if Inspection.objects.filter(order=order).exists():
        raise DomainError(
            _("Order %(order_no)s is already linked to another inspection.") % {"order_no": order.order_no}
        )
    before = inspection.status
    inspection.purchase(order=order, at=now)
    _save(inspection, "order", "purchased_at")
    _event(inspection, "purchased", actor=actor, before=before, data={"order": order.order_no})
    return inspection


@transaction.atomic
def inspection_send_to_lab(
    *, inspection: Inspection, lab: Lab, sample_number: str, actor, now: datetime | None = None
) -> Inspection:
    now = now or timezone.now()
    inspection = _locked(inspection)
    _guard(
        inspection,
        "send_to_lab",
        actor=actor,
        refusal=_("Inspection %(id)s is %(status)s: it cannot be sent to a lab now."),
    )
    sample_number = (sample_number or "").strip()
    if not sample_number:
        raise DomainError(_("Give the sample number the lab assigned."))
    if not lab.is_active:
        raise DomainError(_("The lab %(lab)s is no longer active.") % {"lab": lab})
    if Inspection.objects.filter(lab=lab, sample_number=sample_number).exists():
        raise DomainError(
            _("Sample number %(number)s is already used at %(lab)s.") % {"number": sample_number, "lab": lab}
        )
    before = inspection.status
    inspection.send_to_lab(lab=lab, sample_number=sample_number[:40], at=now)
    _save(inspection, "lab", "sample_number", "sent_to_lab_at")
    _event(
        inspection,
        "sent_to_lab",
        actor=actor,
        before=before,
        data={"lab": lab.accreditation_number, "sample": sample_number},
    )
    return inspection


@transaction.atomic
def inspection_cancel(*, inspection: Inspection, reason: str, actor) -> Inspection:
    """Stop an inspection before its result (e.g. the store closed or the listing went before purchase)."""
    if not (reason or "").strip():
        raise DomainError(_("Give a reason for cancelling the inspection."))
    inspection = _locked(inspection)
    _guard(
        inspection,
        "cancel",
        actor=actor,
        refusal=_("Inspection %(id)s is %(status)s: it can no longer be cancelled."),
    )
    before = inspection.status
    inspection.cancel(reason=reason[:300])
    _save(inspection, "cancel_reason")
    _event(inspection, "cancelled", actor=actor, before=before, reason=reason)
    return inspection


RESULT_REFUSAL = gettext_noop("Inspection %(id)s is %(status)s: no lab result is awaited.")


def _result_phase(inspection: Inspection) -> str:
    if inspection.status == InspectionStatus.RETEST_REQUESTED:
        return LabReport.Phase.RETEST
    return LabReport.Phase.FIRST


def inspection_record_fail(
    *,
    inspection: Inspection,
    defects: list[str],
    report,
    notes: str = "",
    actor,
    now: datetime | None = None,
) -> Inspection:
    """A failed lab result, first test or re-test. The report file is checked before anything is written.

    First test: the listing is removed from the platform and a `spot_check_failed` violation is recorded (its
    points and deposit deduction come from the violation type), in the same transaction, and the re-test
    window opens (the rule table's working days, in the store's time zone). Re-test: the failure becomes
    final; the violation and the fee stand."""
    checked = report_check(report)
    codes = _check_defects(defects)
    stored: list[LabReport] = []
    try:
        return _record_fail(
            inspection=inspection,
            defects=codes,
            report=checked,
            notes=notes,
            actor=actor,
            now=now,
            stored=stored,
        )
    except BaseException:
        for row in stored:  # the transaction rolled back: the file must not outlive its row
            row.file.delete(save=False)
        raise


@transaction.atomic
def _record_fail(*, inspection, defects, report, notes, actor, now, stored) -> Inspection:
    now = now or timezone.now()
    inspection = _locked(inspection)
    phase = _result_phase(inspection)
    method_name = "fail_retest" if phase == LabReport.Phase.RETEST else "fail_test"
    _guard(inspection, method_name, actor=actor, refusal=_(RESULT_REFUSAL))
    before = inspection.status
    if phase == LabReport.Phase.FIRST:
        zone = ZoneInfo(inspection.store.time_zone)
        calendar = holiday_calendar(start=now.astimezone(zone).date())
        deadline = rules.retest_deadline(
            failed_at=now,
            working_days=rule_int("retest_window_working_days"),
            zone=zone,
            holidays=calendar.holidays,
            makeup_working_days=calendar.makeup_working_days,
        )
        inspection.fail_test(at=now, defects=defects, notes=notes, retest_deadline=deadline)
        _save(inspection, "result_at", "defects", "result_notes", "retest_deadline")
    else:
        inspection.fail_retest(at=now, defects=defects, notes=notes)
        _save(inspection, "retest_result_at", "retest_defects", "retest_notes")
    stored.append(_store_report(inspection, report=report, phase=phase, actor=actor))
    _event(
        inspection,
        "failed" if phase == LabReport.Phase.FIRST else "retest_failed",
        actor=actor,
        before=before,
        reason=notes,
        data={"defects": defects, "report_sha256": report.sha256},
    )
    if phase == LabReport.Phase.FIRST:
        _apply_failure(inspection, defects=defects, actor=actor, now=now)
    return inspection


def _apply_failure(inspection: Inspection, *, defects: list[str], actor, now: datetime) -> None:
    """Remove the listing and record the violation. The inspector's own permission (record_result) was
    checked; the violation follows from the lab's result by rule, so it is recorded by the platform
    (`actor=None`, as the scheduled checks do) and names the inspection as its cause — an inspector needs no
    right to record arbitrary violations. The removal is the inspector's act and needs `remove_listing`."""
    listing = inspection.listing
    reason = gettext_noop("Failed spot check")
    detail = f"{reason}: inspection {inspection.pk}, {', '.join(defects)}"
    removal = None
    if can_proceed(listing.remove):
        listing_remove(listing=listing, actor=actor, reason=detail)
        # The listing row is locked until the commit, so this is the event listing_remove just wrote.
        removal = ListingEvent.objects.filter(listing=listing, kind="removed").order_by("-id").first()
    violation, _created = violation_record(
        store=inspection.store,
        type_code=SPOT_CHECK_VIOLATION,
        cause_kind="inspection",
        cause_id=str(inspection.pk),
        cause_label=f"{inspection.listing.sku}"[:100],
        occurred_at=now,
        reason=detail,
        actor=None,
    )
    inspection.violation = violation
    inspection.listing_removal = removal
    inspection.save(update_fields=["violation", "listing_removal"])


def inspection_record_pass(
    *, inspection: Inspection, report=None, notes: str = "", actor, now: datetime | None = None
) -> Inspection:
    """A passed lab result, first test or re-test (the report is optional for a pass but checked when given).

    A passed re-test reverses the failure through `violation_revoke` (deposit deduction, points and any ladder
    sanction it caused, exactly) and refunds the re-test fee. If the failure removed the listing (and nothing
    removed it since), the listing comes back delisted: nothing is relisted automatically, the seller relists.
    A listing that was already removed for another reason stays removed."""
    checked = report_check(report) if report else None
    stored: list[LabReport] = []
    try:
        return _record_pass(
            inspection=inspection, report=checked, notes=notes, actor=actor, now=now, stored=stored
        )
    except BaseException:
        for row in stored:
            row.file.delete(save=False)
        raise


@transaction.atomic
def _record_pass(*, inspection, report, notes, actor, now, stored) -> Inspection:
    now = now or timezone.now()
    inspection = _locked(inspection)
    phase = _result_phase(inspection)
    method_name = "pass_retest" if phase == LabReport.Phase.RETEST else "pass_test"
    _guard(inspection, method_name, actor=actor, refusal=_(RESULT_REFUSAL))
    before = inspection.status
    if phase == LabReport.Phase.FIRST:
        inspection.pass_test(at=now, notes=notes)
        _save(inspection, "result_at", "result_notes", "defects")
    else:
        inspection.pass_retest(at=now, notes=notes)
        _save(inspection, "retest_result_at", "retest_notes", "retest_defects")
    if report is not None:
        stored.append(_store_report(inspection, report=report, phase=phase, actor=actor))
    data = {"report_sha256": report.sha256} if report else {}
    if phase == LabReport.Phase.RETEST:
        data.update(_reverse_failure(inspection, now=now))
    _event(
        inspection,
        "passed" if phase == LabReport.Phase.FIRST else "retest_passed",
        actor=actor,
        before=before,
        reason=notes,
        data=data,
    )
    return inspection


def _reverse_failure(inspection: Inspection, *, now: datetime) -> dict:
    """Undo what the failure caused: the violation (through violation_revoke, by the platform, as the
    failure recorded it) and the re-test fee (the store paid for a test that proved it right)."""
    done = {}
    if inspection.violation_id:
        violation = Violation.objects.get(pk=inspection.violation_id)
        if can_proceed(violation.revoke):
            violation_revoke(
                violation=violation,
                actor=None,
                reason=gettext_noop("Spot check passed at the re-test"),
                now=now,
            )
            done["violation_revoked"] = violation.pk
    if _failure_removal_stands(inspection):
        # Back as delisted: the failure's removal is undone, the relisting is the seller's. A removal the
        # failure did not make (a reviewer's, before or since) is not the re-test's to undo.
        listing_restore(
            listing=inspection.listing, actor=None, reason=gettext_noop("Spot check passed at the re-test")
        )
        done["listing_restored"] = inspection.listing_id
    if inspection.retest_fee:
        settlement_record(
            store=inspection.store,
            kind=SettlementEntry.Kind.ADJUSTMENT,
            amount=inspection.retest_fee,
            available_at=now,
            cause_key=f"inspection:{inspection.pk}:retest-fee-refund",
            reason=gettext_noop("Re-test fee refunded: the re-test passed"),
        )
        done["fee_refunded"] = str(inspection.retest_fee)
    return done


def _failure_removal_stands(inspection: Inspection) -> bool:
    """The listing is removed, and its latest removal is the one this inspection's failure made."""
    if inspection.listing_removal_id is None:
        return False
    listing = Listing.objects.select_for_update().get(pk=inspection.listing_id)
    if listing.status != ListingStatus.REMOVED:
        return False
    latest = ListingEvent.objects.filter(listing=listing, kind="removed").order_by("-id").first()
    return latest is not None and latest.pk == inspection.listing_removal_id


@transaction.atomic
def inspection_request_retest(*, inspection: Inspection, actor, now: datetime | None = None) -> Inspection:
    """The store's owner asks for a re-test of the same sample within the window, and pays the fee.

    The fee is charged to the store's settlement account (a platform fee charge, withdrawable balance goes
    down at once, and a store without the money falls into fee arrears, which blocks withdrawals until paid),
    not to the deposit: the deposit guarantees consumers and penalties, and drawing a fee the seller chose to
    pay from it could push the store into a shortfall and its restrictions. The amount is also kept on the
    inspection, as charged. A passed re-test refunds it."""
    now = now or timezone.now()
    inspection = _locked(inspection)
    role = (
        Membership.objects.filter(user=actor, store_id=inspection.store_id)
        .values_list("role", flat=True)
        .first()
    )
    if actor is None or role is None or not role_can(role, REQUEST_RETEST):
        raise ActionForbidden(_("Only the store's owner may request a re-test."))
    if not can_proceed(inspection.request_retest):
        raise TransitionRefused(
            _("Inspection %(id)s is %(status)s: a re-test can be requested only after a failed result.")
            % {"id": inspection.pk, "status": inspection.get_status_display()}
        )
    if not rules.retest_window_open(now=now, deadline=inspection.retest_deadline):
        raise DomainError(
            _("The re-test window closed on %(when)s.")
            % {"when": timezone.localtime(inspection.retest_deadline).strftime("%Y-%m-%d %H:%M")}
        )
    fee = money(rule_decimals("spot_check_retest_fee")["spot_check_retest_fee"])
    before = inspection.status
    inspection.request_retest(at=now, by=actor, fee=fee)
    _save(inspection, "retest_requested_at", "retest_requested_by", "retest_fee")
    if fee > Decimal("0"):
        settlement_record(
            store=inspection.store,
            kind=SettlementEntry.Kind.FEE_CHARGE,
            amount=-fee,
            available_at=now,
            cause_key=f"inspection:{inspection.pk}:retest-fee",
            reason=gettext_noop("Spot-check re-test fee"),
        )
    _event(inspection, "retest_requested", actor=actor, before=before, data={"fee": str(fee)})
    return inspection


# --- The weekly round -----------------------------------------------------------------------------


def weekly_cause_key(now: datetime) -> str:
    year, week, _day = timezone.localtime(now).isocalendar()
    return f"weekly:{year}-W{week:02d}"


def sampling_weekly_round(*, now: datetime | None = None) -> SamplingRound | None:
    """The scheduled round: once per ISO week (a unique cause), so a second run in the week draws nothing."""
    now = now or timezone.now()
    cause_key = weekly_cause_key(now)
    if SamplingRound.objects.filter(cause_key=cause_key).exists():
        return None
    try:
        return sampling_round_draw(
            actor=None, trigger=SamplingRound.Trigger.SCHEDULE, cause_key=cause_key, now=now
        )
    except IntegrityError:
        # A concurrent run of the same week recorded it first.
        if SamplingRound.objects.filter(cause_key=cause_key).exists():
            return None
        raise
