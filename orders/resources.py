"""Orders as spreadsheets for the admin (django-import-export 4).

- **Export** (`OrderExportResource`): the seller export's columns plus the store; the recipient is masked
  (`张**`, `138****5678`, the address cut after the district), never in clear, and every text cell is
  formula-safe.
- **Import** does not go through a Resource's `import_data`: the admin's import and confirm views hand the
  file to `orders.imports.orders_import` (preview: a dry run; confirm: an import job), the one validation
  and write path shared with the seller page and the `import_orders` command. `OrderImportColumns` only
  describes our template's columns on the import page.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy
from import_export import fields, resources, widgets

from merchants.resources import FormulaSafeTextWidget
from merchants.spreadsheets import formula_safe
from orders.models import Order
from orders.rules import mask_address, mask_name, mask_phone

EXPORT_COLUMNS = (
    "store",
    "order_no",
    "status",
    "fulfilment",
    "paid_at",
    "dispatch_deadline",
    "amount_paid",
    "service_fee",
    "items",
    "recipient_name",
    "recipient_phone",
    "recipient_address",
    "buyer_message",
    "carrier",
    "tracking_no",
)


def _local_text(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


class OrderExportResource(resources.ModelResource):
    store = fields.Field(attribute="store__code", column_name="store", widget=FormulaSafeTextWidget())
    order_no = fields.Field(attribute="order_no", column_name="order_no", widget=FormulaSafeTextWidget())
    status = fields.Field(column_name="status")
    fulfilment = fields.Field(column_name="fulfilment")
    paid_at = fields.Field(column_name="paid_at")
    dispatch_deadline = fields.Field(column_name="dispatch_deadline")
    amount_paid = fields.Field(
        attribute="amount_paid", column_name="amount_paid", widget=widgets.DecimalWidget()
    )
    service_fee = fields.Field(
        attribute="service_fee", column_name="service_fee", widget=widgets.DecimalWidget()
    )
    items = fields.Field(column_name="items")
    recipient_name = fields.Field(column_name="recipient_name")
    recipient_phone = fields.Field(column_name="recipient_phone")
    recipient_address = fields.Field(column_name="recipient_address")
    buyer_message = fields.Field(
        attribute="buyer_message", column_name="buyer_message", widget=FormulaSafeTextWidget()
    )
    carrier = fields.Field(column_name="carrier")
    tracking_no = fields.Field(column_name="tracking_no")

    class Meta:
        model = Order
        name = gettext_lazy("Orders (buyer data masked)")
        fields = EXPORT_COLUMNS
        export_order = EXPORT_COLUMNS

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("store", "shipment__carrier").prefetch_related("lines")

    # Each of these is returned as it is (no widget): each goes through formula_safe here.
    def dehydrate_status(self, order):
        return formula_safe(order.get_status_display())

    def dehydrate_fulfilment(self, order):
        return formula_safe(order.get_fulfilment_display())

    def dehydrate_paid_at(self, order):
        return _local_text(order.paid_at)

    def dehydrate_dispatch_deadline(self, order):
        return _local_text(order.dispatch_deadline)

    def dehydrate_items(self, order):
        return formula_safe("; ".join(f"{line.sku} × {line.quantity}" for line in order.lines.all()))

    def dehydrate_recipient_name(self, order):
        return formula_safe(mask_name(order.recipient_name))

    def dehydrate_recipient_phone(self, order):
        return formula_safe(mask_phone(order.recipient_phone))

    def dehydrate_recipient_address(self, order):
        return formula_safe(mask_address(region=order.recipient_region, detail=order.recipient_address))

    def dehydrate_carrier(self, order):
        shipment = getattr(order, "shipment", None)
        return formula_safe(shipment.carrier.code) if shipment else ""

    def dehydrate_tracking_no(self, order):
        shipment = getattr(order, "shipment", None)
        return formula_safe(shipment.tracking_no) if shipment else ""


class OrderImportColumns(resources.Resource):
    """What the admin import page lists as the file's columns: our template's (TikTok Shop and Douyin
    exports are recognised by their own headers). Rows are never imported through this class."""

    def __init__(self, **kwargs):
        super().__init__()

    @classmethod
    def get_display_name(cls):
        return gettext_lazy("Orders: TikTok Shop or Douyin export, or our template")

    def get_user_visible_fields(self):
        from orders.imports import order_import_template

        header = order_import_template().splitlines()[0].split(",")
        return [fields.Field(column_name=name) for name in header]

    def import_data(self, *args, **kwargs):  # pragma: no cover - the admin's views never call it
        raise NotImplementedError("orders are imported by orders.imports.orders_import")
