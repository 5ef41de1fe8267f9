"""Writes and workflows of complaints, appeals against violations, buyer contacts and seller notifications.

Every complaint move is one service: permission, row lock, status guard, transition, `save(update_fields)`, a
ComplaintEvent, the store's notification and its e-mail queued after the commit. An upheld complaint records
its violation through `merchants.services.violation_record` (cause "complaint"), refunds the order through
`orders.services.order_refund` when the order can still be refunded, and pays any extra compensation from the
deposit, all in the same transaction. An approved appeal revokes its violation through
`merchants.services.violation_revoke` in the appeal's transaction; a rejected one puts the violation back in
force through `violation_appeal_close`.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_fsm import can_proceed, has_transition_perm

from complaints.models import (
    DECIDE_APPEAL,
    REGULATOR_SOURCES,
    Appeal,
    AppealEvent,
    AppealEvidence,
    BuyerMessage,
    CallAttempt,
    Complaint,
    ComplaintEvent,
    ComplaintEvidence,
    ComplaintKind,
    ComplaintSource,
    ComplaintStatus,
    NotAsDescribed,
    Notification,
    evidence_storage,
)
from complaints.rules import appeal_decide_by
from complaints.selectors import appeal_chance_for, appeal_rules
from complaints.uploads import (
    EVIDENCE_MAX_FILES,
    CheckedEvidence,
    EvidenceRefused,
    check_evidence,
    read_upload,
)
from merchants.errors import ActionForbidden, DomainError, TransitionRefused
from merchants.models import DepositEntry, Listing, Membership, Store, Violation, ViolationStatus
from merchants.queue import enqueue_after_commit
from merchants.roles import APPEAL_VIOLATIONS, RECORD_BUYER_CONTACTS, REPLY_COMPLAINTS, role_can
from merchants.rules import money
from merchants.selectors import holiday_calendar, rule_int
from merchants.services import (
    deposit_record,
    violation_appeal_close,
    violation_appeal_open,
    violation_record,
    violation_revoke,
)
from orders.models import Fulfilment, Order, OrderStatus
from orders.rules import promised_hours
from orders.services import order_refund

HANDLE = "complaints.handle_complaint"
DECIDE = "complaints.decide_complaint"

# The violation type an upheld complaint records, by kind. Carrier-desk complaints record none: the
# platform shipped the order.
VIOLATION_TYPE_FOR_KIND = {
    ComplaintKind.COUNTERFEIT: "counterfeit",
    ComplaintKind.NOT_AS_DESCRIBED: "not_as_described",
    ComplaintKind.FALSE_DISPATCH: "false_dispatch",
    ComplaintKind.LOGISTICS: "manual",
    ComplaintKind.CUSTOMER_SERVICE: "negative_service",
    ComplaintKind.PRODUCT_QUALITY: "manual",
    ComplaintKind.OTHER: "manual",
}


def _require_perm(actor, perm: str) -> None:
    """Reviewer actions: a person needs the permission; the engine (actor None) acts for the platform."""
    if actor is not None and not actor.has_perm(perm):
        raise ActionForbidden(
            _("You do not have the permission for this action (%(perm)s).") % {"perm": perm}
        )


def _require_store_capability(actor, store: Store, capability: str) -> None:
    """Seller actions: the actor's role on this store must allow it (the engine, actor None, passes)."""
    if actor is None:
        return
    role = Membership.objects.filter(user=actor, store=store).values_list("role", flat=True).first()
    if role is None or not role_can(role, capability):
        raise ActionForbidden(_("Your role on this store does not allow this action."))


def _reason(reason: str, *, required: bool = True) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise DomainError(_("Give a reason: it is recorded and shown to the seller."))
    return reason


def _event(complaint: Complaint, kind: str, *, actor=None, before="", reason="", data=None, at=None):
    return ComplaintEvent.objects.create(
        complaint=complaint,
        kind=kind,
        from_status=before,
        to_status=complaint.status,
        reason=reason or "",
        data=data or {},
        actor=actor,
        created_at=at or timezone.now(),
    )


def _locked(complaint: Complaint) -> Complaint:
    return (
        Complaint.objects.select_for_update(of=("self",))
        .select_related("store", "order")
        .get(pk=complaint.pk)
    )


def _refuse_transition(complaint: Complaint, what) -> None:
    raise TransitionRefused(
        _("Complaint #%(id)s is %(status)s; it cannot be %(what)s.")
        % {"id": complaint.pk, "status": complaint.get_status_display(), "what": what}
    )


# --- Notifications --------------------------------------------------------------------------------


def notification_send(
    *,
    store: Store,
    kind: str,
    text: str,
    params: dict | None = None,
    link: str = "",
    cause_key: str = "",
    now=None,
) -> Notification:
    """A dashboard notification for the store, and an e-mail to its owners queued after the commit (and
    caught up by the `notification_emails` check if the queue is down). `text` is an untranslated message
    (gettext_noop) with `%(name)s` placeholders filled from `params`. With a `cause_key` it is made once: a
    second call returns the first notification and queues nothing."""
    if cause_key:
        earlier = Notification.objects.filter(cause_key=cause_key).first()
        if earlier is not None:
            return earlier
    notification = Notification.objects.create(
        store=store,
        kind=kind,
        text=text,
        params=params or {},
        link=link,
        cause_key=cause_key,
        created_at=now or timezone.now(),
    )
    from complaints.tasks import notification_email_task

    enqueue_after_commit(notification_email_task, notification.pk)
    return notification


