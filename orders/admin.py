"""The back office over orders: thin, read-mostly admin screens over the orders services.

Orders, shipments, tracking events and reveals are written only by services (with events); here they are
read, and the few staff actions (refund, rotate a carrier's webhook key) are buttons that call a service.
The orders changelist stays fast on a million rows: no full COUNT(*) (an estimated count when unfiltered),
the store joined in the page query, exact-match search on indexed columns, sorting only by payment time.
Buyer contact data is never shown in clear here: only masked, and not at all in a form.
"""

from __future__ import annotations

import re
import secrets

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from django_fsm import can_proceed
from import_export.admin import ExportMixin, ImportMixin
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import ConfirmImportForm, ImportForm

from merchants.admin import (
    EventInline,
    LargeTableMixin,
    ObjectAction,
    ObjectActionsMixin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    ReasonForm,
)
from merchants.models import Store
from orders.jobs import (
    ImportOptions,
    ImportPreviewStorage,
    ImportUploadRefused,
    import_job_create,
    import_upload_check,
)
from orders.models import (
    BuyerDataReveal,
    Carrier,
    ImportJob,
    ImportJobEvent,
    Order,
    OrderEvent,
    OrderLine,
    Shipment,
    TrackingEvent,
)
from orders.resources import OrderExportResource, OrderImportColumns
from orders.rules import mask_address, mask_name, mask_phone
from orders.services import normalise_tracking_no, order_refund
from orders.webhooks import carrier_webhook_secret_rotate


def _change_link(obj, label=None) -> str:
    if obj is None:
        return "—"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label if label is not None else obj)


# --- Orders ---------------------------------------------------------------------------------------


def _order_refund(request, order, data):
    order_refund(order=order, actor=request.user, reason=data["reason"])
    messages.success(
        request,
        gettext("Order %(order_no)s refunded (%(amount)s CNY).")
        % {"order_no": order.order_no, "amount": order.amount_paid},
    )


ORDER_REFUND = ObjectAction(
    "refund",
    _("Refund"),
    "orders.change_order",
    ReasonForm,
    _order_refund,
    lambda order: can_proceed(order.refund),
    _("Refund the buyer in full for a shipped or delivered order (after-sales). This cannot be undone."),
)


# Encrypted at rest: a list page has no use for them, and each would be decrypted for every row.
RECIPIENT_FIELDS = ("recipient_name", "recipient_phone", "recipient_region", "recipient_address")


