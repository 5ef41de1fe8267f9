"""Reads of complaints, appeals, buyer contacts and notifications. Seller reads take a store the acting user is a
member of (resolved by `merchants.selectors.membership_for_store`) or the user themselves."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import DateTimeField, Exists, ExpressionWrapper, F, OuterRef, QuerySet, Value
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from complaints.models import (
    DECIDED_STATUSES,
    Appeal,
    AppealEvent,
    AppealEvidence,
    AppealStatus,
    BuyerMessage,
    CallAttempt,
    Complaint,
    ComplaintEvidence,
    ComplaintKind,
    ComplaintStatus,
    Notification,
)
from complaints.rules import (
    AppealChance,
    AppealRules,
    MessageTiming,
    PastAppeal,
    ServiceFigures,
    ServiceRules,
    appeal_chance,
    service_figures,
)
from merchants.models import Store, Violation, ViolationStatus
from merchants.selectors import rule_decimals

# --- Seller complaints ----------------------------------------------------------------------------


def complaints_for_store(
    *, store: Store, status: str | None = None, kind: str | None = None, dispatched_on: date | None = None
) -> QuerySet[Complaint]:
    """The store's complaints — never the carrier desk's — those waiting for the seller first, by deadline.
    `dispatched_on`: about orders dispatched that day in the store's time zone (a fraudulent-dispatch day)."""
    qs = (
        Complaint.objects.filter(store=store, carrier_desk=False)
        .select_related("order", "listing")
        .order_by(F("reply_due_at").asc(nulls_last=True), "-opened_at", "-id")
    )
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    if dispatched_on:
        start = datetime.combine(dispatched_on, time(0), tzinfo=ZoneInfo(store.time_zone))
        qs = qs.filter(order__dispatched_at__gte=start, order__dispatched_at__lt=start + timedelta(days=1))
    return qs


def complaint_for_store(*, store: Store, complaint_id: int) -> Complaint:
    complaint = (
        Complaint.objects.filter(store=store, carrier_desk=False, pk=complaint_id)
        .select_related("order", "listing", "violation__violation_type")
        .first()
    )
    if complaint is None:
        raise Http404(_("No such complaint."))
    return complaint


def complaint_evidence(*, complaint: Complaint) -> QuerySet[ComplaintEvidence]:
    return ComplaintEvidence.objects.filter(complaint=complaint).order_by("created_at", "id")


def complaint_evidence_for_store(*, store: Store, complaint_id: int, evidence_id: int) -> ComplaintEvidence:
    evidence = (
        ComplaintEvidence.objects.filter(
            pk=evidence_id,
            complaint_id=complaint_id,
            complaint__store=store,
            complaint__carrier_desk=False,
        )
        .select_related("complaint")
        .first()
    )
    if evidence is None:
        raise Http404(_("No such file."))
    return evidence


def complaint_timeline(*, complaint: Complaint):
    """What the seller sees of the complaint's history (reviewer assignments are internal)."""
    return complaint.events.exclude(kind="assigned").order_by("created_at", "id")


def complaints_awaiting_reply_count(*, store: Store) -> int:
    return Complaint.objects.filter(
        store=store, status=ComplaintStatus.AWAITING_SELLER, carrier_desk=False
    ).count()


# --- Reviewer queue -------------------------------------------------------------------------------


def complaint_queue(*, now: datetime | None = None) -> QuerySet[Complaint]:
    """Undecided complaints: regulator complaints first, then by the seller's reply deadline, oldest first."""
    return (
        Complaint.objects.exclude(status__in=DECIDED_STATUSES)
        .select_related("store", "order", "assigned_to")
        .order_by("-from_regulator", F("reply_due_at").asc(nulls_last=True), "opened_at", "id")
    )


# --- Notifications --------------------------------------------------------------------------------