@transaction.atomic
def notifications_mark_read(*, store: Store, user, now=None) -> int:
    """Mark the store's unread notifications read (a member of the store only). Returns how many."""
    if not Membership.objects.filter(user=user, store=store).exists():
        raise ActionForbidden(_("Your role on this store does not allow this action."))
    return Notification.objects.filter(store=store, read_at__isnull=True).update(
        read_at=now or timezone.now()
    )


def _seller_link(complaint: Complaint) -> str:
    return reverse("complaint-detail", args=[complaint.store.code, complaint.pk])


# --- Evidence -------------------------------------------------------------------------------------


def evidence_check_uploads(uploads) -> list[CheckedEvidence]:
    """Check every uploaded file before anything is stored; the first refusal stops them all."""
    uploads = [u for u in uploads or [] if u]
    if len(uploads) > EVIDENCE_MAX_FILES:
        raise EvidenceRefused(_("Attach at most %(max)d files at a time.") % {"max": EVIDENCE_MAX_FILES})
    checked = []
    for upload in uploads:
        name, data, size = read_upload(upload)
        checked.append(check_evidence(name=name, data=data, size=size))
    return checked


def _evidence_store(
    complaint: Complaint, files: list[CheckedEvidence], *, party: str, actor, saved: list[str]
):
    from django.core.files.base import ContentFile

    for checked in files:
        # Our name: the complaint, a random token, the extension of the type found in the bytes.
        stored_name = f"complaints/{complaint.pk}/{secrets.token_hex(16)}{checked.evidence_type.extension}"
        stored_name = evidence_storage.save(stored_name, ContentFile(checked.data))
        saved.append(stored_name)
        ComplaintEvidence.objects.create(
            complaint=complaint,
            party=party,
            file=stored_name,
            original_name=checked.name,
            content_type=checked.evidence_type.content_type,
            size=checked.size,
            sha256=checked.sha256,
            uploaded_by=actor,
        )


@contextlib.contextmanager
def _files_removed_on_failure():
    """Files written inside a transaction that then fails are deleted, so a refused write leaves nothing."""
    saved: list[str] = []
    try:
        yield saved
    except BaseException:
        for name in saved:
            evidence_storage.delete(name)
        raise


# --- Complaints -----------------------------------------------------------------------------------


def complaint_open(
    *,
    store: Store,
    kind: str,
    source: str,
    statement: str,
    sub_kind: str = "",
    order: Order | None = None,
    listing: Listing | None = None,
    evidence=(),
    actor=None,
    now: datetime | None = None,
) -> Complaint:
    """Open a complaint against a store. A logistics complaint on a platform-shipped order goes to the
    platform's carrier desk: the seller is neither notified nor asked."""
    _require_perm(actor, HANDLE)
    now = now or timezone.now()
    problems = []
    if kind not in ComplaintKind.values:
        problems.append(_("Unknown complaint kind: %(kind)s.") % {"kind": kind})
    if source not in ComplaintSource.values:
        problems.append(_("Unknown complaint source: %(source)s.") % {"source": source})
    if kind == ComplaintKind.NOT_AS_DESCRIBED and sub_kind not in NotAsDescribed.values:
        problems.append(
            _("Say what was not as described: a different item, a lower-value item, or missing parts.")
        )
    if kind != ComplaintKind.NOT_AS_DESCRIBED and sub_kind:
        problems.append(_("Only a not-as-described complaint has a sub-kind."))
    if not (statement or "").strip():
        problems.append(_("Write down what the complainant says."))
    if order is not None and order.store_id != store.pk:
        problems.append(
            _("Order %(order)s is not an order of store %(store)s.") % {"order": order, "store": store.code}
        )
    if listing is not None and listing.store_id != store.pk:
        problems.append(
            _("Listing %(sku)s is not a listing of store %(store)s.")
            % {"sku": listing.sku, "store": store.code}
        )
    if problems:
        raise DomainError(*problems)
    files = evidence_check_uploads(evidence)
    with _files_removed_on_failure() as saved, transaction.atomic():
        complaint = Complaint(
            store=store,
            order=order,
            listing=listing,
            kind=kind,
            sub_kind=sub_kind if kind == ComplaintKind.NOT_AS_DESCRIBED else "",
            source=source,
            from_regulator=source in REGULATOR_SOURCES,
            buyer_statement=statement.strip(),
            carrier_desk=kind == ComplaintKind.LOGISTICS
            and order is not None
            and order.fulfilment == Fulfilment.PLATFORM,
            opened_at=now,
            opened_by=actor,
        )
        complaint.save()
        _evidence_store(complaint, files, party=ComplaintEvidence.Party.COMPLAINANT, actor=actor, saved=saved)
        _event(
            complaint,
            "opened",
            actor=actor,
            data={
                "kind": kind,
                "source": source,
                "carrier_desk": complaint.carrier_desk,
                "evidence": len(files),
            },
            at=now,
        )
        if not complaint.carrier_desk:
            notification_send(
                store=store,
                kind=Notification.Kind.COMPLAINT_OPENED,
                text=gettext_noop("New complaint #%(id)s: %(kind)s."),
                params={"id": complaint.pk, "kind": kind.replace("_", " ")},
                link=_seller_link(complaint),
                now=now,
            )
    return complaint


