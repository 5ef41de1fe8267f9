"""The reviewer desk: the complaint queue (regulator complaints first, then by deadline) and one button per
service (assign to me, ask the seller, start review, uphold, dismiss); the appeal queue (by decision deadline,
overdue first) with start review, approve and reject. Each button is permission-checked here
and again in the service; nothing here saves the protected status."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Abs, Cast, Concat
from django.http import Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

from complaints.forms import (
    ComplaintOpenForm,
    ComplaintOptionalReasonForm,
    ComplaintReasonForm,
    ComplaintUpholdForm,
)
from complaints.models import (
    DECIDE_APPEAL,
    DECIDED_APPEAL_STATUSES,
    DECIDED_STATUSES,
    OPEN_APPEAL_STATUSES,
    Appeal,
    AppealEvent,
    AppealEvidence,
    BuyerMessage,
    CallAttempt,
    Complaint,
    ComplaintEvent,
    ComplaintEvidence,
    ComplaintStatus,
    Notification,
)
from complaints.services import (
    DECIDE,
    HANDLE,
    REFUNDED_FROM_DEPOSIT,
    appeal_approve,
    appeal_reject,
    appeal_review_start,
    complaint_assign,
    complaint_dismiss,
    complaint_open,
    complaint_request_info,
    complaint_start_review,
    complaint_uphold,
)
from complaints.views import evidence_response
from merchants.admin import (
    EventInline,
    LargeTableMixin,
    ObjectAction,
    ObjectActionsMixin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    ServiceAddMixin,
)
from merchants.errors import DomainError
from merchants.models import DepositEntry
from merchants.rules import money

# --- Filters --------------------------------------------------------------------------------------


class WorkFilter(admin.SimpleListFilter):
    """Undecided by default: the queue. "All" and "decided" on request."""

    title = _("queue")
    parameter_name = "work"

    def lookups(self, request, model_admin):
        return [("decided", _("decided")), ("all", _("all"))]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("to handle"),
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "all":
            return queryset
        if self.value() == "decided":
            return queryset.filter(status__in=DECIDED_STATUSES)
        return queryset.exclude(status__in=DECIDED_STATUSES)


class RegulatorFilter(admin.SimpleListFilter):
    title = _("regulator")
    parameter_name = "regulator"

    def lookups(self, request, model_admin):
        return [("yes", _("from a regulator")), ("no", _("not from a regulator"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(from_regulator=self.value() == "yes")
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    title = _("seller's reply")
    parameter_name = "reply"

    def lookups(self, request, model_admin):
        return [("overdue", _("overdue")), ("waiting", _("waiting, not overdue"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "overdue":
            # The deadline passed without a reply, whatever the state now: the 5-minute check moves such a
            # complaint on to review, and a reviewer may have decided it since.
            return queryset.filter(reply_due_at__lte=now, seller_replied_at__isnull=True)
        if self.value() == "waiting":
            return queryset.filter(status=ComplaintStatus.AWAITING_SELLER, reply_due_at__gt=now)
        return queryset


class AssignedFilter(admin.SimpleListFilter):
    title = _("assigned")
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        return [("me", _("to me")), ("nobody", _("to nobody"))]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(assigned_to=request.user)
        if self.value() == "nobody":
            return queryset.filter(assigned_to__isnull=True)
        return queryset


# --- Object actions -------------------------------------------------------------------------------


def _assign_to_me(request, complaint, data):
    complaint_assign(complaint=complaint, assignee=request.user, actor=request.user, reason=data["reason"])
    messages.success(request, gettext("Complaint #%(id)s is assigned to you.") % {"id": complaint.pk})


def _request_info(request, complaint, data):
    complaint = complaint_request_info(complaint=complaint, actor=request.user, reason=data["reason"])
    messages.success(
        request,
        gettext("The seller was asked to reply by %(due)s.")
        % {"due": timezone.localtime(complaint.reply_due_at).strftime("%Y-%m-%d %H:%M")},
    )


def _start_review(request, complaint, data):
    complaint_start_review(complaint=complaint, actor=request.user, reason=data["reason"])
    messages.success(request, gettext("Complaint #%(id)s is under review.") % {"id": complaint.pk})


def _uphold(request, complaint, data):
    violation_type = data.get("violation_type")
    complaint = complaint_uphold(
        complaint=complaint,
        actor=request.user,
        reason=data["reason"],
        violation_type=violation_type.code if violation_type else None,
        refund=data["refund"],
        compensation=data.get("compensation"),
        refer_to_authorities=data["refer_to_authorities"],
    )
    parts = [gettext("Complaint #%(id)s upheld.") % {"id": complaint.pk}]
    if complaint.violation_id:
        parts.append(gettext("Violation recorded."))
    if complaint.order_refunded:
        parts.append(gettext("Order refunded."))
    if complaint.referred_to_authorities:
        parts.append(gettext("Flagged for referral to the authorities."))
    messages.success(request, " ".join(parts))
    if complaint.deposit_refund:
        messages.warning(
            request,
            gettext(
                "Order %(order)s is completed and can no longer be refunded: the buyer's ¥%(amount)s were paid "
                "from the store's deposit as consumer compensation instead."
            )
            % {"order": complaint.order.order_no, "amount": complaint.deposit_refund},
        )
    elif (
        data["refund"]
        and complaint.order_id
        and _upheld_data(complaint).get("not_refunded") == REFUNDED_FROM_DEPOSIT
    ):
        messages.warning(
            request,
            gettext(
                "Order %(order)s's buyer was already refunded from the store's deposit for an earlier upheld "
                "complaint: not refunded twice."
            )
            % {"order": complaint.order.order_no},
        )
    elif (
        data["refund"] and complaint.order_id and not complaint.order_refunded and complaint.order.amount_paid
    ):
        messages.warning(
            request,
            gettext("Order %(order)s is %(status)s: it was not refunded.")
            % {"order": complaint.order.order_no, "status": complaint.order.get_status_display()},
        )


def _upheld_data(complaint) -> dict:
    event = complaint.events.filter(kind="upheld").order_by("-id").first()
    return (event.data or {}) if event else {}


def _dismiss(request, complaint, data):
    complaint_dismiss(complaint=complaint, actor=request.user, reason=data["reason"])
    messages.success(request, gettext("Complaint #%(id)s dismissed.") % {"id": complaint.pk})


def _awaiting_overdue_or_open(complaint) -> bool:
    if complaint.status == ComplaintStatus.AWAITING_SELLER:
        return complaint.reply_overdue()
    return can_proceed(complaint.start_review)


COMPLAINT_ACTIONS = (
    ObjectAction(
        "assign_to_me",
        _("Assign to me"),
        HANDLE,
        ComplaintOptionalReasonForm,
        _assign_to_me,
        lambda c: not c.is_decided,
        _("Take the complaint: it shows under “assigned to me”."),
    ),
    ObjectAction(
        "request_info",
        _("Ask the seller"),
        HANDLE,
        ComplaintReasonForm,
        _request_info,
        lambda c: can_proceed(c.request_info),
        _("Send the complaint to the seller for a reply with evidence, by the deadline of the rule table."),
    ),
    ObjectAction(
        "start_review",
        _("Start review"),
        HANDLE,
        ComplaintOptionalReasonForm,
        _start_review,
        _awaiting_overdue_or_open,
        _(
            "Review without (further) waiting for the seller: an open complaint, or one whose deadline passed."
        ),
    ),
    ObjectAction(
        "uphold",
        _("Uphold"),
        DECIDE,
        ComplaintUpholdForm,
        _uphold,
        lambda c: can_proceed(c.uphold),
        _(
            "Decide for the complainant: the violation is recorded (once), the buyer refunded (a completed "
            "order from the deposit), and any extra compensation paid from the deposit. The seller sees the "
            "reason."
        ),
    ),
    ObjectAction(
        "dismiss",
        _("Dismiss"),
        DECIDE,
        ComplaintReasonForm,
        _dismiss,
        lambda c: can_proceed(c.dismiss),
        _("Decide for the seller: nothing is recorded against the store. The seller sees the reason."),
    ),
)


class ComplaintEventInline(EventInline):
    model = ComplaintEvent


class ComplaintEvidenceInline(ReadOnlyInline):
    model = ComplaintEvidence
    fields = ("party", "download", "content_type", "size", "uploaded_by", "created_at")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("uploaded_by")

    @admin.display(description=_("file"))
    def download(self, obj):
        url = reverse("admin:complaints_complaint_evidence", args=[obj.complaint_id, obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.original_name)


@admin.register(Complaint)
class ComplaintAdmin(LargeTableMixin, ServiceAddMixin, ObjectActionsMixin, admin.ModelAdmin):
    change_form_template = "admin/merchants/change_form.html"
    # "Add complaint": a regulator's or brand owner's complaint taken in by a reviewer, through complaint_open.
    form = ComplaintOpenForm
    service_add_fields = (
        "store",
        "kind",
        "sub_kind",
        "source",
        "order",
        "listing",
        "buyer_statement",
        "evidence",
    )
    list_display = (
        "id",
        "regulator_badge",
        "kind",
        "source",
        "store_code",
        "status",
        "reply_due",
        "assigned_to",
        "carrier_desk",
        "opened_at",
    )
    list_display_links = ("id", "kind")
    list_filter = (
        WorkFilter,
        RegulatorFilter,
        OverdueFilter,
        AssignedFilter,
        "kind",
        "source",
        "status",
        "carrier_desk",
    )
    list_select_related = ("store", "assigned_to")
    search_fields = ("=id", "=store__code", "=order__order_no")
    raw_id_fields = ("store", "order", "listing", "assigned_to")
    list_per_page = 50
    inlines = (ComplaintEvidenceInline, ComplaintEventInline)
    object_actions = COMPLAINT_ACTIONS
    fieldsets = (
        (None, {"fields": ("kind", "sub_kind", "source", "from_regulator", "carrier_desk", "status")}),
        (_("Concerning"), {"fields": ("store", "order", "listing")}),
        (_("Statements"), {"fields": ("buyer_statement", "seller_statement", "seller_replied_at")}),
        (_("Handling"), {"fields": ("opened_at", "opened_by", "assigned_to", "reply_due_at")}),
        (
            _("Decision"),
            {
                "fields": (
                    "decided_at",
                    "decided_by",
                    "decision_reason",
                    "violation",
                    "order_refunded",
                    "compensation",
                    "referred_to_authorities",
                )
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return [f.name for f in Complaint._meta.fields]

    def has_add_permission(self, request):
        return request.user.has_perm(HANDLE)  # the add page calls complaint_open

    def create_through_service(self, request, data):
        return complaint_open(
            store=data["store"],
            kind=data["kind"],
            source=data["source"],
            statement=data["buyer_statement"],
            sub_kind=data.get("sub_kind") or "",
            order=data.get("order"),
            listing=data.get("listing"),
            evidence=data.get("evidence") or (),
            actor=request.user,
        )

    def has_change_permission(self, request, obj=None):
        return False  # the page shows the complaint; every change is a button that calls a service

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("store", "order", "assigned_to")

    def get_urls(self):
        return [
            path(
                "<path:object_id>/evidence/<int:evidence_id>/",
                self.admin_site.admin_view(self.evidence_view),
                name="complaints_complaint_evidence",
            )
        ] + super().get_urls()

    def evidence_view(self, request, object_id, evidence_id):
        complaint = self.get_object(request, unquote(object_id))
        if complaint is None:
            raise Http404
        if not self.has_view_or_change_permission(request, complaint):
            raise PermissionDenied
        evidence = ComplaintEvidence.objects.filter(complaint=complaint, pk=evidence_id).first()
        if evidence is None:
            raise Http404
        return evidence_response(evidence)

    @admin.display(description=_("regulator"), ordering="-from_regulator")
    def regulator_badge(self, obj):
        return format_html("<strong>{}</strong>", gettext("regulator")) if obj.from_regulator else ""

    @admin.display(description=_("store"), ordering="store__code")
    def store_code(self, obj):
        return obj.store.code

    @admin.display(description=_("reply due"), ordering="reply_due_at")
    def reply_due(self, obj):
        if obj.reply_due_at is None:
            return "—"
        text = timezone.localtime(obj.reply_due_at).strftime("%Y-%m-%d %H:%M")
        if obj.reply_missed():
            return format_html(
                '<span style="color:#b00"><strong>{}</strong> ({})</span>', text, gettext("overdue")
            )
        return text

    @admin.action(description=_("Assign the selected complaints to me"), permissions=["handle"])
    def assign_selected_to_me(self, request, queryset):
        done = 0
        for complaint in queryset.exclude(status__in=DECIDED_STATUSES):
            try:
                complaint_assign(complaint=complaint, assignee=request.user, actor=request.user)
            except DomainError as exc:
                for message in exc.messages:
                    self.message_user(request, message, messages.ERROR)
            else:
                done += 1
        self.message_user(
            request, gettext("%(n)d complaint(s) assigned to you.") % {"n": done}, messages.SUCCESS
        )

    actions = ("assign_selected_to_me",)

    def has_handle_permission(self, request):
        return request.user.has_perm(HANDLE)


@admin.register(ComplaintEvent)
class ComplaintEventAdmin(LargeTableMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("complaint", "kind", "from_status", "to_status", "actor", "created_at")
    list_filter = ("kind",)
    list_select_related = ("complaint", "actor")
    raw_id_fields = ("complaint",)


@admin.register(CallAttempt)
class CallAttemptAdmin(LargeTableMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("order", "store", "called_at", "connected", "source")
    list_filter = ("connected", "source")
    list_select_related = ("order", "store")
    search_fields = ("=order__order_no", "=store__code")


@admin.register(BuyerMessage)
class BuyerMessageAdmin(LargeTableMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("order", "store", "sent_at", "answered_at", "answered_by_human", "source")
    list_filter = ("answered_by_human", "source")
    list_select_related = ("order", "store")
    search_fields = ("=order__order_no", "=store__code")


@admin.register(Notification)
class NotificationAdmin(LargeTableMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("store", "kind", "message", "created_at", "read_at")
    list_filter = ("kind",)
    list_select_related = ("store",)


# --- Appeals --------------------------------------------------------------------------------------


def _violation_entry(suffix: str):
    """The size of the deposit entry the appeal's violation caused (`violation:<id>:<suffix>`), positive."""
    key = Concat(
        Value("violation:"),
        Cast(OuterRef("violation_id"), CharField()),
        Value(f":{suffix}"),
        output_field=CharField(),
    )
    return Abs(Subquery(DepositEntry.objects.filter(cause_key=key).values("amount")[:1]))