def notifications_for(user, store: Store, *, limit: int = 10) -> list[Notification]:
    """The store's latest notifications, unread first, for a member of the store; [] for anyone else.
    One query."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(
        Notification.objects.filter(store=store, store__memberships__user=user).order_by(
            F("read_at").asc(nulls_first=True), "-created_at", "-id"
        )[:limit]
    )


def notifications_unread_count(user, store: Store) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(
        store=store, store__memberships__user=user, read_at__isnull=True
    ).count()


# --- Buyer contacts and customer-service timeliness -----------------------------------------------


def buyer_messages_for_order(*, order) -> QuerySet[BuyerMessage]:
    return BuyerMessage.objects.filter(order=order).order_by("-sent_at", "-id")


def call_attempts_for_order(*, order) -> QuerySet[CallAttempt]:
    return CallAttempt.objects.filter(order=order).order_by("-called_at", "-id")


def service_rules() -> ServiceRules:
    params = rule_decimals(
        "reply_target_seconds",
        "unanswered_counts_as_seconds",
        "avg_response_limit_seconds",
        "service_hours_start",
        "service_hours_end",
    )
    return ServiceRules(
        reply_target_seconds=int(params["reply_target_seconds"]),
        unanswered_counts_as_seconds=int(params["unanswered_counts_as_seconds"]),
        avg_response_limit_seconds=int(params["avg_response_limit_seconds"]),
        session_start_hour=int(params["service_hours_start"]),
        session_end_hour=int(params["service_hours_end"]),
    )


def service_figures_for_store(*, store: Store, days: int = 30, now: datetime | None = None) -> ServiceFigures:
    """The 3-minute reply rate and the average human response time of the store's buyer messages sent in
    the last `days` days (RULES §6). Two queries."""
    now = now or timezone.now()
    rows = BuyerMessage.objects.filter(
        store=store, sent_at__gte=now - timedelta(days=days), sent_at__lte=now
    ).values_list("sent_at", "answered_at", "answered_by_human")
    return service_figures(
        (MessageTiming(sent_at=s, answered_at=a, answered_by_human=h) for s, a, h in rows.iterator()),
        zone=ZoneInfo(store.time_zone),
        now=now,
        rules=service_rules(),
    )


# --- Appeals --------------------------------------------------------------------------------------


def appeal_rules() -> AppealRules:
    """The appeal numbers of the rule table (RULES §10), in one query."""
    params = rule_decimals(
        "appeal_window_days",
        "second_appeal_window_days",
        "max_appeals_per_violation",
        "appeal_decision_working_days",
    )
    return AppealRules(
        window_days=int(params["appeal_window_days"]),
        second_window_days=int(params["second_appeal_window_days"]),
        max_appeals=int(params["max_appeals_per_violation"]),
        decision_working_days=int(params["appeal_decision_working_days"]),
    )


def appeal_chance_for(
    *, violation: Violation, now: datetime | None = None, rules: AppealRules | None = None
) -> AppealChance:
    """Whether the violation's store may appeal against it now (and which appeal it would be)."""
    past = [
        PastAppeal(number=number, status=status, decided_at=decided_at)
        for number, status, decided_at in Appeal.objects.filter(violation=violation).values_list(
            "number", "status", "decided_at"
        )
    ]
    return appeal_chance(
        violation_status=violation.status,
        recorded_at=violation.created_at,
        appeals=past,
        now=now or timezone.now(),
        rules=rules or appeal_rules(),
        zone=ZoneInfo(violation.store.time_zone),
    )


def first_appeal_windows(*, now: datetime, rules: AppealRules) -> QuerySet[Violation]:
    """Active violations never appealed whose first window is open at `now`, with `window_closes_at`:
    `appeal_window_days` after the violation was recorded (as `appeal_chance` counts). On the partial index
    of active violations by their recorded time."""
    window = timedelta(days=rules.window_days)
    return (
        Violation.objects.filter(
            status=ViolationStatus.ACTIVE, created_at__gt=now - window, created_at__lte=now
        )
        .exclude(Exists(Appeal.objects.filter(violation=OuterRef("pk"))))
        .annotate(
            window_closes_at=ExpressionWrapper(F("created_at") + Value(window), output_field=DateTimeField())
        )
    )


def second_appeal_windows(*, now: datetime, rules: AppealRules) -> QuerySet[Appeal]:
    """Rejected appeals after which one more is allowed and still open at `now` — the violation's last appeal,
    under the cap, rejected less than `second_appeal_window_days` ago, the violation in force — with
    `window_closes_at`. On the partial index of rejected appeals by their decision time."""
    window = timedelta(days=rules.second_window_days)
    return (
        Appeal.objects.filter(
            status=AppealStatus.REJECTED,
            number__lt=rules.max_appeals,
            decided_at__gt=now - window,
            decided_at__lte=now,
            violation__status=ViolationStatus.ACTIVE,
        )
        .exclude(
            Exists(Appeal.objects.filter(violation=OuterRef("violation"), number__gt=OuterRef("number")))
        )
        .annotate(
            window_closes_at=ExpressionWrapper(F("decided_at") + Value(window), output_field=DateTimeField())
        )
    )