@transaction.atomic
def complaint_assign(*, complaint: Complaint, assignee, actor, reason: str = "", now=None) -> Complaint:
    """Give the complaint to a reviewer (who must be allowed to handle complaints)."""
    _require_perm(actor, HANDLE)
    now = now or timezone.now()
    complaint = _locked(complaint)
    if complaint.is_decided:
        _refuse_transition(complaint, _("assigned"))
    if assignee is None or not assignee.is_staff or not assignee.has_perm(HANDLE):
        raise DomainError(_("Complaints can be assigned only to reviewers who may handle them."))
    before = complaint.assigned_to_id
    complaint.assigned_to = assignee
    complaint.save(update_fields=["assigned_to"])
    _event(
        complaint,
        "assigned",
        actor=actor,
        before=complaint.status,
        reason=_reason(reason, required=False),
        data={"from": before, "to": assignee.pk},
        at=now,
    )
    return complaint


@transaction.atomic
def complaint_request_info(*, complaint: Complaint, actor, reason: str, now=None) -> Complaint:
    """Ask the seller for their side: the complaint waits for the reply until the deadline (rule table)."""
    _require_perm(actor, HANDLE)
    now = now or timezone.now()
    reason = _reason(reason)
    complaint = _locked(complaint)
    if complaint.carrier_desk:
        raise TransitionRefused(
            _(
                "Complaint #%(id)s is for the platform's carrier desk (a platform-shipped order); the seller is not asked."
            )
            % {"id": complaint.pk}
        )
    if not can_proceed(complaint.request_info):
        _refuse_transition(complaint, _("sent to the seller"))
    before = complaint.status
    complaint.request_info(due_at=now + timedelta(hours=rule_int("complaint_reply_hours")))
    complaint.save(update_fields=["status", "reply_due_at"])
    _event(
        complaint,
        "information_requested",
        actor=actor,
        before=before,
        reason=reason,
        data={"reply_due_at": complaint.reply_due_at.isoformat()},
        at=now,
    )
    notification_send(
        store=complaint.store,
        kind=Notification.Kind.INFORMATION_REQUESTED,
        text=gettext_noop("Complaint #%(id)s: the platform asks for your reply by %(due)s."),
        params={
            "id": complaint.pk,
            "due": timezone.localtime(complaint.reply_due_at).strftime("%Y-%m-%d %H:%M"),
        },
        link=_seller_link(complaint),
        now=now,
    )
    return complaint


def complaint_seller_reply(
    *, complaint: Complaint, statement: str, evidence=(), actor, now: datetime | None = None
) -> Complaint:
    """The seller's side (statement and evidence), before the deadline; the complaint goes to review.
    Owners, operators and customer service may reply."""
    now = now or timezone.now()
    _require_store_capability(actor, complaint.store, REPLY_COMPLAINTS)
    statement = (statement or "").strip()
    if not statement:
        raise DomainError(_("Write your reply: what happened and what you did about it."))
    files = evidence_check_uploads(evidence)
    with _files_removed_on_failure() as saved, transaction.atomic():
        complaint = _locked(complaint)
        if complaint.status != ComplaintStatus.AWAITING_SELLER:
            raise TransitionRefused(
                _("Complaint #%(id)s is %(status)s; the platform is not waiting for your reply.")
                % {"id": complaint.pk, "status": complaint.get_status_display()}
            )
        if complaint.reply_overdue(now):
            raise TransitionRefused(
                _("The reply was due by %(due)s; the platform decides on what it has.")
                % {"due": timezone.localtime(complaint.reply_due_at).strftime("%Y-%m-%d %H:%M")}
            )
        before = complaint.status
        complaint.seller_reply(statement=statement, at=now)
        complaint.save(update_fields=["status", "seller_statement", "seller_replied_at"])
        _evidence_store(complaint, files, party=ComplaintEvidence.Party.SELLER, actor=actor, saved=saved)
        _event(complaint, "seller_replied", actor=actor, before=before, data={"evidence": len(files)}, at=now)
    return complaint


