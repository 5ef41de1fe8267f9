"""The seller's order desk: thin views that parse input, call one service or selector, show domain errors."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from merchants import roles
from merchants.errors import ActionForbidden, DomainError
from merchants.spreadsheets import SpreadsheetError, formula_safe
from merchants.views import StoreMemberMixin
from orders.forms import (
    BulkShipForm,
    ImportUploadLimitHandler,
    OrderCancelForm,
    OrderExportForm,
    OrderFilterForm,
    OrderImportForm,
    OrderShipForm,
)
from orders.models import Fulfilment, Order, OrderStatus
from orders.rules import mask_address, mask_name, mask_phone
from orders.selectors import (
    active_carriers,
    order_for_store,
    orders_for_store,
    tracking_events_for,
)
from orders.services import buyer_data_reveal, buyer_data_reveal_many, order_cancel, order_ship

# Only the name is shown (masked) on the list; the other recipient fields are not even decrypted.
# Only what a row shows is loaded; of the recipient only the name (masked) is decrypted.
LIST_FIELDS = (
    "id",
    "store_id",
    "order_no",
    "status",
    "fulfilment",
    "amount_paid",
    "paid_at",
    "dispatch_deadline",
    "recipient_name",
    "shipment__tracking_no",
    "shipment__carrier",
    "shipment__carrier__name",
)
# A masked export of every order of a huge store would be slow; beyond this, narrow the filters.
EXPORT_MAX_ROWS = 10_000
BULK_SHIP_COLUMNS = ["order_no", "carrier", "tracking_no"]
MAX_PAGE_NUMBER = 1_000_000

EVENT_LABELS = {
    "paid": gettext_lazy("paid"),
    "shipped": gettext_lazy("shipped"),
    "tracking_corrected": gettext_lazy("tracking number corrected"),
    "picked_up": gettext_lazy("picked up by the carrier"),
    "delivered": gettext_lazy("delivered"),
    "completed": gettext_lazy("receipt confirmed"),
    "cancelled": gettext_lazy("cancelled"),
    "refunded": gettext_lazy("refunded"),
    "buyer_data_revealed": gettext_lazy("buyer data revealed"),
}


# --- Countdown to the dispatch deadline -----------------------------------------------------------


@dataclass(frozen=True)
class Countdown:
    text: str
    overdue: bool
    due_soon: bool  # less than 6 hours left


def _duration_text(seconds: float) -> str:
    minutes_total = int(seconds // 60)
    hours_total, minutes = divmod(minutes_total, 60)
    if hours_total >= 48:
        days, hours = divmod(hours_total, 24)
        if hours:
            return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
        return _("%(days)d d") % {"days": days}
    if hours_total and minutes:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours_total, "minutes": minutes}
    if hours_total:
        return _("%(hours)d h") % {"hours": hours_total}
    if minutes:
        return _("%(minutes)d min") % {"minutes": minutes}
    return _("less than 1 min")


def deadline_countdown(*, deadline: datetime, now: datetime) -> Countdown:
    """'due in 5 h 12 min' or 'overdue by 2 h', rounded down to the minute."""
    seconds = (deadline - now).total_seconds()
    if seconds >= 0:
        return Countdown(
            text=_("due in %(duration)s") % {"duration": _duration_text(seconds)},
            overdue=False,
            due_soon=seconds < 6 * 3600,
        )
    return Countdown(
        text=_("overdue by %(duration)s") % {"duration": _duration_text(-seconds)},
        overdue=True,
        due_soon=False,
    )


def _countdown_for(order: Order, now: datetime) -> Countdown | None:
    if order.status != OrderStatus.PAID:
        return None
    return deadline_countdown(deadline=order.dispatch_deadline, now=now)


@dataclass(frozen=True)
class OrderRow:
    """What one list row shows, computed once in Python: rendering 100 rows stays cheap."""

    pk: int
    order_no: str
    detail_url: str
    select_label: str
    paid: str
    amount: str
    status: str
    status_label: str
    fulfilment_label: str
    masked_name: str
    tracking: str
    deadline: str
    countdown: Countdown | None


def _list_rows(orders: list[Order], *, store, now: datetime) -> list[OrderRow]:
    detail_prefix = reverse("order-list", args=[store.code])
    status_labels = dict(OrderStatus.choices)
    fulfilment_labels = dict(Fulfilment.choices)
    rows = []
    for order in orders:
        shipment = getattr(order, "shipment", None)
        rows.append(
            OrderRow(
                pk=order.pk,
                order_no=order.order_no,
                detail_url=f"{detail_prefix}{order.pk}/",
                select_label=_("Select order %(no)s") % {"no": order.order_no},
                paid=timezone.localtime(order.paid_at).strftime("%Y-%m-%d %H:%M"),
                amount=f"{order.amount_paid}",
                status=order.status,
                status_label=str(status_labels.get(order.status, order.status)),
                fulfilment_label=str(fulfilment_labels.get(order.fulfilment, order.fulfilment)),
                masked_name=mask_name(order.recipient_name),
                tracking=f"{shipment.carrier.name} {shipment.tracking_no}" if shipment else "",
                deadline=timezone.localtime(order.dispatch_deadline).strftime("%Y-%m-%d %H:%M"),
                countdown=_countdown_for(order, now),
            )
        )
    return rows


def _rows_html(rows: list[OrderRow], *, selectable: bool):
    """The table body, escaped by format_html: a hundred rows through the template engine cost ~0.3 ms
    each; built here they cost a few microseconds."""

    def countdown_cell(row: OrderRow):
        if row.countdown is None:
            return format_html('<span class="muted">{}</span>', row.deadline)
        tone = " bad" if row.countdown.overdue else (" warn" if row.countdown.due_soon else "")
        return format_html(
            '<span class="countdown{}" title="{}">{}</span>', tone, row.deadline, row.countdown.text
        )

    def row_html(row: OrderRow):
        tone = (
            "overdue"
            if row.countdown and row.countdown.overdue
            else ("due-soon" if row.countdown and row.countdown.due_soon else "")
        )
        select = (
            format_html(
                '<td><input type="checkbox" name="id" value="{}" aria-label="{}"></td>',
                row.pk,
                row.select_label,
            )
            if selectable
            else ""
        )
        return format_html(
            '<tr class="{}">{}<td><a href="{}">{}</a></td><td>{}</td><td class="num">¥{}</td>'
            '<td><span class="tag tag-{}">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n',
            tone,
            select,
            row.detail_url,
            row.order_no,
            row.paid,
            row.amount,
            row.status,
            row.status_label,
            row.fulfilment_label,
            row.masked_name,
            row.tracking,
            countdown_cell(row),
        )

    return mark_safe("".join(row_html(row) for row in rows))  # noqa: S308 - every part went through format_html


# --- A page of rows without COUNT(*) --------------------------------------------------------------


@dataclass
class RowPage:
    """One page of a list: fetches one row more than it shows to know whether a next page exists.

    No COUNT(*): on a store with hundreds of thousands of orders it would cost more than the page itself.
    """

    number: int
    per_page: int
    object_list: list
    has_next: bool

    @classmethod
    def of(cls, queryset, *, number: int, per_page: int) -> RowPage:
        offset = (number - 1) * per_page
        # Page over ids first (an index-only scan), then join only the page's rows: a deep OFFSET then
        # skips index entries instead of reading and joining every skipped order.
        window = queryset.values("pk")[offset : offset + per_page + 1]
        rows = list(queryset.filter(pk__in=window))
        return cls(
            number=number, per_page=per_page, object_list=rows[:per_page], has_next=len(rows) > per_page
        )

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self):
        return len(self.object_list)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.object_list else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.per_page + len(self.object_list)


def _page_number(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), MAX_PAGE_NUMBER)


def _no_store(response: HttpResponse) -> HttpResponse:
    """Clear buyer data must not stay in a browser or proxy cache."""
    patch_cache_control(response, no_store=True, no_cache=True, private=True)
    return response


# --- Views ----------------------------------------------------------------------------------------


class OrderDeskMixin(StoreMemberMixin):
    capability = roles.VIEW_ORDERS

    def context(self, **extra):
        role = self.membership.role
        return super().context(
            can_manage_orders=roles.role_can(role, roles.MANAGE_ORDERS),
            can_reveal=roles.role_can(role, roles.REVEAL_BUYER_DATA),
            **extra,
        )

    def list_url(self, query: str = "") -> str:
        url = reverse("order-list", args=[self.store.code])
        return f"{url}?{query}" if query else url

    def detail_url(self, order: Order) -> str:
        return reverse("order-detail", args=[self.store.code, order.pk])


class OrderListView(OrderDeskMixin, View):
    def get(self, request, store_code):
        filters = OrderFilterForm(request.GET or None)
        filters.is_valid()  # an invalid field is shown with its error and left out of the filters
        now = timezone.now()
        orders = orders_for_store(store=self.store, filters=filters.filters(), now=now).only(*LIST_FIELDS)
        page = RowPage.of(orders, number=_page_number(request.GET.get("page")), per_page=filters.page_size())
        page.object_list = _list_rows(page.object_list, store=self.store, now=now)
        rows_html = _rows_html(
            page.object_list, selectable=roles.role_can(self.membership.role, roles.MANAGE_ORDERS)
        )
        query = request.GET.copy()
        query.pop("page", None)
        # The export form repeats the list's filters so that "export" means "export what I see".
        export_params = [
            (key, value)
            for key in query
            if key in filters.fields and key != "per_page"
            for value in query.getlist(key)
        ]
        return render(
            request,
            "orders/order_list.html",
            self.context(
                page=page,
                rows_html=rows_html,
                filters=filters,
                query=query.urlencode(),
                export_params=export_params,
            ),
        )


class OrderDetailView(OrderDeskMixin, View):
    def get(self, request, store_code, order_id):
        order = order_for_store(store=self.store, order_id=order_id)
        return self.render_detail(order)

    def render_detail(
        self, order: Order, *, ship_form=None, cancel_form=None, revealed=None, status: int = 200
    ) -> HttpResponse:
        now = timezone.now()
        awaiting = order.status == OrderStatus.PAID
        can_manage = roles.role_can(self.membership.role, roles.MANAGE_ORDERS)
        shippable = awaiting and order.fulfilment == Fulfilment.SELLER and can_manage
        timeline = [
            {
                "label": EVENT_LABELS.get(event.kind, event.kind.replace("_", " ")),
                "from": _status_label(event.from_status),
                "to": _status_label(event.to_status),
                "actor": event.actor.get_username() if event.actor else "",
                "reason": event.reason,
                "at": event.created_at,
                "data": event.data,
                "kind": event.kind,
            }
            for event in order.events.all()
        ]
        response = render(
            self.request,
            "orders/order_detail.html",
            self.context(
                order=order,
                lines=list(order.lines.all()),
                shipment=getattr(order, "shipment", None),
                tracking_events=tracking_events_for(order=order),
                timeline=timeline,
                countdown=_countdown_for(order, now),
                masked={
                    "name": mask_name(order.recipient_name),
                    "phone": mask_phone(order.recipient_phone),
                    "address": mask_address(region=order.recipient_region, detail=order.recipient_address),
                },
                revealed=revealed,
                ship_form=(ship_form or OrderShipForm()) if shippable else None,
                cancel_form=(cancel_form or OrderCancelForm()) if awaiting and can_manage else None,
                platform_shipped=awaiting and order.fulfilment == Fulfilment.PLATFORM,
            ),
            status=status,
        )
        return _no_store(response) if revealed else response


def _status_label(value: str) -> str:
    if value in OrderStatus.values:
        return OrderStatus(value).label
    return value


class OrderShipView(OrderDetailView):
    capability = roles.MANAGE_ORDERS
    http_method_names = ["post"]

    def post(self, request, store_code, order_id):
        order = order_for_store(store=self.store, order_id=order_id)
        form = OrderShipForm(request.POST)
        if form.is_valid():
            try:
                shipped = order_ship(
                    order=order,
                    carrier=form.cleaned_data["carrier"],
                    tracking_no=form.cleaned_data["tracking_no"],
                    actor=request.user,
                )
            except DomainError as refusal:
                _show_refusal(request, form, refusal)
            else:
                messages.success(
                    request,
                    _("Order %(order_no)s shipped with %(carrier)s %(tracking_no)s.")
                    % {
                        "order_no": shipped.order_no,
                        "carrier": form.cleaned_data["carrier"].name,
                        "tracking_no": shipped.shipment.tracking_no,
                    },
                )
                return redirect(self.detail_url(order))
        return self.render_detail(order, ship_form=form, status=400)


class OrderCancelView(OrderDetailView):
    capability = roles.MANAGE_ORDERS
    http_method_names = ["post"]

    def post(self, request, store_code, order_id):
        order = order_for_store(store=self.store, order_id=order_id)
        form = OrderCancelForm(request.POST)
        if form.is_valid():
            try:
                order_cancel(order=order, reason=form.cleaned_data["reason"], actor=request.user)
            except DomainError as refusal:
                _show_refusal(request, form, refusal)
            else:
                messages.success(
                    request,
                    _("Order %(order_no)s cancelled; the buyer is refunded ¥%(amount)s.")
                    % {"order_no": order.order_no, "amount": order.amount_paid},
                )
                return redirect(self.detail_url(order))
        return self.render_detail(order, cancel_form=form, status=400)


def _show_refusal(request, form, refusal: DomainError) -> None:
    """Field errors go onto the form's fields; the rest become messages above the page."""
    if isinstance(refusal, ActionForbidden):
        raise PermissionDenied(refusal.messages[0] if refusal.messages else "")
    field_errors = {
        name: errors for name, errors in getattr(refusal, "field_errors", {}).items() if name in form.fields
    }
    for name, errors in field_errors.items():
        for message in errors:
            form.add_error(name, message)
    on_fields = {m for ms in field_errors.values() for m in ms}
    for message in refusal.messages:
        if message not in on_fields:
            messages.error(request, message)