def appeal_windows_closing_at(violation_ids: list[int], now: datetime) -> dict[int, datetime]:
    """Violation id → when its open appeal window closes (the first, or the second after a rejection), for
    the violations page: the rules and one query per window."""
    if not violation_ids:
        return {}
    rules = appeal_rules()
    first = first_appeal_windows(now=now, rules=rules).filter(pk__in=violation_ids)
    second = second_appeal_windows(now=now, rules=rules).filter(violation_id__in=violation_ids)
    return {
        **dict(first.values_list("pk", "window_closes_at")),
        **dict(second.values_list("violation_id", "window_closes_at")),
    }


def violation_for_appeal(*, store: Store, violation_id: int) -> Violation:
    """One of the store's violations, or 404 (another store's violation does not exist for this one)."""
    violation = (
        Violation.objects.filter(store=store, pk=violation_id)
        .select_related("store", "violation_type")
        .first()
    )
    if violation is None:
        raise Http404(_("No such violation."))
    return violation


def appeals_for_store(*, store: Store, status: str | None = None) -> QuerySet[Appeal]:
    """The store's appeals, newest first, with their violations: a fixed number of queries per page."""
    qs = (
        Appeal.objects.filter(store=store)
        .select_related("violation__violation_type")
        .order_by("-submitted_at", "-id")
    )
    if status:
        qs = qs.filter(status=status)
    return qs


def appeal_for_store(*, store: Store, appeal_id: int) -> Appeal:
    appeal = (
        Appeal.objects.filter(store=store, pk=appeal_id)
        .select_related("store", "violation__violation_type", "violation__store")
        .first()
    )
    if appeal is None:
        raise Http404(_("No such appeal."))
    return appeal


def appeal_evidence(*, appeal: Appeal) -> QuerySet[AppealEvidence]:
    return AppealEvidence.objects.filter(appeal=appeal).order_by("created_at", "id")


def appeal_evidence_for_store(*, store: Store, appeal_id: int, evidence_id: int) -> AppealEvidence:
    evidence = (
        AppealEvidence.objects.filter(pk=evidence_id, appeal_id=appeal_id, appeal__store=store)
        .select_related("appeal")
        .first()
    )
    if evidence is None:
        raise Http404(_("No such file."))
    return evidence


def appeal_timeline(*, appeal: Appeal) -> QuerySet[AppealEvent]:
    return appeal.events.order_by("created_at", "id")


# --- Violation causes (registered with merchants.causes in ComplaintsConfig.ready) ----------------------
# Each resolver reads only the store's own rows: a cause id of another store gets no link.


def _ids(cause_ids: list[str]) -> list[int]:
    return [int(cause_id) for cause_id in cause_ids if cause_id.isdigit()]


def complaint_cause_links(store_code: str, cause_ids: list[str]) -> dict[str, str]:
    """An upheld complaint's violation links to the complaint (cause id: the complaint's id)."""
    found = Complaint.objects.filter(
        pk__in=_ids(cause_ids), store__code=store_code, carrier_desk=False
    ).values_list("pk", flat=True)
    return {str(pk): reverse("complaint-detail", args=[store_code, pk]) for pk in found}


def contact_cause_links(store_code: str, cause_ids: list[str]) -> dict[str, str]:
    """A lost-contact violation links to the order's contacts, where the unanswered calls are (cause id: the
    order's id)."""
    from orders.models import Order

    found = Order.objects.filter(pk__in=_ids(cause_ids), store__code=store_code).values_list("pk", flat=True)
    return {str(pk): reverse("order-contacts", args=[store_code, pk]) for pk in found}


def dispatch_day_cause_links(store_code: str, cause_ids: list[str]) -> dict[str, str]:
    """A fraudulent-dispatch violation links to the complaints that made it: upheld, not as described, about
    orders dispatched that day (cause id: `<store id>:<day>`)."""
    store_id = Store.objects.filter(code=store_code).values_list("pk", flat=True).first()
    links = {}
    for cause_id in cause_ids:
        owner, _sep, day = cause_id.partition(":")
        if owner != str(store_id):
            continue
        try:
            date.fromisoformat(day)
        except ValueError:
            continue
        query = urlencode(
            {"status": ComplaintStatus.UPHELD, "kind": ComplaintKind.NOT_AS_DESCRIBED, "dispatched_on": day}
        )
        links[cause_id] = f"{reverse('complaint-list', args=[store_code])}?{query}"
    return links