@transaction.atomic
def complaint_start_review(*, complaint: Complaint, actor, reason: str = "", now=None) -> Complaint:
    """Review without (further) waiting for the seller: an open complaint that needs no seller reply (the
    carrier desk's, clear evidence), or one whose reply deadline has passed."""
    _require_perm(actor, HANDLE)
    now = now or timezone.now()
    complaint = _locked(complaint)
    if complaint.status == ComplaintStatus.AWAITING_SELLER and not complaint.reply_overdue(now):
        raise TransitionRefused(
            _("The seller has until %(due)s to reply; review starts with the reply or after the deadline.")
            % {"due": timezone.localtime(complaint.reply_due_at).strftime("%Y-%m-%d %H:%M")}
        )
    if not can_proceed(complaint.start_review):
        _refuse_transition(complaint, _("put under review"))
    before = complaint.status
    complaint.start_review()
    complaint.save(update_fields=["status"])
    _event(
        complaint,
        "review_started",
        actor=actor,
        before=before,
        reason=_reason(reason, required=False),
        at=now,
    )
    return complaint


REFUNDED_FROM_DEPOSIT = "refunded_from_deposit"  # `not_refunded` of an order whose buyer was refunded already


def _refunded_from_deposit(order: Order, *, besides: Complaint) -> bool:
    """Another upheld complaint about this completed order refunded its buyer from the deposit, and that
    refund stands (its violation was not revoked, which gives the money back)."""
    return (
        Complaint.objects.filter(order=order, deposit_refund__isnull=False)
        .exclude(pk=besides.pk)
        .filter(Q(violation__isnull=True) | ~Q(violation__status=ViolationStatus.REVOKED))
        .exists()
    )


@transaction.atomic
def complaint_uphold(
    *,
    complaint: Complaint,
    actor,
    reason: str,
    violation_type: str | None = None,
    refund: bool = True,
    compensation: Decimal | None = None,
    refer_to_authorities: bool = False,
    now: datetime | None = None,
) -> Complaint:
    """Decide for the complainant: the violation (once per complaint, through violation_record, with its
    points, deduction and the rule table's compensation — for a not-as-described complaint the
    fraudulent-dispatch one), the buyer's refund, an extra compensation from the deposit if given, and for
    counterfeit goods a referral to the authorities.

    The refund: a shipped or delivered order is refunded (`order_refund`); a completed one can no longer be
    (DESIGN: shipped/delivered → refunded), so the amount paid goes to the buyer from the deposit as consumer
    compensation (`deposit_refund`); an order not shipped yet, or already closed, is not refunded, and the
    event says why. Every deposit entry here is booked under the violation's cause key
    (`violation:<id>:…`), so a won appeal's `violation_revoke` gives all of it back, exactly."""
    _require_perm(actor, DECIDE)
    now = now or timezone.now()
    reason = _reason(reason)
    complaint = _locked(complaint)
    if not can_proceed(complaint.uphold):
        _refuse_transition(complaint, _("upheld"))
    if refer_to_authorities and complaint.kind != ComplaintKind.COUNTERFEIT:
        raise DomainError(_("Only a counterfeit complaint can be referred to the authorities."))
    if compensation is not None:
        try:
            compensation = money(compensation)
        except (InvalidOperation, TypeError) as exc:
            raise DomainError(_("The compensation must be a number of yuan, like 50.00.")) from exc
        if compensation <= 0:
            compensation = None
    if complaint.carrier_desk and compensation:
        raise DomainError(
            _(
                "A carrier-desk complaint is the platform's: no compensation is taken from the seller's deposit."
            )
        )
    before = complaint.status
    store, order = complaint.store, complaint.order
    type_code = (
        None if complaint.carrier_desk else (violation_type or VIOLATION_TYPE_FOR_KIND[complaint.kind])
    )
    violation, created = None, False
    if type_code:
        violation, created = violation_record(
            store=store,
            type_code=type_code,
            cause_kind="complaint",
            cause_id=str(complaint.pk),
            cause_label=f"#{complaint.pk} {complaint.kind}"[:100],
            occurred_at=complaint.opened_at,
            amount_paid=order.amount_paid if order is not None else None,
            promised_hours=promised_hours(paid_at=order.paid_at, deadline=order.dispatch_deadline)
            if order is not None
            else None,
            reason=reason,
            actor=actor,
            now=now,  # recorded at the decision: the appeal window runs from here
        )
    # What the decision takes from the deposit is part of what the violation caused: booked under its key.
    money_key = f"violation:{violation.pk}" if violation is not None else f"complaint:{complaint.pk}"
    refunded, deposit_refund, not_refunded = False, None, ""
    if refund and order is not None:
        if can_proceed(order.refund):
            order_refund(
                order=order,
                actor=actor,
                reason=_("Complaint #%(id)s upheld: %(reason)s") % {"id": complaint.pk, "reason": reason},
                now=now,
            )
            refunded = True
        elif order.status == OrderStatus.COMPLETED and _refunded_from_deposit(order, besides=complaint):
            not_refunded = REFUNDED_FROM_DEPOSIT  # one buyer, one refund: another upheld complaint paid it
        elif order.status == OrderStatus.COMPLETED and not complaint.carrier_desk and order.amount_paid > 0:
            # The reviewer's decision is the authority here; the ledger entry is the platform's.
            deposit_refund = money(order.amount_paid)
            deposit_record(
                store=store,
                kind=DepositEntry.Kind.COMPENSATION,
                amount=deposit_refund,
                reason=gettext_noop("Buyer's refund of a completed order, for an upheld complaint"),
                reference=f"complaint #{complaint.pk}",
                cause_key=f"{money_key}:complaint-refund",
                actor=None,
                now=now,
            )
        else:
            not_refunded = order.status
    if compensation:
        # The reviewer's decision is the authority here (checked above); the ledger entry is the platform's.
        deposit_record(
            store=store,
            kind=DepositEntry.Kind.COMPENSATION,
            amount=compensation,
            reason=gettext_noop("Consumer compensation for an upheld complaint"),
            reference=f"complaint #{complaint.pk}",
            cause_key=f"{money_key}:complaint-compensation",
            actor=None,
            now=now,
        )
    complaint.uphold(at=now, by=actor, reason=reason)
    complaint.violation = violation
    complaint.order_refunded = refunded
    complaint.deposit_refund = deposit_refund
    complaint.compensation = compensation
    complaint.referred_to_authorities = refer_to_authorities
    complaint.save(
        update_fields=[
            "status",
            "decided_at",
            "decided_by",
            "decision_reason",
            "violation",
            "order_refunded",
            "deposit_refund",
            "compensation",
            "referred_to_authorities",
        ]
    )
    _event(
        complaint,
        "upheld",
        actor=actor,
        before=before,
        reason=reason,
        data={
            "violation": violation.pk if violation else None,
            "violation_type": type_code,
            "violation_created": created,
            "refunded": refunded,
            "deposit_refund": str(deposit_refund) if deposit_refund else None,
            "not_refunded": not_refunded
            or None,  # the order's status when a refund was asked but not possible
            "compensation": str(compensation) if compensation else None,
            "referred_to_authorities": refer_to_authorities,
        },
        at=now,
    )
    if not complaint.carrier_desk:
        notification_send(
            store=store,
            kind=Notification.Kind.COMPLAINT_DECIDED,
            text=gettext_noop("Complaint #%(id)s was upheld: %(reason)s"),
            params={"id": complaint.pk, "reason": reason[:200]},
            link=_seller_link(complaint),
            now=now,
        )
    return complaint