class AppealWorkFilter(WorkFilter):
    """Open appeals by default: the queue."""

    def queryset(self, request, queryset):
        if self.value() == "all":
            return queryset
        if self.value() == "decided":
            return queryset.filter(status__in=DECIDED_APPEAL_STATUSES)
        return queryset.filter(status__in=OPEN_APPEAL_STATUSES)


class AppealOverdueFilter(admin.SimpleListFilter):
    title = _("decision deadline")
    parameter_name = "deadline"

    def lookups(self, request, model_admin):
        return [("overdue", _("overdue")), ("in_time", _("not yet due"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        open_appeals = queryset.filter(status__in=OPEN_APPEAL_STATUSES)
        if self.value() == "overdue":
            return open_appeals.filter(decide_by__lte=now)
        if self.value() == "in_time":
            return open_appeals.filter(decide_by__gt=now)
        return queryset


def _appeal_start_review(request, appeal, data):
    appeal_review_start(appeal=appeal, actor=request.user, reason=data["reason"])
    messages.success(request, gettext("Appeal #%(id)s is under review.") % {"id": appeal.pk})


def _appeal_approve(request, appeal, data):
    appeal_approve(appeal=appeal, actor=request.user, reason=data["reason"])
    messages.success(
        request,
        gettext("Appeal #%(id)s approved: the violation is revoked and its penalties returned.")
        % {"id": appeal.pk},
    )


def _appeal_reject(request, appeal, data):
    appeal = appeal_reject(appeal=appeal, actor=request.user, reason=data["reason"])
    messages.success(
        request,
        gettext("Appeal #%(id)s rejected: the violation stays in force.") % {"id": appeal.pk},
    )


APPEAL_ACTIONS = (
    ObjectAction(
        "start_review",
        _("Start review"),
        DECIDE_APPEAL,
        ComplaintOptionalReasonForm,
        _appeal_start_review,
        lambda a: can_proceed(a.start_review),
        _("Take the appeal: it is under review until you approve or reject it."),
    ),
    ObjectAction(
        "approve",
        _("Approve"),
        DECIDE_APPEAL,
        ComplaintReasonForm,
        _appeal_approve,
        lambda a: can_proceed(a.approve),
        _(
            "Decide for the store: the violation is revoked — points, deposit deductions, compensation, frozen "
            "proceeds and restrictions come back. The seller sees the reason."
        ),
    ),
    ObjectAction(
        "reject",
        _("Reject"),
        DECIDE_APPEAL,
        ComplaintReasonForm,
        _appeal_reject,
        lambda a: can_proceed(a.reject),
        _(
            "Decide against the store: the violation stays in force with every penalty. After a first "
            "rejection the store may appeal once more; the second decision is final. The seller sees the reason."
        ),
    ),
)


class AppealEventInline(EventInline):
    model = AppealEvent


class AppealEvidenceInline(ReadOnlyInline):
    model = AppealEvidence
    fields = ("download", "content_type", "size", "uploaded_by", "created_at")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("uploaded_by")

    @admin.display(description=_("file"))
    def download(self, obj):
        url = reverse("admin:complaints_appeal_evidence", args=[obj.appeal_id, obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.original_name)


@admin.register(Appeal)
class AppealAdmin(LargeTableMixin, ObjectActionsMixin, admin.ModelAdmin):
    """The appeal queue: open appeals by their decision deadline (overdue ones first)."""

    change_form_template = "admin/merchants/change_form.html"
    list_display = (
        "id",
        "deadline",
        "status",
        "number",
        "store_code",
        "violation_type",
        "points",
        "deduction_shown",
        "violation_status",
        "submitted_at",
    )
    list_display_links = ("id", "deadline")
    list_filter = (AppealWorkFilter, AppealOverdueFilter, "status", "number")
    list_select_related = ("store", "violation__violation_type")
    search_fields = ("=id", "=store__code", "=violation__id")
    ordering = ("decide_by", "id")
    list_per_page = 50
    inlines = (AppealEvidenceInline, AppealEventInline)
    object_actions = APPEAL_ACTIONS
    fieldsets = (
        (None, {"fields": ("status", "number", "store", "decide_by", "submitted_at", "submitted_by")}),
        (_("Violation"), {"fields": ("violation", "violation_facts")}),
        (_("The store's statement"), {"fields": ("statement",)}),
        (
            _("Decision"),
            {"fields": ("reviewer", "review_started_at", "decided_at", "decided_by", "decision_reason")},
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Appeal._meta.fields] + ["violation_facts"]

    def has_add_permission(self, request):
        return False  # appeals are filed by the store's owner through appeal_submit

    def has_change_permission(self, request, obj=None):
        return False  # every change is a button that calls a service

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("store", "violation__violation_type", "reviewer", "decided_by", "submitted_by")
            .annotate(
                deduction=_violation_entry("deduction"),
                compensation=_violation_entry("compensation"),
            )
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/evidence/<int:evidence_id>/",
                self.admin_site.admin_view(self.evidence_view),
                name="complaints_appeal_evidence",
            )
        ] + super().get_urls()

    def evidence_view(self, request, object_id, evidence_id):
        appeal = self.get_object(request, unquote(object_id))
        if appeal is None:
            raise Http404
        if not self.has_view_or_change_permission(request, appeal):
            raise PermissionDenied
        evidence = AppealEvidence.objects.filter(appeal=appeal, pk=evidence_id).first()
        if evidence is None:
            raise Http404
        return evidence_response(evidence)

    @admin.display(description=_("decide by"), ordering="decide_by")
    def deadline(self, obj):
        text = timezone.localtime(obj.decide_by).strftime("%Y-%m-%d %H:%M")
        if obj.overdue():
            return format_html(
                '<span style="color:#b00"><strong>{}</strong> ({})</span>', text, gettext("overdue")
            )
        return text

    @admin.display(description=_("store"), ordering="store__code")
    def store_code(self, obj):
        return obj.store.code

    @admin.display(description=_("violation"))
    def violation_type(self, obj):
        return obj.violation.violation_type.name

    @admin.display(description=_("points"))
    def points(self, obj):
        return obj.violation.points

    @admin.display(description=_("deduction (CNY)"))
    def deduction_shown(self, obj):
        return money(obj.deduction) if obj.deduction else "—"

    @admin.display(description=_("violation status"))
    def violation_status(self, obj):
        return obj.violation.get_status_display()

    @admin.display(description=_("what the violation cost"))
    def violation_facts(self, obj):
        violation = obj.violation
        return format_html(
            "{} · {} · {}: {} ({}) · {}: {} · {}: {} · {}: {}",
            violation.violation_type.name,
            timezone.localtime(violation.occurred_at).strftime("%Y-%m-%d %H:%M"),
            gettext("points"),
            violation.points,
            violation.get_ledger_display(),
            gettext("deduction (CNY)"),
            money(obj.deduction) if obj.deduction else "—",
            gettext("compensation (CNY)"),
            money(obj.compensation) if obj.compensation else "—",
            gettext("status"),
            violation.get_status_display(),
        )


@admin.register(AppealEvent)
class AppealEventAdmin(LargeTableMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("appeal", "kind", "from_status", "to_status", "actor", "created_at")
    list_filter = ("kind",)
    list_select_related = ("appeal", "actor")
    raw_id_fields = ("appeal",)
