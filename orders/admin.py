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
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

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
from orders.models import (
    BuyerDataReveal,
    Carrier,
    Order,
    OrderEvent,
    OrderLine,
    Shipment,
    TrackingEvent,
)
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


@admin.register(Order)
class OrderAdmin(LargeTableMixin, ObjectActionsMixin, admin.ModelAdmin):
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