@transaction.atomic
def complaint_dismiss(*, complaint: Complaint, actor, reason: str, now: datetime | None = None) -> Complaint:
    """Decide for the seller: nothing is recorded against the store."""
    _require_perm(actor, DECIDE)
    now = now or timezone.now()
    reason = _reason(reason)
    complaint = _locked(complaint)
    if not can_proceed(complaint.dismiss):
        _refuse_transition(complaint, _("dismissed"))
    before = complaint.status
    complaint.dismiss(at=now, by=actor, reason=reason)
    complaint.save(update_fields=["status", "decided_at", "decided_by", "decision_reason"])
    _event(complaint, "dismissed", actor=actor, before=before, reason=reason, at=now)
    if not complaint.carrier_desk:
        notification_send(
            store=complaint.store,
            kind=Notification.Kind.COMPLAINT_DECIDED,
            text=gettext_noop("Complaint #%(id)s was dismissed: %(reason)s"),
            params={"id": complaint.pk, "reason": reason[:200]},
            link=_seller_link(complaint),
            now=now,
        )
    return complaint


# --- Buyer contacts -------------------------------------------------------------------------------


def _contact_order(order: Order, actor) -> None:
    _require_store_capability(actor, order.store, RECORD_BUYER_CONTACTS)


def buyer_message_record(
    *,
    order: Order,
    sent_at: datetime,
    answered_at: datetime | None = None,
    answered_by_human: bool = False,
    source: str = BuyerMessage.Source.FORM,
    actor=None,
    now: datetime | None = None,
) -> tuple[BuyerMessage, bool]:
    """Record a buyer message once (order and time); returns (message, created)."""
    now = now or timezone.now()
    _contact_order(order, actor)
    problems = _contact_time_problems(sent_at, now=now, field=_("sent"))
    if answered_at is not None and answered_at < sent_at:
        problems.append(_("The answer cannot come before the message."))
    if answered_at is not None and answered_at > now + CLOCK_TOLERANCE:
        problems.append(_("The answer time is in the future."))
    if answered_by_human and answered_at is None:
        problems.append(_("Give the time a person answered, or untick “answered by a person”."))
    if problems:
        raise DomainError(*problems)
    try:
        with transaction.atomic():
            message = BuyerMessage.objects.create(
                store_id=order.store_id,
                order=order,
                sent_at=sent_at,
                answered_at=answered_at,
                answered_by_human=answered_by_human and answered_at is not None,
                source=source,
                recorded_by=actor,
            )
    except IntegrityError:
        return BuyerMessage.objects.get(order=order, sent_at=sent_at), False
    return message, True


CLOCK_TOLERANCE = timedelta(minutes=5)


