"""The reviewer back office: thin admin screens over the merchants services.

Every state change (store admission and sanctions, listing removal, deposit entries, sanctions) is a small
admin view or action with a form that calls one service with `actor=request.user`; the services check the
permission again and refuse with a DomainError whose messages are shown as admin messages. Nothing here
saves a protected FSM field or a ledger row directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.contrib.admin.widgets import AdminSplitDateTime, ForeignKeyRawIdWidget
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Exists, OuterRef, Q
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import ConfirmImportForm, ImportForm

from merchants.errors import DomainError
from merchants.models import (
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
    PublicHoliday,
    RuleParameter,
    RulesExamAttempt,
    RulesExamRequirement,
    Sanction,
    ScreeningPattern,
    SettlementEntry,
    Store,
    StoreEvent,
    StoreStatus,
    Violation,
    ViolationType,
    Withdrawal,
)
from merchants.resources import ListingExportResource, ListingResource
from merchants.selectors import deposit_accounts_with_position
from merchants.services import (
    deposit_position_refresh,
    deposit_record,
    deposit_reverse,
    listing_remove,
    sanction_impose,
    sanction_lift,
    store_apply,
    store_approve,
    store_begin_exit,
    store_clear_out,
    store_complete_exit,
    store_reinstate,
    store_reject,
    store_suspend,
    violation_record,
    violation_revoke,
    withdrawal_approve,
    withdrawal_reject,
)

# --- Shared machinery -----------------------------------------------------------------------------

# Below this many rows (by the planner's estimate) an exact COUNT(*) is cheap enough to run.
EXACT_COUNT_BELOW_ROWS = 100_000


class EstimatedCountPaginator(Paginator):
    """On PostgreSQL an unfiltered list of a big table is counted from the planner's estimate.

    A filtered or searched list (a WHERE clause) is counted exactly: that count uses the filter's index.
    """

    @cached_property
    def count(self):
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is not None and not query.where:
            connection = connections[queryset.db]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                        [queryset.model._meta.db_table],
                    )
                    row = cursor.fetchone()
                if row and row[0] >= EXACT_COUNT_BELOW_ROWS:
                    return int(row[0])
        return super().count


class LargeTableMixin:
    """For tables that grow without bound: no second COUNT(*) of the whole table, an estimated count."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator


