"""Listings as spreadsheets for the admin's import/export (django-import-export 4).

The columns are the seller upload's: sku, title, category, price, stock, promised_dispatch_hours,
description, brand. There is no store column: the reviewer picks the store on the import form and the
admin hands it to the resource. Each row is read by the same `listing_row_parse` the seller upload uses,
rows are matched to the store's listings by SKU, and writes go through `listing_create`/`listing_update`,
never a raw save (the status is a protected FSM field and every write is screened and logged).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import fields, resources, widgets

from merchants.errors import DomainError, ListingRefused
from merchants.models import Brand, Category, Listing, ListingStatus, PromisedDispatch, Store
from merchants.services import (
    LISTING_COLUMNS_OPTIONAL,
    LISTING_COLUMNS_REQUIRED,
    LISTING_DATA_FIELDS,
    listing_create,
    listing_row_parse,
    listing_update,
)
from merchants.spreadsheets import SheetRow, SpreadsheetError, cell_text, formula_safe

LISTING_COLUMNS = [*LISTING_COLUMNS_REQUIRED, *LISTING_COLUMNS_OPTIONAL]

# The ListingData/service field that a spreadsheet column feeds, where the names differ.
_COLUMN_OF_FIELD = {"promised_dispatch": "promised_dispatch_hours"}

# How each promise is written in a spreadsheet: a value `listing_row_parse` reads back as the same promise.
_PROMISE_CELL = {
    PromisedDispatch.SAME_DAY: "same_day",
    PromisedDispatch.NEXT_DAY: "next_day",
    PromisedDispatch.H24: "24",
    PromisedDispatch.H48: "48",
    PromisedDispatch.H72: "72",
}


def _header(name) -> str:
    return str(name or "").strip().lstrip("\ufeff").lower()


class FormulaSafeTextWidget(widgets.Widget):
    """Text that a spreadsheet program will show, never run (cells starting with = + - @ are quoted)."""

    def render(self, value, obj=None, **kwargs):
        return formula_safe(value)


class PromisedDispatchWidget(widgets.Widget):
    def render(self, value, obj=None, **kwargs):
        return _PROMISE_CELL.get(value, value or "")


class ListingResource(resources.ModelResource):
    sku = fields.Field(attribute="sku", column_name="sku", widget=FormulaSafeTextWidget())
    title = fields.Field(attribute="title", column_name="title", widget=FormulaSafeTextWidget())
    category = fields.Field(
        attribute="category__code", column_name="category", widget=FormulaSafeTextWidget()
    )
    price = fields.Field(attribute="price", column_name="price", widget=widgets.DecimalWidget())
    stock = fields.Field(attribute="stock", column_name="stock", widget=widgets.IntegerWidget())
    promised_dispatch_hours = fields.Field(
        attribute="promised_dispatch", column_name="promised_dispatch_hours", widget=PromisedDispatchWidget()
    )
    description = fields.Field(
        attribute="description", column_name="description", widget=FormulaSafeTextWidget()
    )
    brand = fields.Field(attribute="brand__name", column_name="brand", widget=FormulaSafeTextWidget())

    class Meta:
        model = Listing
        name = gettext_lazy("Listings of one store")
        fields = tuple(LISTING_COLUMNS)
        import_order = tuple(LISTING_COLUMNS)
        export_order = tuple(LISTING_COLUMNS)
        import_id_fields = ("sku",)
        # Rows are validated by listing_row_parse and saved by the services, not by full_clean()/save().
        clean_model_instances = False
        use_bulk = False
        use_transactions = True
        skip_unchanged = False

    def __init__(self, *, store: Store | None = None, actor=None, **kwargs):
        super().__init__(**kwargs)
        self.store = store
        self.actor = actor
        self._categories: dict[str, Category] = {}
        self._brands: dict[str, Brand] = {}
        self._existing: dict[str, Listing] = {}
        self._first_row_of_sku: dict[str, int] = {}

    # --- export -----------------------------------------------------------------------------------

    def get_queryset(self):
        queryset = Listing.objects.select_related("category", "brand").order_by("store_id", "sku")
        if self.store is not None:
            queryset = queryset.filter(store=self.store)
        return queryset

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("category", "brand")

    # --- import -----------------------------------------------------------------------------------

    def before_import(self, dataset, **kwargs):
        try:
            self._check_file(dataset)
        except SpreadsheetError:
            del dataset[:]  # refuse the file as a whole, not row by row
            raise
        self._categories = {c.code.lower(): c for c in Category.objects.all()}
        self._brands = {b.name.lower(): b for b in Brand.objects.all()}
        skus = {cell_text(value) for value in dataset["sku"]} - {""}
        self._existing = {
            listing.sku: listing
            for listing in Listing.objects.filter(store=self.store, sku__in=skus).select_related(
                "category", "brand"
            )
        }
        self._first_row_of_sku = {}

    def _check_file(self, dataset) -> None:
        if self.store is None:
            raise SpreadsheetError(_("Choose the store the listings belong to."))
        headers = [_header(name) for name in dataset.headers or []]
        missing = [name for name in LISTING_COLUMNS_REQUIRED if name not in headers]
        if missing:
            raise SpreadsheetError(
                _("Missing required column(s): %(missing)s. The header row must name: %(expected)s.")
                % {"missing": ", ".join(missing), "expected": ", ".join(LISTING_COLUMNS)}
            )
        duplicated = sorted({name for name in headers if name and headers.count(name) > 1})
        if duplicated:
            raise SpreadsheetError(_("Column(s) named twice: %(names)s.") % {"names": ", ".join(duplicated)})
        dataset.headers = headers

    def get_instance(self, instance_loader, row):
        return self._existing.get(cell_text(row.get("sku")))

    def init_instance(self, row=None):
        return Listing(store=self.store)

    def import_instance(self, instance, row, **kwargs):
        """Parse the row as the seller upload does; refuse it with errors named by column."""
        row_number = kwargs.get("row_number", 0)
        values = {_header(name): cell_text(value) for name, value in row.items() if _header(name)}
        instance._listing_data = None
        if not any(values.values()):
            return  # a blank row: skipped, as the seller upload skips it
        data, row_errors = listing_row_parse(
            store=self.store,
            row=SheetRow(line=row_number + 1, values=values),
            categories=self._categories,
            brands=self._brands,
        )
        errors: dict[str, list[str]] = {}
        for error in row_errors:
            errors.setdefault(error.column, []).append(error.message)
        sku = values.get("sku", "")
        if sku:
            first = self._first_row_of_sku.setdefault(sku, row_number)
            if first != row_number:
                errors.setdefault("sku", []).append(
                    _("SKU %(sku)s appears again (first in row %(first)d)") % {"sku": sku, "first": first}
                )
        if instance.pk is not None and instance.status == ListingStatus.REMOVED:
            errors.setdefault("sku", []).append(
                _("listing %(sku)s was removed by the platform and cannot be changed") % {"sku": sku}
            )
        if errors:
            raise ValidationError(errors)
        instance._listing_data = data
        # Show the new values in the preview; the services write them (or refuse) on save.
        for name in LISTING_DATA_FIELDS:
            setattr(instance, name, getattr(data, name))

    def skip_row(self, instance, original, row, import_validation_errors=None):
        return getattr(instance, "_listing_data", None) is None and not import_validation_errors

    def save_instance(self, instance, is_create, row, **kwargs):
        data = instance._listing_data
        try:
            if is_create:
                saved = listing_create(store=self.store, data=data, actor=self.actor)
            else:
                saved = listing_update(listing=instance, data=data, actor=self.actor)
        except ListingRefused as exc:
            raise ValidationError(self._refusal_errors(exc)) from exc
        except DomainError as exc:
            raise ValidationError(exc.messages) from exc
        # Let the row result (preview, admin log) show what the services saved.
        instance.pk = saved.pk
        instance._state.adding = False
        instance.refresh_from_db()

    def save_m2m(self, instance, row, **kwargs):
        pass

    @staticmethod
    def _refusal_errors(exc: ListingRefused) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        field_messages = set()
        for field_name, messages in exc.field_errors.items():
            column = _COLUMN_OF_FIELD.get(field_name, field_name)
            errors.setdefault(column, []).extend(messages)
            field_messages.update(messages)
        general = [message for message in exc.messages if message not in field_messages]
        if general:
            errors.setdefault("__all__", []).extend(general)
        return errors


class ListingExportResource(ListingResource):
    """The export: the import's columns with the store first, so a multi-store export says whose row is
    whose. Drop the column (or filter by store) before importing the file into one store."""

    store = fields.Field(attribute="store__code", column_name="store", widget=FormulaSafeTextWidget())

    class Meta(ListingResource.Meta):
        name = gettext_lazy("Listings with their store")
        fields = ("store", *LISTING_COLUMNS)
        export_order = ("store", *LISTING_COLUMNS)

    def get_queryset(self):
        return super().get_queryset().select_related("store")

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("store", "category", "brand")