def _contact_time_problems(value: datetime | None, *, now: datetime, field) -> list[str]:
    if value is None:
        return [_("The %(field)s time is missing.") % {"field": field}]
    if timezone.is_naive(value):
        return [_("The %(field)s time needs a time zone.") % {"field": field}]
    if value > now + CLOCK_TOLERANCE:
        return [_("The %(field)s time is in the future.") % {"field": field}]
    return []


def call_attempt_record(
    *,
    order: Order,
    called_at: datetime,
    connected: bool,
    source: str = CallAttempt.Source.FORM,
    external_id: str | None = None,
    actor=None,
    now: datetime | None = None,
) -> tuple[CallAttempt, bool]:
    """Record a call attempt once (per order and time, and per call-system id); returns (call, created)."""
    now = now or timezone.now()
    _contact_order(order, actor)
    problems = _contact_time_problems(called_at, now=now, field=_("call"))
    if problems:
        raise DomainError(*problems)
    try:
        with transaction.atomic():
            call = CallAttempt.objects.create(
                store_id=order.store_id,
                order=order,
                called_at=called_at,
                connected=connected,
                source=source,
                external_id=external_id or None,
                recorded_by=actor,
            )
    except IntegrityError:
        existing = CallAttempt.objects.filter(order=order, called_at=called_at).first()
        if existing is None and external_id:
            existing = CallAttempt.objects.filter(external_id=external_id).first()
        if existing is None:
            raise
        return existing, False
    return call, True


# --- Buyer contacts: CSV/XLSX import --------------------------------------------------------------

CONTACT_COLUMNS_REQUIRED = ["order_no", "type", "at"]
CONTACT_COLUMNS_OPTIONAL = ["connected", "answered_at", "answered_by"]
CONTACT_UPLOAD_MAX_BYTES = 5 * 1024 * 1024
TRUE_WORDS = {"1", "yes", "y", "true", "connected", "是", "接通"}
FALSE_WORDS = {"0", "no", "n", "false", "missed", "not connected", "否", "未接通"}


@dataclass
class ContactImportResult:
    messages: int = 0
    calls: int = 0
    duplicates: int = 0
    errors: list = None  # RowError

    def __post_init__(self):
        self.errors = self.errors or []


def contacts_import(*, store: Store, data: bytes, actor, now: datetime | None = None) -> ContactImportResult:
    """Buyer messages and calls from a CSV/XLSX with the columns order_no, type (call or message), at, and
    connected (calls) or answered_at and answered_by (human/bot; messages). Times without an offset are the
    store's local time. All or nothing: any row error stores nothing and lists `row N: column: message`."""
    from zoneinfo import ZoneInfo

    from merchants.spreadsheets import RowError, read_table
    from orders.bulk import scan_time

    _require_store_capability(actor, store, RECORD_BUYER_CONTACTS)
    now = now or timezone.now()
    rows = read_table(
        data,
        required=CONTACT_COLUMNS_REQUIRED,
        optional=CONTACT_COLUMNS_OPTIONAL,
        max_bytes=CONTACT_UPLOAD_MAX_BYTES,
    )
    zone = ZoneInfo(store.time_zone)
    orders = {
        o.order_no: o
        for o in Order.objects.filter(
            store=store, order_no__in={row.values.get("order_no", "") for row in rows}
        ).select_related("store")
    }
    result = ContactImportResult()
    parsed = []
    for row in rows:
        values = row.values
        errors = []
        order = orders.get(values.get("order_no", ""))
        if order is None:
            errors.append(
                RowError(
                    row.line,
                    "order_no",
                    _("no order %(no)s in this store") % {"no": values.get("order_no", "")},
                )
            )
        kind = values.get("type", "").strip().lower()
        if kind not in ("call", "message"):
            errors.append(RowError(row.line, "type", _("must be call or message")))
        at = scan_time(values.get("at", ""), default_zone=zone)
        if at is None:
            errors.append(RowError(row.line, "at", _("not a time: use YYYY-MM-DD HH:MM")))
        elif at > now + CLOCK_TOLERANCE:
            errors.append(RowError(row.line, "at", _("is in the future")))
        item = None
        if kind == "call":
            word = values.get("connected", "").strip().lower()
            if word in TRUE_WORDS:
                item = ("call", order, at, True)
            elif word in FALSE_WORDS:
                item = ("call", order, at, False)
            else:
                errors.append(RowError(row.line, "connected", _("must be yes or no")))
        elif kind == "message":
            answered_text = values.get("answered_at", "").strip()
            answered_at = scan_time(answered_text, default_zone=zone) if answered_text else None
            if answered_text and answered_at is None:
                errors.append(RowError(row.line, "answered_at", _("not a time: use YYYY-MM-DD HH:MM")))
            elif answered_at is not None and at is not None and answered_at < at:
                errors.append(RowError(row.line, "answered_at", _("is before the message")))
            by = values.get("answered_by", "").strip().lower()
            if by not in ("", "human", "bot"):
                errors.append(RowError(row.line, "answered_by", _("must be human or bot")))
            elif by == "human" and answered_at is None:
                errors.append(RowError(row.line, "answered_by", _("a person's answer needs answered_at")))
            item = ("message", order, at, (answered_at, by == "human"))
        if errors:
            result.errors.extend(errors)
        else:
            parsed.append(item)
    if result.errors:
        return result
    with transaction.atomic():
        for kind, order, at, extra in parsed:
            if kind == "call":
                _call, created = call_attempt_record(
                    order=order,
                    called_at=at,
                    connected=extra,
                    source=CallAttempt.Source.CSV,
                    actor=actor,
                    now=now,
                )
                result.calls += int(created)
            else:
                answered_at, human = extra
                _message, created = buyer_message_record(
                    order=order,
                    sent_at=at,
                    answered_at=answered_at,
                    answered_by_human=human,
                    source=BuyerMessage.Source.CSV,
                    actor=actor,
                    now=now,
                )
                result.messages += int(created)
            result.duplicates += int(not created)
    return result