class ReadOnlyAdminMixin:
    """Rows written only by services (events, ledger entries): shown, never added, changed or deleted."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LatestRowsFormSet(BaseInlineFormSet):
    """An inline that shows only the latest rows (the queryset's order), so a busy store's page stays small."""

    limit = 20

    def get_queryset(self):
        if not hasattr(self, "_latest_rows"):
            self._latest_rows = super().get_queryset()[: self.limit]
        return self._latest_rows


def latest_rows_formset(limit: int) -> type[LatestRowsFormSet]:
    return type("LatestRowsFormSet", (LatestRowsFormSet,), {"limit": limit})


def _changelist_url(model, **filters) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    if filters:
        url += "?" + "&".join(f"{key}={value}" for key, value in filters.items())
    return url


def _change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[quote(obj.pk)])


def _add_validation_error(form: forms.Form, error: ValidationError) -> None:
    """Put a model ValidationError on the form, field by field where the form has the field."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field_name, field_errors in error.message_dict.items():
        target = field_name if field_name in form.fields else None
        for message in field_errors:
            form.add_error(target, message)


@dataclass(frozen=True)
class ObjectAction:
    """A button on an object's change page leading to a small form that calls one service."""

    name: str  # the URL segment and the suffix of the URL name: admin:<app>_<model>_<name>
    label: Any
    permission: str
    form_class: type[forms.Form]
    perform: Callable[[Any, Any, dict], None]  # (request, obj, cleaned_data); raises DomainError
    is_available: Callable[[Any], bool] = lambda obj: True
    description: Any = ""


class ObjectActionsMixin:
    """Adds `object_actions` to a ModelAdmin: URLs, change-page buttons and the form view.

    The view needs the object's view permission and the action's permission (403 otherwise); it changes
    nothing on GET; on a valid POST it calls the action and turns DomainError messages into admin errors.
    """

    object_actions: tuple[ObjectAction, ...] = ()
    object_action_template = "admin/merchants/object_action.html"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        action_urls = [
            path(
                f"<path:object_id>/{action.name}/",
                self.admin_site.admin_view(partial(self.object_action_view, action_name=action.name)),
                name=f"{info[0]}_{info[1]}_{action.name}",
            )
            for action in self.object_actions
        ]
        return action_urls + super().get_urls()

    def object_action_url(self, obj, action_name: str) -> str:
        return reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{action_name}",
            args=[quote(obj.pk)],
        )

    def object_action_buttons(self, request, obj) -> list[dict]:
        return [
            {"label": action.label, "url": self.object_action_url(obj, action.name), "name": action.name}
            for action in self.object_actions
            if request.user.has_perm(action.permission) and action.is_available(obj)
        ]

    def object_action_success_url(self, request, obj, action: ObjectAction) -> str:
        return _change_url(obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["object_action_buttons"] = self.object_action_buttons(request, obj)
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )

    def object_action_view(self, request, object_id, action_name):
        action = next(a for a in self.object_actions if a.name == action_name)
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(gettext("No %(name)s with this ID.") % {"name": self.opts.verbose_name})
        if not self.has_view_or_change_permission(request, obj) or not request.user.has_perm(
            action.permission
        ):
            raise PermissionDenied
        form = action.form_class(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                action.perform(request, obj, form.cleaned_data)
            except DomainError as exc:
                for message in exc.messages:
                    self.message_user(request, message, messages.ERROR)
            else:
                return HttpResponseRedirect(self.object_action_success_url(request, obj, action))
        elif request.method != "POST" and not action.is_available(obj):
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


class ServiceAddMixin:
    """The admin's add page for a model whose rows are created by a service, not by `form.save()`.

    The ModelForm still parses and validates the input (widgets, model validation); the service then
    creates the row, and its refusals (DomainError) become form errors on the same page.
    """

    service_add_fields: tuple[str, ...] = ()

    def create_through_service(self, request, data: dict):
        raise NotImplementedError

    def adjust_service_add_form(self, form) -> None:
        pass

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        model_form = self.get_form(request, None, change=False, fields=list(self.service_add_fields))
        if request.method == "POST":
            form = model_form(request.POST, request.FILES)
        else:
            form = model_form(initial=self.get_changeform_initial_data(request))
        self.adjust_service_add_form(form)
        if request.method == "POST" and form.is_valid():
            try:
                obj = self.create_through_service(request, form.cleaned_data)
            except DomainError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            except ValidationError as exc:
                _add_validation_error(form, exc)
            else:
                self.log_addition(request, obj, [{"added": {}}])
                self.message_user(
                    request,
                    gettext("The %(name)s “%(obj)s” was added.")
                    % {"name": self.opts.verbose_name, "obj": obj},
                    messages.SUCCESS,
                )
                if "_addanother" in request.POST:
                    return HttpResponseRedirect(request.path)
                return HttpResponseRedirect(_change_url(obj))
        adminform = helpers.AdminForm(
            form, [(None, {"fields": list(self.service_add_fields)})], {}, model_admin=self
        )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Add %s") % self.opts.verbose_name,
            "subtitle": None,
            "adminform": adminform,
            "object_id": None,
            "original": None,
            "is_popup": False,
            "to_field": None,
            "media": self.media + adminform.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        return self.render_change_form(request, context, add=True, change=False, form_url=form_url, obj=None)


def _bulk_action_with_form(
    modeladmin,
    request,
    queryset,
    *,
    action_name: str,
    title,
    form_class: type[forms.Form],
    perform_one: Callable[[Any, Any, dict], None],
    label_of: Callable[[Any], str],
    done_message: Callable[[int], str],
):
    """A changelist action that first asks for a form (e.g. a reason), then runs a service per row.

    Each refusal is reported with the row's label; the others go ahead.
    """
    confirmed = request.POST.get("post") == "yes"
    form = form_class(request.POST if confirmed else None)
    if confirmed and form.is_valid():
        done = 0
        for obj in queryset:
            try:
                perform_one(request, obj, form.cleaned_data)
            except DomainError as exc:
                for message in exc.messages:
                    modeladmin.message_user(request, f"{label_of(obj)}: {message}", messages.ERROR)
            else:
                done += 1
        if done:
            modeladmin.message_user(request, done_message(done), messages.SUCCESS)
        return None
    adminform = helpers.AdminForm(form, [(None, {"fields": list(form.fields)})], {}, model_admin=modeladmin)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "opts": modeladmin.opts,
        "queryset": queryset,
        "action_name": action_name,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "adminform": adminform,
        "form": form,
        "media": modeladmin.media + adminform.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/merchants/bulk_action.html", context)


# --- Forms of the actions -------------------------------------------------------------------------


def _reason_field(required: bool = True, help_text=""):
    return forms.CharField(
        label=_("Reason"),
        max_length=300,
        required=required,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


class ReasonForm(forms.Form):
    reason = _reason_field(help_text=_("Recorded with the event and shown to the seller."))


class OptionalReasonForm(forms.Form):
    reason = _reason_field(required=False, help_text=_("Optional; recorded with the event."))


class SuspendForm(forms.Form):
    until = forms.SplitDateTimeField(
        label=_("Suspended until"),
        widget=AdminSplitDateTime,
        help_text=_("The store is reinstated automatically at this time."),
    )
    reason = _reason_field(help_text=_("Recorded with the event and shown to the seller."))


class ClearOutForm(forms.Form):
    reason = _reason_field(help_text=_("Recorded with the event and shown to the seller."))
    ban_entity = forms.BooleanField(
        label=_("Ban the entity for ever"),
        required=False,
        initial=True,
        help_text=_("For serious violations or falsified qualifications: the entity may never apply again."),
    )


# A bank reference becomes the cause key "top-up:<reference>", which holds at most 100 characters.
TOP_UP_CAUSE_PREFIX = "top-up:"


class DepositEntryForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            (kind.value, kind.label)
            for kind in (
                DepositEntry.Kind.TOP_UP,
                DepositEntry.Kind.DEDUCTION,
                DepositEntry.Kind.COMPENSATION,
                DepositEntry.Kind.REFUND,
            )
        ],
    )
    amount = forms.DecimalField(
        label=_("Amount (CNY)"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text=_("A positive amount: the kind decides whether it goes into or out of the deposit."),
    )
    reason = _reason_field(help_text=_("Shown to the seller in the deposit ledger."))
    reference = forms.CharField(
        label=_("Bank or payment reference"),
        max_length=100 - len(TOP_UP_CAUSE_PREFIX),
        required=False,
        help_text=_("A top-up with a bank reference is recorded once, however often it is submitted."),
    )


# --- Action callables (request, object, cleaned form data) ---------------------------------------


def _can(transition_name: str) -> Callable[[Any], bool]:
    return lambda obj: can_proceed(getattr(obj, transition_name))


def _store_approve(request, store, data):
    store_approve(store=store, actor=request.user, reason=data["reason"])
    messages.success(request, gettext("Store %(code)s approved and open.") % {"code": store.code})


def _store_reject(request, store, data):
    store_reject(store=store, actor=request.user, reason=data["reason"])
    messages.success(request, gettext("Store %(code)s rejected.") % {"code": store.code})


def _store_suspend(request, store, data):
    store_suspend(store=store, until=data["until"], actor=request.user, reason=data["reason"])
    messages.success(
        request,
        gettext("Store %(code)s suspended until %(until)s.")
        % {"code": store.code, "until": timezone.localtime(data["until"]).strftime("%Y-%m-%d %H:%M")},
    )


def _store_reinstate(request, store, data):
    store_reinstate(store=store, actor=request.user, reason=data["reason"])
    messages.success(request, gettext("Store %(code)s reinstated.") % {"code": store.code})


def _store_clear_out(request, store, data):
    store_clear_out(store=store, actor=request.user, reason=data["reason"], ban_entity=data["ban_entity"])
    messages.success(request, gettext("Store %(code)s cleared out.") % {"code": store.code})


def _store_begin_exit(request, store, data):
    store_begin_exit(store=store, actor=request.user, reason=data["reason"])
    messages.success(request, gettext("Store %(code)s is exiting.") % {"code": store.code})


def _store_complete_exit(request, store, data):
    store_complete_exit(store=store, actor=request.user, reason=data["reason"])
    messages.success(
        request, gettext("Store %(code)s has exited; its deposit was returned.") % {"code": store.code}
    )


STORE_ACTIONS = (
    ObjectAction(
        "approve",
        _("Approve"),
        "merchants.review_store",
        OptionalReasonForm,
        _store_approve,
        _can("approve"),
        _("Admit the store: it opens today if the entity still meets the admission rules."),
    ),
    ObjectAction(
        "reject",
        _("Reject"),
        "merchants.review_store",
        ReasonForm,
        _store_reject,
        _can("reject"),
        _("Refuse the application. The applicant sees the reason."),
    ),
    ObjectAction(
        "suspend",
        _("Suspend"),
        "merchants.sanction_store",
        SuspendForm,
        _store_suspend,
        _can("suspend"),
        _("Close the store until a date; it is reinstated automatically then."),
    ),
    ObjectAction(
        "reinstate",
        _("Reinstate"),
        "merchants.sanction_store",
        ReasonForm,
        _store_reinstate,
        _can("reinstate"),
        _("End the suspension now."),
    ),
    ObjectAction(
        "clear_out",
        _("Clear out"),
        "merchants.sanction_store",
        ClearOutForm,
        _store_clear_out,
        _can("clear_out"),
        _("Close the store for good (清退). This cannot be undone."),
    ),
    ObjectAction(
        "begin_exit",
        _("Start voluntary exit"),
        "merchants.review_store",
        ReasonForm,
        _store_begin_exit,
        _can("begin_exit"),
        _(
            "The owner asked to leave the platform: the store stops trading and waits for its orders to finish."
        ),
    ),
    ObjectAction(
        "complete_exit",
        _("Complete voluntary exit"),
        "merchants.review_store",
        OptionalReasonForm,
        _store_complete_exit,
        _can("complete_exit"),
        _(
            "Nothing is owed: return the deposit and close the store. The entity may apply again 6 months "
            "after its last store leaves."
        ),
    ),
)


def _listing_remove(request, listing, data):
    listing_remove(listing=listing, actor=request.user, reason=data["reason"])
    messages.success(request, gettext("Listing %(sku)s removed from the platform.") % {"sku": listing.sku})


LISTING_REMOVE = ObjectAction(
    "remove",
    _("Remove from platform"),
    "merchants.remove_listing",
    ReasonForm,
    _listing_remove,
    lambda listing: listing.status != ListingStatus.REMOVED,
    _("Take the listing off the platform. The seller sees the reason and cannot undo it."),
)


def _deposit_record(request, account, data):
    reference = data["reference"].strip()
    kind = data["kind"]
    cause_key = (
        f"{TOP_UP_CAUSE_PREFIX}{reference}" if kind == DepositEntry.Kind.TOP_UP and reference else None
    )
    started = timezone.now()
    entry = deposit_record(
        store=account.store,
        kind=kind,
        amount=data["amount"],
        reason=data["reason"],
        reference=reference,
        cause_key=cause_key,
        actor=request.user,
    )
    if entry.created_at < started:
        # The service returned the entry recorded earlier for the same bank reference.
        messages.warning(
            request,
            gettext(
                "The top-up with bank reference %(reference)s was already recorded on %(when)s "
                "(%(amount)s CNY, store %(store)s); nothing was added."
            )
            % {
                "reference": reference,
                "when": timezone.localtime(entry.created_at).strftime("%Y-%m-%d %H:%M"),
                "amount": entry.amount,
                "store": entry.account.store.code,
            },
        )
    else:
        messages.success(
            request,
            gettext("Recorded %(kind)s of %(amount)s CNY for store %(store)s.")
            % {"kind": entry.get_kind_display(), "amount": abs(entry.amount), "store": account.store.code},
        )


DEPOSIT_RECORD = ObjectAction(
    "record",
    _("Record entry"),
    "merchants.adjust_deposit",
    DepositEntryForm,
    _deposit_record,
    description=_(
        "Add one entry to the store's deposit ledger. Entries are never edited or deleted; "
        "a mistaken deduction is reversed."
    ),
)


def _deposit_reverse(request, entry, data):
    started = timezone.now()
    reversal = deposit_reverse(entry=entry, reason=data["reason"], actor=request.user)
    if reversal.created_at < started:
        messages.warning(
            request,
            gettext("This entry was already reversed on %(when)s; nothing was added.")
            % {"when": timezone.localtime(reversal.created_at).strftime("%Y-%m-%d %H:%M")},
        )
    else:
        messages.success(
            request,
            gettext("Reversed: %(amount)s CNY returned to the deposit of store %(store)s.")
            % {"amount": reversal.amount, "store": entry.account.store.code},
        )


def _is_reversible(entry) -> bool:
    has_reversal = getattr(entry, "has_reversal", None)
    if has_reversal is None:
        has_reversal = DepositEntry.objects.filter(reverses=entry).exists()
    return entry.kind in (DepositEntry.Kind.DEDUCTION, DepositEntry.Kind.COMPENSATION) and not has_reversal


DEPOSIT_REVERSE = ObjectAction(
    "reverse",
    _("Reverse"),
    "merchants.adjust_deposit",
    ReasonForm,
    _deposit_reverse,
    _is_reversible,
    _("Return the money this entry took out of the deposit, with a reversal entry."),
)


def _sanction_lift(request, sanction, data):
    if sanction.lifted_at is not None:
        messages.warning(request, gettext("The sanction was already lifted."))
        return
    sanction_lift(sanction=sanction, actor=request.user, reason=data["reason"])
    messages.success(request, gettext("Sanction lifted: %(sanction)s.") % {"sanction": sanction})


SANCTION_LIFT = ObjectAction(
    "lift",
    _("Lift"),
    "merchants.sanction_store",
    ReasonForm,
    _sanction_lift,
    lambda sanction: sanction.lifted_at is None,
    _("End the sanction now."),
)


# --- Event kinds (for labels and a filter that needs no DISTINCT over the whole table) ------------

STORE_EVENT_KINDS = {
    "applied": _("applied"),
    "admission_approved": _("admission approved"),
    "admission_rejected": _("admission rejected"),
    "suspended": _("suspended"),
    "reinstated": _("reinstated"),
    "cleared_out": _("cleared out"),
    "entity_banned": _("entity banned"),
    "exit_requested": _("exit requested"),
    "exited": _("exited"),
    "sanction_imposed": _("sanction imposed"),
    "sanction_lifted": _("sanction lifted"),
    "deposit_top_up": _("deposit top-up"),
    "deposit_deduction": _("deposit deduction"),
    "deposit_compensation": _("deposit: consumer compensation"),
    "deposit_refund": _("deposit refund"),
    "deposit_reversal": _("deposit reversal"),
    "deposit_shortfall_started": _("deposit shortfall started"),
    "deposit_shortfall_ended": _("deposit shortfall ended"),
}

LISTING_EVENT_KINDS = {
    "created": _("created"),
    "edited": _("edited"),
    "delisted": _("delisted"),
    "relisted": _("relisted"),
    "removed": _("removed by the platform"),
}


class EventKindFilter(admin.SimpleListFilter):
    """Filter by event kind from the known kinds; any other kind still filters when given in the URL."""

    title = _("event")
    parameter_name = "kind"
    kinds: dict = {}

    def lookups(self, request, model_admin):
        return list(self.kinds.items())

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(kind=self.value())
        return queryset


class StoreEventKindFilter(EventKindFilter):
    kinds = STORE_EVENT_KINDS


class ListingEventKindFilter(EventKindFilter):
    kinds = LISTING_EVENT_KINDS


def _short(text: str, length: int = 60) -> str:
    return Truncator(text or "").chars(length)


# --- Entities, stores, memberships, brands -------------------------------------------------------


@admin.register(Entity)
class EntityAdmin(admin.ModelAdmin):
    list_display = ("name", "credit_code", "kind", "licence_expires_on", "banned_for_ever", "exited_on")
    list_filter = ("kind", "banned_for_ever")
    search_fields = ("name", "credit_code")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("created_at",)
        # A ban and an exit date come from a clear-out or an exit (services, with events); the code is the
        # entity's identity. Only the name, kind and licence are corrected here.
        return ("credit_code", "banned_for_ever", "banned_reason", "exited_on", "created_at")


class MembershipInline(ReadOnlyInline):
    model = Membership
    fields = ("user", "role", "created_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


class BrandAuthorisationInline(admin.TabularInline):
    model = BrandAuthorisation
    extra = 0
    raw_id_fields = ("brand",)
    fields = ("brand", "document_reference", "valid_from", "expires_on")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("brand")


class SanctionInline(ReadOnlyInline):
    model = Sanction
    fields = ("kind", "starts_at", "ends_at", "reason", "lifted_at", "lifted_reason")
    readonly_fields = fields
    formset = latest_rows_formset(20)
    verbose_name_plural = _("sanctions (latest 20)")


class EventInline(ReadOnlyInline):
    """The latest events of an aggregate, newest first."""

    fields = ("created_at", "kind", "from_status", "to_status", "reason", "actor")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    formset = latest_rows_formset(20)
    verbose_name_plural = _("events (latest 20)")
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class StoreEventInline(EventInline):
    model = StoreEvent


@admin.register(Store)
class StoreAdmin(ServiceAddMixin, ObjectActionsMixin, admin.ModelAdmin):
    list_display = ("code", "name", "entity", "status", "store_type", "opened_on")
    list_filter = ("status", "store_type", "main_category")
    search_fields = ("code", "name", "entity__name")
    list_select_related = ("entity",)
    raw_id_fields = ("entity", "brand")
    filter_horizontal = ("categories",)
    fieldsets = (
        (None, {"fields": ("code", "name", "entity", "status", "store_type", "brand")}),
        (_("Categories"), {"fields": ("main_category", "categories")}),
        (_("Dates"), {"fields": ("time_zone", "opened_on", "suspended_until", "created_at")}),
        (_("Records"), {"fields": ("related_records",)}),
    )
    inlines = (MembershipInline, BrandAuthorisationInline, SanctionInline, StoreEventInline)
    actions = ("approve_selected",)
    object_actions = STORE_ACTIONS
    service_add_fields = (
        "code",
        "name",
        "entity",
        "store_type",
        "main_category",
        "categories",
        "brand",
        "time_zone",
    )

    change_list_template = "admin/merchants/store/change_list.html"

    def get_urls(self):
        at_risk = path(
            "at-risk/", self.admin_site.admin_view(self.at_risk_view), name="merchants_store_at_risk"
        )
        return [at_risk, *super().get_urls()]

    def at_risk_view(self, request):
        """Stores at risk: the lowest scores, points near a ladder threshold, deposit shortfalls; for staff
        who may view stores. Each list capped, a fixed number of queries."""
        from merchants.risk import stores_at_risk

        if not self.has_view_permission(request):
            raise PermissionDenied
        risk = stores_at_risk()

        def links(store_id: int) -> dict[str, str]:
            return {
                "store": reverse("admin:merchants_store_change", args=[store_id]),
                "violations": _changelist_url(Violation, store__id__exact=store_id),
                "deposit": _changelist_url(DepositAccount, store__id__exact=store_id),
            }

        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Stores at risk"),
            "subtitle": None,
            "opts": self.opts,
            "risk": risk,
            "lowest_scores": [(row, links(row.store_id)) for row in risk.lowest_scores],
            "near_threshold": [(row, links(row.store.pk)) for row in risk.near_threshold],
            "shortfalls": [(row, links(row.store_id)) for row in risk.shortfalls],
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/merchants/store/at_risk.html", context)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # The status moves only by transitions; code and entity are what admission was decided on.
        return (
            "code",
            "entity",
            "brand",
            "status",
            "opened_on",
            "suspended_until",
            "created_at",
            "related_records",
        )

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        # Deleting a store would cascade away its events, listings and sanctions: the audit trail.
        return False

    @admin.display(description=_("related records"))
    def related_records(self, obj):
        links = [
            (_changelist_url(Listing, store__id__exact=obj.pk), _("listings")),
            (_changelist_url(StoreEvent, store__id__exact=obj.pk), _("all events")),
            (_changelist_url(Sanction, store__id__exact=obj.pk), _("all sanctions")),
            (_changelist_url(DepositAccount, store__id__exact=obj.pk), _("deposit account")),
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    # Adding a store is an application: store_apply checks admission and opens the deposit account.
    def adjust_service_add_form(self, form):
        form.fields["categories"].required = False
        form.fields["categories"].help_text = _("The main category is always included.")

    def create_through_service(self, request, data):
        return store_apply(
            entity=data["entity"],
            code=data["code"],
            name=data["name"],
            store_type=data["store_type"],
            main_category=data["main_category"],
            categories=list(data["categories"]),
            brand=data["brand"],
            time_zone=data["time_zone"],
            actor=request.user,
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        store = form.instance
        deposit_holding = (StoreStatus.ACTIVE, StoreStatus.SUSPENDED, StoreStatus.EXITING)
        if (
            change
            and {"categories", "main_category"} & set(form.changed_data)
            and store.status in deposit_holding
        ):
            # The required deposit follows the categories: start or end a shortfall now, not at the next check.
            deposit_position_refresh(store=store)

    def has_review_permission(self, request):
        return request.user.has_perm("merchants.review_store")

    @admin.action(description=_("Approve selected stores"), permissions=["review"])
    def approve_selected(self, request, queryset):
        approved = []
        for store in queryset.select_related("entity"):
            try:
                store_approve(store=store, actor=request.user, reason=gettext("Approved from the store list"))
            except DomainError as exc:
                for message in exc.messages:
                    self.message_user(request, f"{store.code}: {message}", messages.ERROR)
            else:
                approved.append(store.code)
        if approved:
            self.message_user(
                request,
                ngettext(
                    "Approved %(count)d store: %(codes)s.",
                    "Approved %(count)d stores: %(codes)s.",
                    len(approved),
                )
                % {"count": len(approved), "codes": ", ".join(approved)},
                messages.SUCCESS,
            )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "store", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__username", "store__code", "store__name")
    list_select_related = ("user", "store")
    raw_id_fields = ("user", "store")


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ("name", "trademark_number")
    search_fields = ("name", "trademark_number")


@admin.register(BrandAuthorisation)
class BrandAuthorisationAdmin(admin.ModelAdmin):
    list_display = ("store", "brand", "valid_from", "expires_on", "document_reference")
    search_fields = ("store__code", "brand__name", "document_reference")
    list_select_related = ("store", "brand")
    raw_id_fields = ("store",)
    autocomplete_fields = ("brand",)
    date_hierarchy = "expires_on"


# --- Sanctions ------------------------------------------------------------------------------------


class SanctionStateFilter(admin.SimpleListFilter):
    title = _("live")
    parameter_name = "live"

    def lookups(self, request, model_admin):
        return (
            ("live", _("live")),
            ("scheduled", _("not started yet")),
            ("expired", _("expired")),
            ("lifted", _("lifted")),
        )

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "live":
            return queryset.filter(lifted_at__isnull=True, starts_at__lte=now).filter(
                Q(ends_at__isnull=True) | Q(ends_at__gt=now)
            )
        if self.value() == "scheduled":
            return queryset.filter(lifted_at__isnull=True, starts_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(lifted_at__isnull=True, ends_at__lte=now)
        if self.value() == "lifted":
            return queryset.filter(lifted_at__isnull=False)
        return queryset


class SanctionAddForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        starts_at, ends_at = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", _("A sanction must end after it starts."))
        kind, listing, store = cleaned.get("kind"), cleaned.get("listing"), cleaned.get("store")
        if kind == Sanction.Kind.PRODUCT_BAN and listing is None:
            self.add_error("listing", _("A product ban names the product it bans."))
        elif kind and kind != Sanction.Kind.PRODUCT_BAN and listing is not None:
            self.add_error("listing", _("Only a product ban names a product."))
        elif listing is not None and store is not None and listing.store_id != store.pk:
            self.add_error("listing", _("The product belongs to another store."))
        return cleaned


@admin.register(Sanction)
class SanctionAdmin(ServiceAddMixin, ObjectActionsMixin, admin.ModelAdmin):
    form = SanctionAddForm
    list_display = ("store", "kind", "listing", "starts_at", "ends_at", "state", "lifted_at", "created_by")
    list_filter = ("kind", SanctionStateFilter)
    search_fields = ("store__code", "store__name", "listing__sku")
    list_select_related = ("store", "created_by", "listing")
    raw_id_fields = ("store", "listing")
    actions = ("lift_selected",)
    object_actions = (SANCTION_LIFT,)
    service_add_fields = ("store", "kind", "listing", "reason", "starts_at", "ends_at")
    fields = (
        "store",
        "kind",
        "listing",
        "reason",
        "starts_at",
        "ends_at",
        "cause_key",
        "lifted_at",
        "lifted_reason",
        "created_by",
        "created_at",
    )

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else ()

    # Sanctions change only through sanction_impose / sanction_lift; they are history, never deleted.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_lift_permission(self, request):
        return request.user.has_perm("merchants.sanction_store")

    @admin.display(description=_("state"))
    def state(self, obj):
        now = timezone.now()
        if obj.lifted_at is not None:
            return _("lifted")
        if obj.starts_at > now:
            return _("not started yet")
        if obj.ends_at is not None and obj.ends_at <= now:
            return _("expired")
        return _("live")

    def create_through_service(self, request, data):
        return sanction_impose(
            store=data["store"],
            kind=data["kind"],
            reason=data["reason"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            actor=request.user,
            listing=data.get("listing"),
        )

    @admin.action(description=_("Lift selected sanctions"), permissions=["lift"])
    def lift_selected(self, request, queryset):
        return _bulk_action_with_form(
            self,
            request,
            queryset.select_related("store").filter(lifted_at__isnull=True),
            action_name="lift_selected",
            title=_("Lift sanctions"),
            form_class=ReasonForm,
            perform_one=lambda request, sanction, data: sanction_lift(
                sanction=sanction, actor=request.user, reason=data["reason"]
            ),
            label_of=lambda sanction: str(sanction),
            done_message=lambda n: (
                ngettext("Lifted %(count)d sanction.", "Lifted %(count)d sanctions.", n) % {"count": n}
            ),
        )


# --- Listings -------------------------------------------------------------------------------------


class ListingImportForm(ImportForm):
    """import-export's upload form plus the store the rows belong to (the file has no store column)."""

    store = forms.ModelChoiceField(
        label=_("Store"),
        queryset=Store.objects.all(),
        help_text=_("The listings are created or updated (matched by SKU) in this store."),
    )
    field_order = ["store", "resource", "import_file", "format"]

    def __init__(self, formats, resources, *, admin_site=None, **kwargs):
        super().__init__(formats, resources, **kwargs)
        if admin_site is not None:
            self.fields["store"].widget = ForeignKeyRawIdWidget(
                Listing._meta.get_field("store").remote_field, admin_site
            )

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        limit = settings.LISTING_UPLOAD_MAX_BYTES
        if upload.size > limit:
            raise ValidationError(
                _("The file is %(size)s MB; the limit is %(limit)s MB. Split it into smaller files.")
                % {"size": f"{upload.size / 1048576:.1f}", "limit": f"{limit / 1048576:.0f}"}
            )
        return upload

    def clean_store(self):
        store = self.cleaned_data["store"]
        if not store.can_list:
            raise ValidationError(
                _("Store %(code)s may not list goods now (it is %(status)s or has a listing block).")
                % {"code": store.code, "status": store.get_status_display()}
            )
        return store


class ListingConfirmImportForm(ConfirmImportForm):
    store = forms.ModelChoiceField(queryset=Store.objects.all(), widget=forms.HiddenInput())


class ListingEventInline(EventInline):
    model = ListingEvent


@admin.register(Listing)
class ListingAdmin(LargeTableMixin, ObjectActionsMixin, ImportExportModelAdmin):
    list_display = ("store_code", "sku", "title", "category", "price", "stock", "status")
    list_filter = ("status", "category")
    search_fields = ("sku", "title", "store__code")
    list_select_related = ("store", "category")
    raw_id_fields = ("store",)
    fields = (
        "store",
        "sku",
        "title",
        "description",
        "category",
        "brand",
        "price",
        "stock",
        "promised_dispatch",
        "status",
        "screening_hits",
        "removal_reason",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = (ListingEventInline,)
    actions = ("remove_from_platform",)
    object_actions = (LISTING_REMOVE,)

    # Import/export (import-export's own preview-and-confirm flow; see merchants/resources.py).
    resource_classes = [ListingResource]

    def get_export_resource_classes(self, request):
        return [ListingExportResource]

    import_form_class = ListingImportForm
    confirm_form_class = ListingConfirmImportForm
    import_formats = [CSV, XLSX]
    export_formats = [CSV, XLSX]

    # Listings are the seller's: they are written only by the services (screened, logged). The platform
    # removes them; it does not edit them here.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_remove_permission(self, request):
        return request.user.has_perm("merchants.remove_listing")

    def has_import_permission(self, request):
        return request.user.has_perms(["merchants.add_listing", "merchants.change_listing"])

    def has_export_permission(self, request):
        return request.user.has_perm("merchants.view_listing")

    @admin.display(description=_("store"), ordering="store__code")
    def store_code(self, obj):
        return obj.store.code

    @admin.action(description=_("Remove selected listings from the platform"), permissions=["remove"])
    def remove_from_platform(self, request, queryset):
        return _bulk_action_with_form(
            self,
            request,
            queryset.select_related("store"),
            action_name="remove_from_platform",
            title=_("Remove listings from the platform"),
            form_class=ReasonForm,
            perform_one=lambda request, listing, data: listing_remove(
                listing=listing, actor=request.user, reason=data["reason"]
            ),
            label_of=lambda listing: f"{listing.store.code} {listing.sku}",
            done_message=lambda n: (
                ngettext("Removed %(count)d listing.", "Removed %(count)d listings.", n) % {"count": n}
            ),
        )

    # --- carrying the chosen store from the upload form, through the confirm form, to the resource ---

    def get_import_form_kwargs(self, request):
        return {**super().get_import_form_kwargs(request), "admin_site": self.admin_site}

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["store"] = import_form.cleaned_data["store"].pk
        return initial

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        cleaned = getattr(form, "cleaned_data", None) or {}
        return {"store": cleaned.get("store"), "actor": request.user}

    def get_import_data_kwargs(self, **kwargs):
        confirming = isinstance(kwargs.get("form"), ListingConfirmImportForm)
        data_kwargs = super().get_import_data_kwargs(**kwargs)
        if confirming:
            # All rows or none, as in the seller upload: a row refused at confirm time undoes the others.
            data_kwargs["rollback_on_validation_errors"] = True
        return data_kwargs

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            problems = [str(error.error) for error in result.base_errors]
            for row in result.invalid_rows:
                for column, column_messages in row.error_dict.items():
                    label = "" if column == NON_FIELD_ERRORS else f"{column}: "
                    problems.extend(
                        gettext("row %(row)d: %(problem)s") % {"row": row.number, "problem": label + message}
                        for message in column_messages
                    )
            for number, errors in result.row_errors():
                problems.extend(
                    gettext("row %(row)d: %(problem)s") % {"row": number, "problem": error.error}
                    for error in errors
                )
            self.message_user(
                request,
                gettext("Nothing was imported: %(problems)s") % {"problems": "; ".join(problems[:10])},
                messages.ERROR,
            )
            return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import"))
        return super().process_result(result, request)


# --- Deposits -------------------------------------------------------------------------------------


def _money(value) -> str:
    return f"{Decimal(value or 0):,.2f}"


class DepositEntryInline(ReadOnlyInline):
    model = DepositEntry
    fields = ("created_at", "kind", "amount", "reason", "reference", "actor", "reverses", "reverse_link")
    readonly_fields = fields
    formset = latest_rows_formset(50)
    verbose_name_plural = _("entries (latest 50)")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("actor", "reverses")
            .annotate(has_reversal=Exists(DepositEntry.objects.filter(reverses=OuterRef("pk"))))
        )

    @admin.display(description=_("reverse"))
    def reverse_link(self, obj):
        if obj.pk is None or not _is_reversible(obj):
            return ""
        url = reverse("admin:merchants_depositentry_reverse", args=[quote(obj.pk)])
        return format_html('<a href="{}">{}</a>', url, _("Reverse"))


class ShortfallFilter(admin.SimpleListFilter):
    title = _("deposit")
    parameter_name = "short"

    def lookups(self, request, model_admin):
        return (("yes", _("short of the required amount")), ("no", _("covered")))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(shortfall_since__isnull=False)
        if self.value() == "no":
            return queryset.filter(shortfall_since__isnull=True)
        return queryset


@admin.register(DepositAccount)
class DepositAccountAdmin(LargeTableMixin, ObjectActionsMixin, admin.ModelAdmin):
    list_display = ("store", "balance_display", "required_display", "shortfall_display", "shortfall_since")
    list_filter = (ShortfallFilter,)
    search_fields = ("store__code", "store__name")
    list_select_related = ("store",)
    ordering = ("store__code",)
    fields = (
        "store",
        "balance_display",
        "required_display",
        "shortfall_display",
        "shortfall_since",
        "updated_at",
        "entries_link",
    )
    readonly_fields = fields
    inlines = (DepositEntryInline,)
    object_actions = (DEPOSIT_RECORD,)

    def get_queryset(self, request):
        # Balance and required deposit are computed in the database, one query for the whole page.
        queryset = deposit_accounts_with_position()
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    # Accounts are opened by store_apply and moved only by ledger entries.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("balance (CNY)"), ordering="balance")
    def balance_display(self, obj):
        return _money(obj.balance)

    @admin.display(description=_("required (CNY)"), ordering="required")
    def required_display(self, obj):
        return _money(obj.required)

    @admin.display(description=_("shortfall (CNY)"))
    def shortfall_display(self, obj):
        return _money(max(obj.required - obj.balance, Decimal("0")))

    @admin.display(description=_("ledger"))
    def entries_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', _changelist_url(DepositEntry, account__id__exact=obj.pk), _("all entries")
        )


@admin.register(DepositEntry)
class DepositEntryAdmin(LargeTableMixin, ReadOnlyAdminMixin, ObjectActionsMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "store_code",
        "kind",
        "amount",
        "short_reason",
        "reference",
        "actor",
        "reverse_link",
    )
    list_filter = ("kind",)
    search_fields = ("=account__store__code", "=reference")
    list_select_related = ("account__store", "actor")
    date_hierarchy = "created_at"
    fields = (
        "account",
        "kind",
        "amount",
        "reason",
        "reference",
        "cause_key",
        "reverses",
        "actor",
        "created_at",
    )
    readonly_fields = fields
    object_actions = (DEPOSIT_REVERSE,)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(has_reversal=Exists(DepositEntry.objects.filter(reverses=OuterRef("pk"))))
        )

    def object_action_success_url(self, request, obj, action):
        return _change_url(obj.account)

    @admin.display(description=_("store"), ordering="account__store__code")
    def store_code(self, obj):
        return obj.account.store.code

    @admin.display(description=_("reason"))
    def short_reason(self, obj):
        return _short(obj.reason)

    @admin.display(description=_("reverse"))
    def reverse_link(self, obj):
        if not _is_reversible(obj):
            return ""
        return format_html('<a href="{}">{}</a>', self.object_action_url(obj, "reverse"), _("Reverse"))


# --- Events ---------------------------------------------------------------------------------------


@admin.register(StoreEvent)
class StoreEventAdmin(LargeTableMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "store", "kind_label", "from_status", "to_status", "actor", "short_reason")
    list_filter = (StoreEventKindFilter,)
    search_fields = ("=store__code",)
    list_select_related = ("store", "actor")
    date_hierarchy = "created_at"
    fields = ("store", "kind", "from_status", "to_status", "reason", "data", "actor", "created_at")
    readonly_fields = fields

    @admin.display(description=_("event"), ordering="kind")
    def kind_label(self, obj):
        return STORE_EVENT_KINDS.get(obj.kind, obj.kind)

    @admin.display(description=_("reason"))
    def short_reason(self, obj):
        return _short(obj.reason)


@admin.register(ListingEvent)
class ListingEventAdmin(LargeTableMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "store_code",
        "listing_sku",
        "kind_label",
        "from_status",
        "to_status",
        "actor",
    )
    list_filter = (ListingEventKindFilter,)
    search_fields = ("=listing__sku", "=listing__store__code")
    list_select_related = ("listing__store", "actor")
    date_hierarchy = "created_at"
    fields = ("listing", "kind", "from_status", "to_status", "reason", "data", "actor", "created_at")
    readonly_fields = fields

    @admin.display(description=_("store"), ordering="listing__store__code")
    def store_code(self, obj):
        return obj.listing.store.code

    @admin.display(description=_("SKU"), ordering="listing__sku")
    def listing_sku(self, obj):
        return obj.listing.sku

    @admin.display(description=_("event"), ordering="kind")
    def kind_label(self, obj):
        return LISTING_EVENT_KINDS.get(obj.kind, obj.kind)


# --- The rule table -------------------------------------------------------------------------------


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_zh", "base_deposit", "service_fee_rate", "is_risky")
    list_filter = ("is_risky",)
    search_fields = ("code", "name", "name_zh")


@admin.register(RuleParameter)
class RuleParameterAdmin(admin.ModelAdmin):
    list_display = ("key", "value", "unit", "section", "description")
    list_editable = ("value",)
    list_filter = ("section",)
    search_fields = ("key", "description")

    def get_readonly_fields(self, request, obj=None):
        # The code looks parameters up by key: renaming one would break the engine.
        return ("key",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PublicHoliday)
class PublicHolidayAdmin(admin.ModelAdmin):
    """The public-holiday calendar working-day deadlines count with: enter each year's State Council
    arrangement (days off, and make-up working days on weekends) when it is published."""

    list_display = ("day", "weekday", "kind", "name", "note")
    list_filter = ("kind",)
    search_fields = ("name", "note")
    date_hierarchy = "day"

    @admin.display(description=_("weekday"))
    def weekday(self, obj):
        return formats.date_format(obj.day, "l")


@admin.register(ScreeningPattern)
class ScreeningPatternAdmin(admin.ModelAdmin):
    list_display = ("pattern", "kind", "label", "is_regex", "is_active")
    list_display_links = ("pattern",)
    list_editable = ("is_active",)
    list_filter = ("kind", "is_active", "is_regex")
    search_fields = ("pattern", "label")


@admin.register(PointLadderStep)
class PointLadderStepAdmin(admin.ModelAdmin):
    list_display = ("ledger", "threshold", "penalties", "duration_days")
    list_filter = ("ledger",)


@admin.register(CompensationRule)
class CompensationRuleAdmin(admin.ModelAdmin):
    list_display = ("kind", "promised_hours_min", "promised_hours_max", "rate", "minimum", "maximum")
    list_filter = ("kind",)
    search_fields = ("kind", "description")


# --- Settlement and withdrawals -------------------------------------------------------------------


class WithdrawalApproveForm(forms.Form):
    bank_reference = forms.CharField(
        label=_("bank reference"), max_length=100, help_text=_("The reference of the payout transfer.")
    )


def _withdrawal_approve(request, withdrawal, data):
    withdrawal_approve(withdrawal=withdrawal, actor=request.user, bank_reference=data["bank_reference"])
    messages.success(request, gettext("Withdrawal approved and recorded as paid out."))


def _withdrawal_reject(request, withdrawal, data):
    withdrawal_reject(withdrawal=withdrawal, actor=request.user, reason=data["reason"])
    messages.success(request, gettext("Withdrawal rejected; the amount is withdrawable again."))


WITHDRAWAL_ACTIONS = (
    ObjectAction(
        "approve",
        _("Approve and pay out"),
        "merchants.decide_withdrawal",
        WithdrawalApproveForm,
        _withdrawal_approve,
        _can("approve"),
        _("Record the payout. Refused while the store's withdrawals are held or it owes fees."),
    ),
    ObjectAction(
        "reject",
        _("Reject"),
        "merchants.decide_withdrawal",
        ReasonForm,
        _withdrawal_reject,
        _can("reject"),
        _("Refuse the withdrawal; the amount returns to the store's withdrawable balance."),
    ),
)


@admin.register(Withdrawal)
class WithdrawalAdmin(ObjectActionsMixin, admin.ModelAdmin):
    list_display = ("store", "amount", "status", "requested_at", "requested_by", "decided_at", "decided_by")
    list_filter = ("status",)
    search_fields = ("store__code", "bank_reference")
    list_select_related = ("store", "requested_by", "decided_by")
    date_hierarchy = "requested_at"
    fields = (
        "store",
        "amount",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "decision_reason",
        "bank_reference",
    )
    readonly_fields = fields
    object_actions = WITHDRAWAL_ACTIONS

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SettlementEntry)
class SettlementEntryAdmin(LargeTableMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "store",
        "kind",
        "amount",
        "available_at",
        "released_at",
        "reason",
        "cause_key",
        "created_at",
    )
    list_filter = ("kind",)
    search_fields = ("store__code", "cause_key")
    list_select_related = ("store",)


# --- Violations -----------------------------------------------------------------------------------


def _violation_revoke(request, violation, data):
    violation_revoke(violation=violation, actor=request.user, reason=data["reason"])
    messages.success(request, gettext("Violation revoked: points, deductions and restrictions returned."))


VIOLATION_REVOKE = ObjectAction(
    "revoke",
    _("Revoke"),
    "merchants.record_violation",
    ReasonForm,
    _violation_revoke,
    _can("revoke"),
    _(
        "Undo everything this violation caused: deductions and compensation reversed, points taken back, "
        "ladder restrictions below the new total lifted."
    ),
)


@admin.register(Violation)
class ViolationAdmin(LargeTableMixin, ServiceAddMixin, ObjectActionsMixin, admin.ModelAdmin):
    list_display = (
        "store",
        "violation_type",
        "ledger",
        "points",
        "status",
        "cause_kind",
        "cause_id",
        "occurred_at",
    )
    list_filter = ("status", "ledger", "violation_type")
    search_fields = ("store__code", "cause_id")
    list_select_related = ("store", "violation_type")
    raw_id_fields = ("store",)
    date_hierarchy = "occurred_at"
    object_actions = (VIOLATION_REVOKE,)
    service_add_fields = (
        "store",
        "violation_type",
        "cause_kind",
        "cause_id",
        "cause_label",
        "points",
        "reason",
    )
    fields = (
        "store",
        "violation_type",
        "cause_kind",
        "cause_id",
        "cause_label",
        "occurred_at",
        "ledger",
        "point_year",
        "points",
        "status",
        "reason",
        "recorded_by",
        "revoked_at",
    )

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else ()

    def has_add_permission(self, request):
        return request.user.has_perm("merchants.record_violation")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def create_through_service(self, request, data):
        violation, created = violation_record(
            store=data["store"],
            type_code=data["violation_type"].code,
            cause_kind=data["cause_kind"],
            cause_id=data["cause_id"],
            cause_label=data.get("cause_label") or "",
            points=data.get("points"),
            reason=data.get("reason") or "",
            actor=request.user,
        )
        if not created:
            raise DomainError(gettext("This violation was already recorded for that cause."))
        return violation


@admin.register(ViolationType)
class ViolationTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "severity", "points", "deposit_deduction", "compensation_kind")
    list_editable = ("points", "deposit_deduction")

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PointEntry)
class PointEntryAdmin(LargeTableMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("store", "ledger", "year", "points", "violation", "created_at")
    list_filter = ("ledger", "year")
    search_fields = ("store__code",)
    list_select_related = ("store", "violation__violation_type")


# --- Occurrence ladders, rules exam, closed point years --------------------------------------------


@admin.register(OccurrenceLadderStep)
class OccurrenceLadderStepAdmin(admin.ModelAdmin):
    list_display = ("violation_type", "occurrence", "penalties", "duration_days")
    list_filter = ("violation_type",)
    list_select_related = ("violation_type",)


@admin.register(OccurrenceLadderApplication)
class OccurrenceLadderApplicationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("store", "violation_type", "year", "occurrence", "penalties", "applied_at", "undone_at")
    list_filter = ("violation_type", "year")
    search_fields = ("store__code",)
    list_select_related = ("store", "violation_type")


@admin.register(RulesExamRequirement)
class RulesExamRequirementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("store", "cause_key", "required_at", "passed_at", "lifted_at")
    search_fields = ("store__code", "cause_key")
    list_select_related = ("store",)
    date_hierarchy = "required_at"


@admin.register(RulesExamAttempt)
class RulesExamAttemptAdmin(LargeTableMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("store", "user", "started_at", "submitted_at", "score", "passed")
    list_filter = ("passed",)
    search_fields = ("store__code", "user__username")
    list_select_related = ("store", "user")


@admin.register(PointYearClose)
class PointYearCloseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("store", "year", "general_points", "serious_points", "closed_at")
    list_filter = ("year",)
    search_fields = ("store__code",)
    list_select_related = ("store",)