class OrderRevealView(OrderDetailView):
    """Shows the recipient in clear in this one response; nothing is kept in the session."""

    capability = roles.REVEAL_BUYER_DATA
    http_method_names = ["post"]

    def post(self, request, store_code, order_id):
        order = order_for_store(store=self.store, order_id=order_id)
        try:
            revealed = buyer_data_reveal(order=order, user=request.user)
        except ActionForbidden as refusal:
            raise PermissionDenied(refusal.messages[0]) from refusal
        except DomainError as refusal:
            for message in refusal.messages:
                messages.error(request, message)
            # The only refusal left is the hourly limit.
            return self.render_detail(order, status=429)
        order = order_for_store(store=self.store, order_id=order_id)  # with the reveal on its timeline
        return self.render_detail(order, revealed=revealed)


# --- Export ---------------------------------------------------------------------------------------

EXPORT_COLUMNS = [
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
]


def _local_text(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _export_row(order: Order, *, contacts: bool) -> list:
    shipment = getattr(order, "shipment", None)
    if contacts:
        name, phone = order.recipient_name, order.recipient_phone
        address = f"{order.recipient_region} {order.recipient_address}".strip()
    else:
        name, phone = mask_name(order.recipient_name), mask_phone(order.recipient_phone)
        address = mask_address(region=order.recipient_region, detail=order.recipient_address)
    return [
        order.order_no,
        order.get_status_display(),
        order.get_fulfilment_display(),
        _local_text(order.paid_at),
        _local_text(order.dispatch_deadline),
        order.amount_paid,
        order.service_fee,
        "; ".join(f"{line.sku} × {line.quantity}" for line in order.lines.all()),
        name,
        phone,
        address,
        order.buyer_message,
        shipment.carrier.code if shipment else "",
        shipment.tracking_no if shipment else "",
    ]


def _csv_response(rows: list[list], filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    response.write("\ufeff")  # so Excel opens it as UTF-8
    writer = csv.writer(response)
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([formula_safe(cell) for cell in row])
    return response


def _xlsx_response(rows: list[list], filename: str) -> HttpResponse:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="orders")
    sheet.append(EXPORT_COLUMNS)
    for row in rows:
        # Amounts stay numbers (they cannot be formulas); every text cell goes through formula_safe.
        sheet.append([cell if isinstance(cell, Decimal) else formula_safe(cell) for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response


class OrderExportView(OrderDeskMixin, View):
    capability = roles.MANAGE_ORDERS

    # A masked export may be a plain link (GET); one with contact data writes reveal records, so it must be
    # a POST from the list's export form (with its CSRF token), never a link another site could trigger.
    def get(self, request, store_code):
        return self._export(request, request.GET, contacts_allowed=False)

    def post(self, request, store_code):
        return self._export(request, request.POST, contacts_allowed=True)

    def _export(self, request, data, *, contacts_allowed: bool):
        filters = OrderFilterForm(data)
        options = OrderExportForm(data)
        back = self.list_url(self._list_query(data))
        if not (filters.is_valid() and options.is_valid()):
            for form in (filters, options):
                for errors in form.errors.values():
                    for message in errors:
                        messages.error(request, message)
            return redirect(back)
        contacts = options.cleaned_data["contacts"]
        if contacts and not contacts_allowed:
            messages.error(request, _("Export contact data with the export button on the order list."))
            return redirect(back)
        if contacts and not roles.role_can(self.membership.role, roles.REVEAL_BUYER_DATA):
            raise PermissionDenied(_("Your role may not export buyer contact data."))
        orders = orders_for_store(store=self.store, filters=filters.filters()).prefetch_related("lines")
        if options.cleaned_data["id"]:
            orders = orders.filter(pk__in=options.cleaned_data["id"])
        orders = list(orders[: EXPORT_MAX_ROWS + 1])
        if not orders:
            messages.warning(request, _("No orders to export."))
            return redirect(back)
        if len(orders) > EXPORT_MAX_ROWS:
            messages.error(
                request,
                _(
                    "More than %(limit)d orders match; narrow the filters (e.g. the paid dates) and export again."
                )
                % {"limit": EXPORT_MAX_ROWS},
            )
            return redirect(back)
        now = timezone.now()
        if contacts:
            try:
                buyer_data_reveal_many(orders=orders, user=request.user, purpose="export", now=now)
            except DomainError as refusal:
                for message in refusal.messages:
                    messages.error(request, message)
                return redirect(back)
        rows = [_export_row(order, contacts=contacts) for order in orders]
        filename = f"orders-{self.store.code}-{timezone.localtime(now):%Y%m%d-%H%M%S}"
        if options.cleaned_data["format"] == "xlsx":
            response = _xlsx_response(rows, filename)
        else:
            response = _csv_response(rows, filename)
        return _no_store(response)

    @staticmethod
    def _list_query(data) -> str:
        query = data.copy()
        query.pop("csrfmiddlewaretoken", None)
        for key in ("id", "format", "contacts", "page"):
            query.pop(key, None)
        return query.urlencode()


# --- Bulk shipping --------------------------------------------------------------------------------


class OrderBulkShipView(OrderDeskMixin, View):
    capability = roles.MANAGE_ORDERS
    template_name = "orders/bulk_ship.html"

    def _context(self, **extra):
        return self.context(
            columns=BULK_SHIP_COLUMNS,
            carriers=list(active_carriers()),
            max_mb=settings.LISTING_UPLOAD_MAX_BYTES // (1024 * 1024),
            **extra,
        )

    def get(self, request, store_code):
        return render(request, self.template_name, self._context(form=BulkShipForm()))

    def post(self, request, store_code):
        form = BulkShipForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, self.template_name, self._context(form=form), status=400)
        upload = form.cleaned_data["file"]
        limit = settings.LISTING_UPLOAD_MAX_BYTES
        if upload.size > limit:
            form.add_error(
                "file",
                _("The file is %(size).1f MB; the limit is %(limit)d MB. Split it into smaller files.")
                % {"size": upload.size / 1048576, "limit": limit // 1048576},
            )
            return render(request, self.template_name, self._context(form=form), status=400)
        # Imported here: the bulk module reads spreadsheets (openpyxl), which the other pages do not need.
        from orders.bulk import shipments_bulk_ship

        dry_run = form.cleaned_data["dry_run"]
        try:
            result = shipments_bulk_ship(
                store=self.store, data=upload.read(), actor=request.user, dry_run=dry_run
            )
        except SpreadsheetError as error:
            for message in error.messages:
                form.add_error("file", message)
            return render(request, self.template_name, self._context(form=form), status=400)
        except ActionForbidden as refusal:
            raise PermissionDenied(refusal.messages[0] if refusal.messages else "") from refusal
        except DomainError as refusal:
            for message in refusal.messages:
                form.add_error(None, message)
            return render(request, self.template_name, self._context(form=form), status=400)
        return render(
            request,
            self.template_name,
            self._context(form=BulkShipForm(), result=result, dry_run=dry_run),
            status=400 if result.errors else 200,
        )


# --- Import -----------------------------------------------------------------------------------------

IMPORT_HISTORY_PAGE_SIZE = 20
IMPORT_REFRESH_SECONDS = 2


@method_decorator(csrf_exempt, name="dispatch")  # checked on post(), once the size-limit handler is in place
class OrderImportView(OrderDeskMixin, View):
    """Upload an order file; it becomes a job (run by Celery) and the browser goes to the job's page."""

    capability = roles.MANAGE_ORDERS
    template_name = "orders/import.html"

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST":
            from orders.jobs import import_max_bytes

            # Before the body is read (by the CSRF check): an oversize file is counted, not stored.
            request.upload_handlers.insert(0, ImportUploadLimitHandler(request, limit=import_max_bytes()))
        return super().dispatch(request, *args, **kwargs)

    def _render(self, request, form, *, status=200):
        # Imported here: the import module reads spreadsheets (openpyxl), which the other pages do not need.
        from orders.jobs import import_jobs_for_store, import_max_bytes

        page = RowPage.of(
            import_jobs_for_store(store=self.store),
            number=_page_number(request.GET.get("page")),
            per_page=IMPORT_HISTORY_PAGE_SIZE,
        )
        return render(
            request,
            self.template_name,
            self.context(form=form, page=page, max_mb=import_max_bytes() // (1024 * 1024)),
            status=status,
        )

    def get(self, request, store_code):
        return self._render(request, OrderImportForm())

    @method_decorator(csrf_protect)
    def post(self, request, store_code):
        from orders.jobs import ImportOptions, ImportUploadRefused, import_job_create

        form = OrderImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(request, form, status=400)
        try:
            job = import_job_create(
                store=self.store,
                actor=request.user,
                upload=form.cleaned_data["file"],
                options=ImportOptions(
                    skip_invalid=form.cleaned_data["skip_invalid"],
                    update_existing=form.cleaned_data["update_existing"],
                    dry_run=form.cleaned_data["dry_run"],
                ),
            )
        except ImportUploadRefused as refusal:
            for message in refusal.messages:
                form.add_error("file", message)
            return self._render(request, form, status=400)
        return redirect("order-import-job", store_code=self.store.code, job_id=job.pk)


class OrderImportTemplateView(OrderDeskMixin, View):
    """Our own import template: the header and one example row, UTF-8 with a BOM so that Excel shows the
    Chinese."""

    capability = roles.MANAGE_ORDERS

    def get(self, request, store_code):
        from orders.imports import order_import_template

        response = HttpResponse("\ufeff" + order_import_template(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="order-import-template.csv"'
        return response


class OrderImportJobView(OrderDeskMixin, View):
    capability = roles.MANAGE_ORDERS

    def get(self, request, store_code, job_id):
        from orders.jobs import FILES_KEPT, import_job_for_store

        job = import_job_for_store(store=self.store, job_id=job_id)
        response = render(
            request,
            "orders/import_job.html",
            self.context(
                job=job,
                errors=[
                    _("row %(line)s: %(column)s: %(message)s")
                    % {"line": e.get("line"), "column": e.get("column"), "message": e.get("message")}
                    for e in job.errors
                ],
                more_errors=max(job.error_count - len(job.errors), 0),
                files_kept_days=FILES_KEPT.days,
                refresh_seconds=None if job.is_done else IMPORT_REFRESH_SECONDS,
            ),
        )
        if not job.is_done:
            patch_cache_control(response, no_cache=True, no_store=True)
        return response


class OrderImportFileView(OrderDeskMixin, View):
    """The job's files, only through this view (membership checked; another store's job is a 404): the
    error file (`errors`) or the uploaded file (`upload`). They hold buyer data: never cached."""

    capability = roles.MANAGE_ORDERS
    kind = "errors"

    def get(self, request, store_code, job_id):
        from orders.jobs import import_job_for_store

        job = import_job_for_store(store=self.store, job_id=job_id)
        stored = job.error_file if self.kind == "errors" else job.upload
        if not stored:
            raise Http404(_("This import has no such file."))
        base = job.original_filename.rsplit(".", 1)[0] or "orders"
        filename = f"{base}-errors.csv" if self.kind == "errors" else job.original_filename
        try:
            handle = stored.open("rb")
        except FileNotFoundError as exc:
            raise Http404(_("This import has no such file.")) from exc
        response = FileResponse(handle, as_attachment=True, filename=filename)
        return _no_store(response)
