"""The quality inspectors' back office: labs, sampling rounds and inspections, each step a button that calls
one service with `actor=request.user` (the service checks the permission again). Nothing here saves the
protected status or writes a report file itself."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inspections.models import (
    Defect,
    Inspection,
    InspectionEvent,
    InspectionStatus,
    Lab,
    LabReport,
    SamplingRound,
)
from inspections.reports import REPORT_MAX_BYTES, report_response
from inspections.services import (
    inspection_cancel,
    inspection_record_fail,
    inspection_record_pass,
    inspection_record_purchase,
    inspection_send_to_lab,
    sampling_round_draw,
)
from merchants.admin import (
    LargeTableMixin,
    ObjectAction,
    ObjectActionsMixin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    ServiceAddMixin,
    _change_url,
)
from merchants.errors import DomainError
from merchants.selectors import rule_int

# --- Object actions that take a file --------------------------------------------------------------


class FileObjectActionsMixin(ObjectActionsMixin):
    """The merchants object actions, with uploaded files passed to the form (and a multipart form)."""

    object_action_template = "admin/inspections/object_action.html"

    def object_action_view(self, request, object_id, action_name):
        action = next(a for a in self.object_actions if a.name == action_name)
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(gettext("No %(name)s with this ID.") % {"name": self.opts.verbose_name})
        if not self.has_view_or_change_permission(request, obj) or not request.user.has_perm(
            action.permission
        ):
            raise PermissionDenied
        posted = request.method == "POST"
        form = action.form_class(request.POST if posted else None, request.FILES if posted else None)
        if posted and form.is_valid():
            try:
                action.perform(request, obj, form.cleaned_data)
            except DomainError as exc:
                for message in exc.messages:
                    self.message_user(request, message, messages.ERROR)
            else:
                return HttpResponseRedirect(self.object_action_success_url(request, obj, action))
        elif not posted and not action.is_available(obj):
            self.message_user(
                request,
                gettext("“%(action)s” is not possible for %(object)s in its current state.")
                % {"action": action.label, "object": obj},
                messages.WARNING,
            )
        adminform = helpers.AdminForm(form, [(None, {"fields": list(form.fields)})], {}, model_admin=self)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{action.label}: {obj}",
            "subtitle": None,
            "opts": self.opts,
            "original": obj,
            "action": action,
            "description": action.description,
            "adminform": adminform,
            "form": form,
            "media": self.media + adminform.media,
            "cancel_url": _change_url(obj),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.object_action_template, context)


# --- Forms ----------------------------------------------------------------------------------------


class PurchaseForm(forms.Form):
    order_no = forms.CharField(
        label=_("Order number"),
        max_length=40,
        help_text=_("The mystery order, bought from the store as an ordinary consumer, with this listing."),
    )


class SendToLabForm(forms.Form):
    lab = forms.ModelChoiceField(label=_("Lab"), queryset=Lab.objects.filter(is_active=True))
    sample_number = forms.CharField(label=_("Sample number"), max_length=40)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lab"].queryset = Lab.objects.filter(is_active=True)


def _report_field(required: bool):
    return forms.FileField(
        label=_("Lab report"),
        required=required,
        help_text=format_lazy(
            _("PDF, PNG or JPEG, at most {mb} MB; checked by its content."),
            mb=REPORT_MAX_BYTES // (1024 * 1024),
        ),
    )


def _notes_field():
    return forms.CharField(
        label=_("Findings"), required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
    )


class FailForm(forms.Form):
    defects = forms.MultipleChoiceField(
        label=_("Defects found"), choices=Defect.choices, widget=forms.CheckboxSelectMultiple
    )
    report = _report_field(required=True)
    notes = _notes_field()


class PassForm(forms.Form):
    report = _report_field(required=False)
    notes = _notes_field()


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=300, widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
    )


# --- Actions --------------------------------------------------------------------------------------


def _purchase(request, inspection, data):
    inspection_record_purchase(inspection=inspection, order_no=data["order_no"], actor=request.user)
    messages.success(request, gettext("Purchase recorded for %(inspection)s.") % {"inspection": inspection})


def _send_to_lab(request, inspection, data):
    inspection_send_to_lab(
        inspection=inspection, lab=data["lab"], sample_number=data["sample_number"], actor=request.user
    )
    messages.success(request, gettext("%(inspection)s is at the lab.") % {"inspection": inspection})


def _fail(request, inspection, data):
    done = inspection_record_fail(
        inspection=inspection,
        defects=data["defects"],
        report=data["report"],
        notes=data["notes"],
        actor=request.user,
    )
    if done.status == InspectionStatus.FAILED:
        messages.success(
            request,
            gettext(
                "%(inspection)s failed: listing %(sku)s removed, violation recorded; the re-test window "
                "closes %(when)s."
            )
            % {
                "inspection": done,
                "sku": done.listing.sku,
                "when": done.retest_deadline.strftime("%Y-%m-%d %H:%M %Z"),
            },
        )
    else:
        messages.success(request, gettext("%(inspection)s failed the re-test.") % {"inspection": done})


def _pass(request, inspection, data):
    done = inspection_record_pass(
        inspection=inspection, report=data.get("report"), notes=data["notes"], actor=request.user
    )
    if done.overturned:
        message = gettext(
            "%(inspection)s passed the re-test: violation revoked and re-test fee refunded."
        ) % {"inspection": done}
        if done.events.filter(kind="retest_passed", data__has_key="listing_restored").exists():
            message += " " + gettext(
                "Listing %(sku)s is back as delisted: nothing is relisted automatically, the seller relists it."
            ) % {"sku": done.listing.sku}
        messages.success(request, message)
    else:
        messages.success(request, gettext("%(inspection)s passed.") % {"inspection": done})


def _cancel(request, inspection, data):
    inspection_cancel(inspection=inspection, reason=data["reason"], actor=request.user)
    messages.success(request, gettext("%(inspection)s cancelled.") % {"inspection": inspection})


AWAITING_RESULT = (InspectionStatus.AT_LAB, InspectionStatus.RETEST_REQUESTED)

INSPECTION_ACTIONS = (
    ObjectAction(
        "purchase",
        _("Record purchase"),
        "inspections.record_purchase",
        PurchaseForm,
        _purchase,
        lambda inspection: inspection.status == InspectionStatus.SELECTED,
        _("Link the order bought from the store as an ordinary consumer."),
    ),
    ObjectAction(
        "send-to-lab",
        _("Send to lab"),
        "inspections.send_to_lab",
        SendToLabForm,
        _send_to_lab,
        lambda inspection: inspection.status == InspectionStatus.PURCHASED,
        _("The accredited lab and the sample number it assigned."),
    ),
    ObjectAction(
        "pass",
        _("Record pass"),
        "inspections.record_result",
        PassForm,
        _pass,
        lambda inspection: inspection.status in AWAITING_RESULT,
        _(
            "A pass at the re-test revokes the violation and refunds the re-test fee; a listing the failure "
            "removed comes back delisted (nothing is relisted automatically: the seller relists it), a "
            "listing removed for another reason stays removed."
        ),
    ),
    ObjectAction(
        "fail",
        _("Record failure"),
        "inspections.record_result",
        FailForm,
        _fail,
        lambda inspection: inspection.status in AWAITING_RESULT,
        _(
            "A first failure removes the listing, records a failed-spot-check violation (points and deposit "
            "deduction) and opens the seller's re-test window. A failed re-test is final."
        ),
    ),
    ObjectAction(
        "cancel",
        _("Cancel"),
        "inspections.cancel_inspection",
        CancelForm,
        _cancel,
        lambda inspection: (
            inspection.status
            in (InspectionStatus.SELECTED, InspectionStatus.PURCHASED, InspectionStatus.AT_LAB)
        ),
        _("Stop the inspection before any result (e.g. the store closed before the purchase)."),
    ),
)


# --- Model admins ---------------------------------------------------------------------------------


@admin.register(Lab)
class LabAdmin(admin.ModelAdmin):
    list_display = ("name", "accreditation_number", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "accreditation_number")

    def has_delete_permission(self, request, obj=None):
        return False


class DrawnInspectionInline(ReadOnlyInline):
    model = Inspection
    fields = ("draw_rank", "listing", "store", "weight", "why", "status")
    readonly_fields = fields
    ordering = ("draw_rank",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("listing", "store")

    @admin.display(description=_("why it was drawn"))
    def why(self, obj):
        return _why(obj)


def _why(inspection) -> str:
    factors = inspection.risk_factors or {}
    parts = factors.get("contributions", {})
    shown = []
    for name, value in parts.items():
        if name == "complaint_rate" and factors.get("complaint_rate") is not None:
            rate = Decimal(factors["complaint_rate"]) * 100
            shown.append(f"{name} {rate.quantize(Decimal('0.01'))}% +{value}")
        else:
            shown.append(f"{name} +{value}")
    return ", ".join(shown)


@admin.register(SamplingRound)
class SamplingRoundAdmin(ServiceAddMixin, admin.ModelAdmin):
    list_display = ("__str__", "trigger", "sample_size", "drawn_count", "candidate_count", "seed", "drawn_by")
    list_filter = ("trigger",)
    list_select_related = ("drawn_by",)
    search_fields = ("seed", "cause_key")
    date_hierarchy = "drawn_at"
    inlines = (DrawnInspectionInline,)
    service_add_fields = ("sample_size", "seed", "note")
    fields = (
        "trigger",
        "drawn_at",
        "drawn_by",
        "seed",
        "sample_size",
        "drawn_count",
        "candidate_count",
        "candidates_digest",
        "weights",
        "cause_key",
        "note",
    )

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else ()

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def has_add_permission(self, request):
        return request.user.has_perm("inspections.draw_round")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changeform_initial_data(self, request):
        return {"sample_size": rule_int("spot_check_sample_size")}

    def adjust_service_add_form(self, form):
        form.fields["seed"].required = False
        form.fields["seed"].help_text = _(
            "Leave empty for a fresh random seed; give an earlier round's seed to repeat its draw."
        )
        form.fields["sample_size"].help_text = _("At most %(max)s listings.") % {
            "max": rule_int("spot_check_max_sample_size")
        }

    def create_through_service(self, request, data):
        return sampling_round_draw(
            actor=request.user,
            sample_size=data["sample_size"],
            seed=data.get("seed") or None,
            note=data.get("note") or "",
        )


class InspectionEventInline(ReadOnlyInline):
    model = InspectionEvent
    fields = ("created_at", "kind", "from_status", "to_status", "actor", "reason", "data")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class InspectionStatusFilter(admin.SimpleListFilter):
    title = _("re-test window")
    parameter_name = "retest_window"

    def lookups(self, request, model_admin):
        return (("open", _("open")), ("closed", _("closed")))

    def queryset(self, request, queryset):
        from django.utils import timezone

        now = timezone.now()
        if self.value() == "open":
            return queryset.filter(status=InspectionStatus.FAILED, retest_deadline__gt=now)
        if self.value() == "closed":
            return queryset.filter(status=InspectionStatus.FAILED, retest_deadline__lte=now)
        return queryset


@admin.register(Inspection)
class InspectionAdmin(LargeTableMixin, FileObjectActionsMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "store",
        "listing",
        "status",
        "weight",
        "lab",
        "sample_number",
        "result_at",
        "retest_deadline",
    )
    list_filter = ("status", InspectionStatusFilter, "lab", "round__trigger")
    search_fields = ("store__code", "listing__sku", "sample_number", "order__order_no")
    list_select_related = ("store", "listing", "lab")
    date_hierarchy = "created_at"
    object_actions = INSPECTION_ACTIONS
    inlines = (InspectionEventInline,)
    fields = (
        "round",
        "store",
        "listing",
        "status",
        "draw_rank",
        "weight",
        "why",
        "order",
        "purchased_at",
        "lab",
        "sample_number",
        "sent_to_lab_at",
        "result_at",
        "defects",
        "result_notes",
        "violation",
        "retest_deadline",
        "retest_requested_at",
        "retest_requested_by",
        "retest_fee",
        "retest_result_at",
        "retest_defects",
        "retest_notes",
        "cancel_reason",
        "report_links",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("round", "store", "listing", "order", "lab", "violation", "retest_requested_by")
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("why it was drawn"))
    def why(self, obj):
        return _why(obj)

    @admin.display(description=_("lab reports"))
    def report_links(self, obj):
        reports = list(obj.reports.all())
        if not reports:
            return "—"
        return format_html_join(
            mark_safe("<br>"),  # a constant separator
            '<a href="{}">{}</a> ({} bytes, sha256 {}…)',
            (
                (
                    reverse("admin:inspections_labreport_download", args=[report.pk]),
                    report.get_phase_display(),
                    report.size,
                    report.sha256[:12],
                )
                for report in reports
            ),
        )


@admin.register(LabReport)
class LabReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "inspection",
        "phase",
        "content_type",
        "size",
        "original_name",
        "uploaded_by",
        "uploaded_at",
    )
    list_filter = ("phase", "content_type")
    list_select_related = ("inspection", "uploaded_by")
    fields = (
        "inspection",
        "phase",
        "content_type",
        "size",
        "sha256",
        "original_name",
        "uploaded_by",
        "uploaded_at",
    )
    readonly_fields = fields

    def get_urls(self):
        return [
            path(
                "<int:report_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="inspections_labreport_download",
            )
        ] + super().get_urls()

    def download_view(self, request, report_id):
        """Staff only (the admin site's login), with the permission to view reports."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = LabReport.objects.filter(pk=report_id).first()
        if report is None:
            raise Http404(gettext("No such report."))
        return report_response(report)


@admin.register(InspectionEvent)
class InspectionEventAdmin(LargeTableMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("inspection", "kind", "from_status", "to_status", "actor", "created_at")
    list_filter = ("kind",)
    list_select_related = ("inspection", "actor")