class OrderChangeList(ChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        return super().get_queryset(request, exclude_parameters).defer(*RECIPIENT_FIELDS)


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("sku", "title", "quantity", "unit_price", "promised_dispatch", "service_fee_rate", "listing")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("listing")


class OrderEventInline(EventInline):
    model = OrderEvent


class OrderImportAdminForm(ImportForm):
    """import-export's upload form with the store and the import's options. The file's format (TikTok Shop,
    Douyin, our template; CSV or XLSX) is recognised by the import from its content, so there is no format
    choice."""

    store = forms.ModelChoiceField(
        label=_("Store"),
        queryset=Store.objects.all(),
        help_text=_("The orders are imported into this store."),
    )
    skip_invalid = forms.BooleanField(
        label=_("Import the good orders, leave out the refused ones"),
        required=False,
        help_text=_("Without this, one refused row stops the whole file."),
    )
    update_existing = forms.BooleanField(
        label=_("Update orders already imported"),
        required=False,
        help_text=_("Move them forward to the file's status; otherwise they are left as they are."),
    )
    field_order = ["store", "import_file", "skip_invalid", "update_existing"]

    def __init__(self, formats, resources, *, admin_site=None, **kwargs):
        super().__init__(formats, resources, **kwargs)
        del self.fields["format"]
        self.fields["import_file"].widget.attrs.pop("class", None)
        if admin_site is not None:
            self.fields["store"].widget = ForeignKeyRawIdWidget(
                ImportJob._meta.get_field("store").remote_field, admin_site
            )

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        try:
            import_upload_check(upload)
        except ImportUploadRefused as refusal:
            raise ValidationError(refusal.messages) from refusal
        return upload


class OrderConfirmImportForm(ConfirmImportForm):
    store = forms.ModelChoiceField(queryset=Store.objects.all(), widget=forms.HiddenInput())
    skip_invalid = forms.BooleanField(required=False, widget=forms.HiddenInput())
    update_existing = forms.BooleanField(required=False, widget=forms.HiddenInput())


PREVIEW_ERRORS_SHOWN = 100


class OrderImportExportMixin(ImportMixin, ExportMixin):
    """The admin's import and export of orders.

    Import: import-export's two steps, but the rows are never read by a Resource: the preview step runs
    `orders_import(..., dry_run=True)` on the uploaded file (kept in `ImportPreviewStorage` between the steps)
    and shows its figures and row errors; the confirm step makes the file an import job
    (`import_job_create`), which runs `orders_import` for real, as the seller page's jobs do.
    Export: `OrderExportResource`, buyer data masked, formula-safe.
    """

    import_form_class = OrderImportAdminForm
    confirm_form_class = OrderConfirmImportForm
    import_template_name = "admin/orders/order_import.html"
    tmp_storage_class = ImportPreviewStorage
    resource_classes = [OrderImportColumns]
    import_formats = [CSV, XLSX]
    export_formats = [CSV, XLSX]

    def get_export_resource_classes(self, request):
        return [OrderExportResource]

    def has_import_permission(self, request):
        return request.user.has_perm("orders.import_orders")

    def has_export_permission(self, request):
        return request.user.has_perm("orders.view_order")

    def get_import_form_kwargs(self, request):
        return {**super().get_import_form_kwargs(request), "admin_site": self.admin_site}

    def get_confirm_form_initial(self, request, import_form):
        if import_form is None:
            return {}
        cleaned = import_form.cleaned_data
        return {
            "import_file_name": cleaned["import_file"].tmp_storage_name,
            "original_file_name": cleaned["import_file"].name,
            "format": "0",
            "resource": cleaned.get("resource", ""),
            "store": cleaned["store"].pk,
            "skip_invalid": cleaned["skip_invalid"],
            "update_existing": cleaned["update_existing"],
        }

    def import_action(self, request, **kwargs):
        """Step 1: upload and preview (a dry run of the real import)."""
        from orders.imports import OrderImportError, orders_import

        if not self.has_import_permission(request):
            raise PermissionDenied
        form = self.create_import_form(request)
        context = {}
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["import_file"]
            store = form.cleaned_data["store"]
            tmp_storage = self.get_tmp_storage_class()(**self.get_tmp_storage_class_kwargs())
            tmp_storage.save_upload(upload)
            upload.tmp_storage_name = tmp_storage.name
            try:
                result = orders_import(
                    store=store,
                    source=tmp_storage.path(),
                    dry_run=True,
                    skip_invalid=form.cleaned_data["skip_invalid"],
                    update_existing=form.cleaned_data["update_existing"],
                    actor=request.user,
                )
            except OrderImportError as refusal:
                tmp_storage.remove()
                for message in refusal.messages:
                    form.add_error("import_file", message)
            else:
                importable = (result.created or result.updated) and (
                    not result.error_count or form.cleaned_data["skip_invalid"]
                )
                if importable:
                    context["confirm_form"] = self.create_confirm_form(request, import_form=form)
                else:
                    tmp_storage.remove()
                context.update(
                    preview=result,
                    preview_store=store,
                    preview_errors=[str(error) for error in result.errors[:PREVIEW_ERRORS_SHOWN]],
                    preview_more_errors=max(result.error_count - PREVIEW_ERRORS_SHOWN, 0),
                )
        context.update(self.admin_site.each_context(request))
        context.update(
            title=gettext("Import orders"),
            form=form,
            opts=self.model._meta,
            media=self.media + form.media,
            fields_list=[
                (resource.get_display_name(), [f.column_name for f in resource.get_user_visible_fields()])
                for resource in (cls() for cls in self.get_import_resource_classes(request))
            ],
        )
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.import_template_name], context)

    @method_decorator(require_POST)
    def process_import(self, request, **kwargs):
        """Step 2: confirm. The previewed file becomes an import job (queued after the commit)."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        import_url = reverse("admin:orders_order_import", current_app=self.admin_site.name)
        form = self.create_confirm_form(request)
        if not form.is_valid():
            self.message_user(
                request, gettext("The confirmation was incomplete; upload the file again."), messages.ERROR
            )
            return HttpResponseRedirect(import_url)
        tmp_storage = self.get_tmp_storage_class()(
            name=form.cleaned_data["import_file_name"], **self.get_tmp_storage_class_kwargs()
        )
        if not tmp_storage.exists():
            self.message_user(
                request,
                gettext(
                    "The previewed file is no longer here (already imported, or expired); upload it again."
                ),
                messages.ERROR,
            )
            return HttpResponseRedirect(import_url)
        with tmp_storage.open() as handle:
            handle.name = form.cleaned_data["original_file_name"]
            try:
                job = import_job_create(
                    store=form.cleaned_data["store"],
                    actor=request.user,
                    upload=handle,
                    options=ImportOptions(
                        skip_invalid=form.cleaned_data["skip_invalid"],
                        update_existing=form.cleaned_data["update_existing"],
                    ),
                )
            except ImportUploadRefused as refusal:
                self.message_user(request, " ".join(refusal.messages), messages.ERROR)
                return HttpResponseRedirect(import_url)
        tmp_storage.remove()
        self.message_user(
            request,
            gettext("Import of %(file)s into %(store)s: job %(job)s (%(status)s).")
            % {
                "file": job.original_filename,
                "store": job.store.code,
                "job": job.pk,
                "status": ImportJob.objects.get(pk=job.pk).get_status_display(),
            },
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:orders_importjob_change", args=[job.pk], current_app=self.admin_site.name)
        )

    def get_export_data(self, file_format, request, queryset, **kwargs):
        # A million orders do not fit one response: the filters narrow the export first.
        if queryset.order_by()[: ADMIN_EXPORT_MAX_ROWS + 1].count() > ADMIN_EXPORT_MAX_ROWS:
            raise ValueError(
                gettext("More than %(limit)d orders match; filter the list (e.g. by store) and export again.")
                % {"limit": ADMIN_EXPORT_MAX_ROWS}
            )
        return super().get_export_data(file_format, request, queryset, **kwargs)


ADMIN_EXPORT_MAX_ROWS = 50_000


@admin.register(Order)
class OrderAdmin(OrderImportExportMixin, LargeTableMixin, ObjectActionsMixin, admin.ModelAdmin):
    list_display = (
        "order_no",
        "store_code",
        "status",
        "fulfilment",
        "amount_paid",
        "paid_at",
        "dispatch_deadline",
    )
    list_filter = ("status", "fulfilment", "is_advertising")
    # Matched exactly by get_search_results (an order number, or a store code): no LIKE over a big table.
    search_fields = ("=order_no", "=store__code")
    search_help_text = _("An order number or a store code, exactly.")
    list_select_related = ("store",)
    raw_id_fields = ("store",)
    # Sorting a million rows by anything but the indexed payment time would sort them all.
    sortable_by = ("paid_at",)
    show_facets = admin.ShowFacets.NEVER
    fieldsets = (
        (None, {"fields": ("store", "order_no", "status", "fulfilment", "is_advertising", "buyer_message")}),
        (_("Money"), {"fields": ("amount_paid", "service_fee")}),
        (
            _("Times"),
            {
                "fields": (
                    "paid_at",
                    "dispatch_deadline",
                    "dispatched_at",
                    "delivered_at",
                    "completed_at",
                    "closed_at",
                    "created_at",
                )
            },
        ),
        (
            _("Recipient (masked)"),
            {"fields": ("recipient_name_masked", "recipient_phone_masked", "recipient_address_masked")},
        ),
        (_("Shipment"), {"fields": ("shipment_summary",)}),
    )
    readonly_fields = (
        "store",
        "order_no",
        "status",
        "fulfilment",
        "is_advertising",
        "buyer_message",
        "amount_paid",
        "service_fee",
        "paid_at",
        "dispatch_deadline",
        "dispatched_at",
        "delivered_at",
        "completed_at",
        "closed_at",
        "created_at",
        "recipient_name_masked",
        "recipient_phone_masked",
        "recipient_address_masked",
        "shipment_summary",
    )
    inlines = (OrderLineInline, OrderEventInline)
    object_actions = (ORDER_REFUND,)

    # Orders are created by order_create and moved only by their services (ship, refund, ...).
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changelist(self, request, **kwargs):
        return OrderChangeList

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        # A store code (a small table) filters by store; anything else is an order number.
        store_id = Store.objects.filter(code__iexact=term).order_by().values_list("pk", flat=True).first()
        if store_id is not None:
            return queryset.filter(store_id=store_id), False
        return queryset.filter(order_no=term), False

    @admin.display(description=_("store"))
    def store_code(self, obj):
        return obj.store.code

    @admin.display(description=_("recipient"))
    def recipient_name_masked(self, obj):
        return mask_name(obj.recipient_name)

    @admin.display(description=_("recipient phone"))
    def recipient_phone_masked(self, obj):
        return mask_phone(obj.recipient_phone)

    @admin.display(description=_("address"))
    def recipient_address_masked(self, obj):
        return mask_address(region=obj.recipient_region, detail=obj.recipient_address)

    @admin.display(description=_("shipment"))
    def shipment_summary(self, obj):
        shipment = Shipment.objects.filter(order=obj).select_related("carrier").first()
        if shipment is None:
            return "—"
        return _change_link(shipment, f"{shipment.carrier.name} {shipment.tracking_no}")


# --- Shipments and tracking -----------------------------------------------------------------------


class TrackingEventInline(ReadOnlyInline):
    model = TrackingEvent
    fields = ("occurred_at", "kind", "location", "description", "source", "received_at")
    readonly_fields = fields
    show_change_link = False


@admin.register(Shipment)
class ShipmentAdmin(LargeTableMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("tracking_no", "carrier", "order_link", "store_code", "created_at", "first_pickup_at")
    list_filter = ("carrier",)
    search_fields = ("=tracking_no",)
    search_help_text = _("A tracking number, exactly.")
    list_select_related = ("carrier", "order__store")
    raw_id_fields = ("order",)
    sortable_by = ()
    show_facets = admin.ShowFacets.NEVER
    fields = ("order", "carrier", "tracking_no", "created_at", "first_pickup_at", "created_by")
    readonly_fields = fields
    inlines = (TrackingEventInline,)

    def get_search_results(self, request, queryset, search_term):
        number = normalise_tracking_no(search_term)
        if not number:
            return queryset, False
        return queryset.filter(tracking_no=number), False

    @admin.display(description=_("order"))
    def order_link(self, obj):
        return _change_link(obj.order, obj.order.order_no)

    @admin.display(description=_("store"))
    def store_code(self, obj):
        return obj.order.store.code


@admin.register(TrackingEvent)
class TrackingEventAdmin(LargeTableMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("occurred_at", "tracking_no", "carrier", "kind", "location", "source", "received_at")
    list_filter = ("kind", "source")
    search_fields = ("=shipment__tracking_no",)
    search_help_text = _("A tracking number, exactly.")
    list_select_related = ("shipment__carrier",)
    sortable_by = ()
    show_facets = admin.ShowFacets.NEVER
    fields = ("shipment", "kind", "occurred_at", "location", "description", "source", "received_at")
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        number = normalise_tracking_no(search_term)
        if not number:
            return queryset, False
        return queryset.filter(shipment__tracking_no=number), False

    @admin.display(description=_("tracking number"))
    def tracking_no(self, obj):
        return obj.shipment.tracking_no

    @admin.display(description=_("carrier"))
    def carrier(self, obj):
        return obj.shipment.carrier.name


# --- Carriers -------------------------------------------------------------------------------------


class CarrierForm(forms.ModelForm):
    class Meta:
        model = Carrier
        fields = (
            "code",
            "name",
            "name_zh",
            "tracking_pattern",
            "tracking_example",
            "is_cross_border",
            "is_active",
        )

    def clean_tracking_pattern(self):
        pattern = self.cleaned_data["tracking_pattern"]
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValidationError(
                _("This is not a valid regular expression: %(error)s.") % {"error": exc}
            ) from exc
        return pattern

    def clean(self):
        cleaned = super().clean()
        pattern, example = cleaned.get("tracking_pattern"), cleaned.get("tracking_example")
        if pattern and example and not re.fullmatch(pattern, example):
            self.add_error("tracking_example", _("The example does not match the tracking number pattern."))
        return cleaned


class ConfirmForm(forms.Form):
    """An action that needs nothing but a second click."""


def _carrier_rotate_secret(request, carrier, data):
    # Shown once, on the page that answers this POST (see CarrierAdmin.object_action_view).
    request.new_webhook_secret = carrier_webhook_secret_rotate(carrier=carrier, actor=request.user)
    LogEntry.objects.log_actions(
        user_id=request.user.pk,
        queryset=[carrier],
        action_flag=CHANGE,
        change_message="Rotated the webhook secret.",
        single_object=True,
    )


CARRIER_ROTATE_SECRET = ObjectAction(
    "rotate_secret",
    _("Rotate webhook secret"),
    "orders.change_carrier",
    ConfirmForm,
    _carrier_rotate_secret,
    description=_(
        "Replace the key the carrier signs its tracking calls with. Calls signed with the old key are "
        "refused from now on: give the new key to the carrier at once. It is shown only once."
    ),
)


def _masked_secret(secret: str) -> str:
    return f"••••••••{secret[-4:]}" if len(secret) >= 8 else ("••••" if secret else "—")


@admin.register(Carrier)
class CarrierAdmin(ObjectActionsMixin, admin.ModelAdmin):
    form = CarrierForm
    list_display = ("code", "name", "name_zh", "tracking_example", "is_cross_border", "is_active", "secret")
    list_filter = ("is_active", "is_cross_border")
    search_fields = ("code", "name", "name_zh")
    fields = (
        "code",
        "name",
        "name_zh",
        "tracking_pattern",
        "tracking_example",
        "is_cross_border",
        "is_active",
        "secret",
        "webhook_url",
    )
    object_actions = (CARRIER_ROTATE_SECRET,)

    def get_readonly_fields(self, request, obj=None):
        # The code is in the carrier's webhook URL: changing it would cut their calls off.
        return ("code", "secret", "webhook_url") if obj is not None else ("secret", "webhook_url")

    def has_delete_permission(self, request, obj=None):
        # Shipments keep their carrier; a carrier no longer used is made inactive.
        return False

    def save_model(self, request, obj, form, change):
        if not change and not obj.webhook_secret:
            obj.webhook_secret = secrets.token_hex(32)
        super().save_model(request, obj, form, change)

    @admin.display(description=_("webhook secret"))
    def secret(self, obj):
        return _masked_secret(obj.webhook_secret if obj else "")

    @admin.display(description=_("webhook URL"))
    def webhook_url(self, obj):
        if obj is None or not obj.pk:
            return "—"
        return reverse("webhooks:carrier_tracking", args=[obj.code])

    def object_action_view(self, request, object_id, action_name):
        response = super().object_action_view(request, object_id, action_name)
        secret = getattr(request, "new_webhook_secret", None)
        if secret is None or not isinstance(response, HttpResponseRedirect):
            return response
        carrier = self.get_object(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("New webhook secret for %(carrier)s") % {"carrier": carrier},
            "subtitle": None,
            "opts": self.opts,
            "original": carrier,
            "secret": secret,
            "webhook_url": request.build_absolute_uri(self.webhook_url(carrier)),
            "change_url": response.url,
        }
        request.current_app = self.admin_site.name
        secret_page = TemplateResponse(request, "admin/orders/carrier_secret.html", context)
        add_never_cache_headers(secret_page)
        return secret_page


# --- Buyer data reveals ---------------------------------------------------------------------------


@admin.register(BuyerDataReveal)
class BuyerDataRevealAdmin(LargeTableMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "user", "order_no", "store_code", "purpose")
    # Only the users who have revealed anything are offered, and the date filter needs no extra query.
    list_filter = (("user", admin.RelatedOnlyFieldListFilter), "created_at", "purpose")
    search_fields = ("=user__username",)
    search_help_text = _("A user name, exactly.")
    list_select_related = ("user", "order__store")
    sortable_by = ("created_at",)
    show_facets = admin.ShowFacets.NEVER
    fields = ("created_at", "user", "order", "purpose")
    readonly_fields = fields

    @admin.display(description=_("order"))
    def order_no(self, obj):
        return _change_link(obj.order, obj.order.order_no)

    @admin.display(description=_("store"))
    def store_code(self, obj):
        return obj.order.store.code


# --- Order import jobs ----------------------------------------------------------------------------


class ImportJobEventInline(EventInline):
    model = ImportJobEvent


@admin.register(ImportJob)
class ImportJobAdmin(LargeTableMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The imports of every store (seller page and admin), read-only; the files only through the views below."""

    list_display = (
        "created_at",
        "store_code",
        "original_filename",
        "status",
        "progress_percent",
        "created",
        "updated",
        "skipped",
        "refused",
        "error_count",
        "created_by",
    )
    list_filter = ("status", "dry_run")
    search_fields = ("=store__code",)
    search_help_text = _("A store code, exactly.")
    list_select_related = ("store", "created_by")
    sortable_by = ("created_at",)
    show_facets = admin.ShowFacets.NEVER
    fields = (
        "store",
        "created_by",
        "original_filename",
        "size",
        "files",
        ("skip_invalid", "update_existing", "dry_run"),
        "status",
        "progress",
        "failure_message",
        "file_format",
        ("lines", "orders"),
        ("created", "updated", "skipped", "unpaid", "refused", "refused_lines"),
        "error_count",
        "first_errors",
        ("created_at", "started_at", "finished_at"),
    )
    readonly_fields = tuple(
        name for entry in fields for name in (entry if isinstance(entry, tuple) else (entry,))
    )
    inlines = (ImportJobEventInline,)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or request.user.has_perm("orders.import_orders")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("errors")

    def get_urls(self):
        return [
            path(
                "<int:job_id>/file/<str:kind>/",
                self.admin_site.admin_view(self.file_view),
                name="orders_importjob_file",
            ),
            *super().get_urls(),
        ]

    def file_view(self, request, job_id, kind):
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = ImportJob.objects.filter(pk=job_id).first()
        if job is None or kind not in ("upload", "errors"):
            raise Http404
        stored = job.error_file if kind == "errors" else job.upload
        if not stored:
            raise Http404
        base = job.original_filename.rsplit(".", 1)[0] or "orders"
        filename = f"{base}-errors.csv" if kind == "errors" else job.original_filename
        try:
            response = FileResponse(stored.open("rb"), as_attachment=True, filename=filename)
        except FileNotFoundError as exc:
            raise Http404 from exc
        patch_cache_control(response, no_store=True, no_cache=True, private=True)
        return response

    @admin.display(description=_("store"))
    def store_code(self, obj):
        return obj.store.code

    @admin.display(description=_("progress"))
    def progress(self, obj):
        return format_html(
            '<progress max="100" value="{}">{}%</progress> {}% {}', obj.progress_percent, obj.progress_percent,
            obj.progress_percent, obj.progress_phase,
        )  # fmt: skip

    @admin.display(description=_("files"))
    def files(self, obj):
        links = [
            format_html(
                '<a href="{}">{}</a>',
                reverse("admin:orders_importjob_file", args=[obj.pk, "upload"]),
                gettext("uploaded file"),
            )
        ]
        if obj.error_file:
            links.append(
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:orders_importjob_file", args=[obj.pk, "errors"]),
                    gettext("refused rows (CSV)"),
                )
            )
        return format_html_join(" · ", "{}", ((link,) for link in links))

    @admin.display(description=_("first problems"))
    def first_errors(self, obj):
        if not obj.errors:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><code>row {}: {}: {}</code></li>",
                ((e.get("line"), e.get("column"), e.get("message")) for e in obj.errors),
            ),
        )