# --- Appeals against violations (RULES §10) -------------------------------------------------------


def _appeal_event(appeal: Appeal, kind: str, *, actor, before: str, reason: str = "", data=None, at):
    return AppealEvent.objects.create(
        appeal=appeal,
        kind=kind,
        from_status=before,
        to_status=appeal.status,
        reason=reason or "",
        data=data or {},
        actor=actor,
        created_at=at,
    )


def _appeal_link(appeal: Appeal) -> str:
    return reverse("appeal-detail", args=[appeal.store.code, appeal.pk])


def _appeal_evidence_store(appeal: Appeal, files: list[CheckedEvidence], *, actor, saved: list[str]) -> None:
    from django.core.files.base import ContentFile

    for checked in files:
        # Our name: the appeal, a random token, the extension of the type found in the bytes.
        stored_name = f"appeals/{appeal.pk}/{secrets.token_hex(16)}{checked.evidence_type.extension}"
        stored_name = evidence_storage.save(stored_name, ContentFile(checked.data))
        saved.append(stored_name)
        AppealEvidence.objects.create(
            appeal=appeal,
            file=stored_name,
            original_name=checked.name,
            content_type=checked.evidence_type.content_type,
            size=checked.size,
            sha256=checked.sha256,
            uploaded_by=actor,
        )


def _require_owner(actor, store: Store) -> None:
    """Appeals are the owner's (RULES §10): operators and customer service may not file them."""
    role = (
        Membership.objects.filter(user=actor, store=store).values_list("role", flat=True).first()
        if actor is not None
        else None
    )
    if role is None or not role_can(role, APPEAL_VIOLATIONS):
        raise ActionForbidden(_("Only the store's owner may appeal against a violation."))


def appeal_submit(
    *, violation: Violation, actor, statement: str, files=(), now: datetime | None = None
) -> Appeal:
    """The owner appeals against a violation with a statement and evidence: the first appeal within the
    window after the violation, a second (final) one within the window after the first was rejected, never
    while another is open, never against a revoked violation. The violation shows as under appeal; its
    penalties stay in force. Files are checked before anything is written; a refusal stores nothing."""
    now = now or timezone.now()
    _require_owner(actor, violation.store)
    statement = (statement or "").strip()
    if not statement:
        raise DomainError(_("Write your statement: why the violation should be revoked."))
    checked = evidence_check_uploads(files)
    if not checked:
        raise EvidenceRefused(
            _(
                "Attach at least one piece of evidence (photos, video, listing screenshots, waybills, invoices)."
            )
        )
    with _files_removed_on_failure() as saved, transaction.atomic():
        violation = Violation.objects.select_for_update().select_related("store").get(pk=violation.pk)
        rules = appeal_rules()
        chance = appeal_chance_for(violation=violation, now=now, rules=rules)
        if not chance.allowed:
            raise TransitionRefused(chance.refusal)
        zone = ZoneInfo(violation.store.time_zone)
        calendar = holiday_calendar(start=now.astimezone(zone).date())
        appeal = Appeal(
            violation=violation,
            store=violation.store,
            number=chance.number,
            statement=statement,
            submitted_at=now,
            submitted_by=actor,
            decide_by=appeal_decide_by(
                submitted_at=now,
                working_days=rules.decision_working_days,
                zone=zone,
                holidays=calendar.holidays,
                makeup_working_days=calendar.makeup_working_days,
            ),
        )
        appeal.full_clean(exclude=["status"])  # protected: set only by its default and transitions
        appeal.save()
        _appeal_evidence_store(appeal, checked, actor=actor, saved=saved)
        violation_appeal_open(
            violation=violation,
            actor=actor,
            reason=_("Appeal %(number)d filed") % {"number": appeal.number},
        )
        _appeal_event(
            appeal,
            "submitted",
            actor=actor,
            before="",
            data={"number": appeal.number, "violation": violation.pk, "evidence": len(checked)},
            at=now,
        )
    return appeal


def _locked_appeal(appeal: Appeal) -> tuple[Appeal, Violation]:
    """The violation first, then the appeal: the order every appeal write takes (and violation_revoke)."""
    violation = Violation.objects.select_for_update().get(pk=appeal.violation_id)
    appeal = (
        Appeal.objects.select_for_update(of=("self",)).select_related("store", "violation").get(pk=appeal.pk)
    )
    return appeal, violation


def _appeal_guard(appeal: Appeal, method_name: str, *, actor, what) -> None:
    method = getattr(appeal, method_name)
    if not can_proceed(method):
        raise TransitionRefused(
            _("Appeal #%(id)s is %(status)s; it cannot be %(what)s.")
            % {"id": appeal.pk, "status": appeal.get_status_display(), "what": what}
        )
    if actor is not None and not has_transition_perm(method, actor):
        raise ActionForbidden(
            _("You do not have the permission for this action (%(perm)s).") % {"perm": DECIDE_APPEAL}
        )


@transaction.atomic
def appeal_review_start(*, appeal: Appeal, actor, reason: str = "", now: datetime | None = None) -> Appeal:
    """A reviewer takes the appeal: submitted → under review."""
    _require_perm(actor, DECIDE_APPEAL)
    now = now or timezone.now()
    appeal, _violation = _locked_appeal(appeal)
    _appeal_guard(appeal, "start_review", actor=actor, what=_("put under review"))
    before = appeal.status
    appeal.start_review(at=now, by=actor)
    appeal.save(update_fields=["status", "review_started_at", "reviewer"])
    _appeal_event(
        appeal, "review_started", actor=actor, before=before, reason=_reason(reason, required=False), at=now
    )
    return appeal


@transaction.atomic
def appeal_approve(*, appeal: Appeal, actor, reason: str, now: datetime | None = None) -> Appeal:
    """Decide for the store: the violation is revoked through `violation_revoke` — its points, deposit
    deductions and compensation, frozen proceeds and the restrictions it brought all come back — in the same
    transaction as the appeal's decision."""
    _require_perm(actor, DECIDE_APPEAL)
    now = now or timezone.now()
    reason = _reason(reason)
    appeal, violation = _locked_appeal(appeal)
    _appeal_guard(appeal, "approve", actor=actor, what=_("approved"))
    before = appeal.status
    # A reviewer may have revoked the violation directly meanwhile: its penalties are already back.
    if violation.status != ViolationStatus.REVOKED:
        violation_revoke(
            violation=violation,
            actor=actor,
            reason=_("Appeal %(number)d approved: %(reason)s") % {"number": appeal.number, "reason": reason},
            now=now,
        )
    appeal.approve(at=now, by=actor, reason=reason)
    appeal.save(update_fields=["status", "decided_at", "decided_by", "decision_reason"])
    _appeal_event(
        appeal,
        "approved",
        actor=actor,
        before=before,
        reason=reason,
        data={"violation": violation.pk},
        at=now,
    )
    notification_send(
        store=appeal.store,
        kind=Notification.Kind.APPEAL_DECIDED,
        text=gettext_noop(
            "Appeal #%(id)s was approved: the violation is revoked and its penalties returned."
        ),
        params={"id": appeal.pk},
        link=_appeal_link(appeal),
        now=now,
    )
    return appeal


@transaction.atomic
def appeal_reject(*, appeal: Appeal, actor, reason: str, now: datetime | None = None) -> Appeal:
    """Decide against the store: the violation is in force again and every penalty stays where it is. After
    a first rejection the store may appeal once more within the rule table's window; the second is final."""
    _require_perm(actor, DECIDE_APPEAL)
    now = now or timezone.now()
    reason = _reason(reason)
    appeal, violation = _locked_appeal(appeal)
    _appeal_guard(appeal, "reject", actor=actor, what=_("rejected"))
    if violation.status == ViolationStatus.REVOKED:
        raise TransitionRefused(_("The violation was revoked meanwhile; approve the appeal to close it."))
    before = appeal.status
    violation_appeal_close(
        violation=violation,
        actor=actor,
        reason=_("Appeal %(number)d rejected: %(reason)s") % {"number": appeal.number, "reason": reason},
    )
    appeal.reject(at=now, by=actor, reason=reason)
    appeal.save(update_fields=["status", "decided_at", "decided_by", "decision_reason"])
    rules = appeal_rules()
    final = appeal.number >= rules.max_appeals
    _appeal_event(
        appeal,
        "rejected",
        actor=actor,
        before=before,
        reason=reason,
        data={"violation": violation.pk, "final": final},
        at=now,
    )
    if final:
        text = gettext_noop("Appeal #%(id)s was rejected; this decision is final: %(reason)s")
        params = {"id": appeal.pk, "reason": reason[:200]}
    else:
        text = gettext_noop("Appeal #%(id)s was rejected: %(reason)s. You may appeal once more by %(until)s.")
        until = now + timedelta(days=rules.second_window_days)
        params = {
            "id": appeal.pk,
            "reason": reason[:200],
            "until": until.astimezone(ZoneInfo(appeal.store.time_zone)).strftime("%Y-%m-%d %H:%M"),
        }
    notification_send(
        store=appeal.store,
        kind=Notification.Kind.APPEAL_DECIDED,
        text=text,
        params=params,
        link=_appeal_link(appeal),
        now=now,
    )
    return appeal
