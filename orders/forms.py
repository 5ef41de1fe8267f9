"""Forms of the seller's order desk: they parse input; the rules live in services and selectors."""

import io

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from orders.models import Fulfilment, OrderStatus
from orders.selectors import OrderFilters, active_carriers

PER_PAGE_CHOICES = [(20, "20"), (50, "50"), (100, "100")]
PER_PAGE_DEFAULT = 20
DUE_WITHIN_MAX_HOURS = 24 * 30


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All"))] + list(OrderStatus.choices), required=False
    )
    due_within = forms.IntegerField(
        label=_("Due within (hours)"),
        required=False,
        min_value=1,
        max_value=DUE_WITHIN_MAX_HOURS,
        widget=forms.NumberInput(attrs={"size": 4}),
    )
    overdue = forms.BooleanField(label=_("Overdue"), required=False)
    fulfilment = forms.ChoiceField(
        label=_("Fulfilment"), choices=[("", _("All"))] + list(Fulfilment.choices), required=False
    )
    paid_from = forms.DateField(
        label=_("Paid from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    paid_to = forms.DateField(
        label=pgettext_lazy("date range", "to"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    q = forms.CharField(label=_("Order or tracking number"), required=False, max_length=40)
    per_page = forms.TypedChoiceField(
        label=_("Per page"), choices=PER_PAGE_CHOICES, coerce=int, required=False, empty_value=None
    )

    def clean(self):
        cleaned = super().clean()
        paid_from, paid_to = cleaned.get("paid_from"), cleaned.get("paid_to")
        if paid_from and paid_to and paid_from > paid_to:
            self.add_error("paid_to", _("The end date is before the start date."))
        return cleaned

    def filters(self) -> OrderFilters:
        """The filters that are valid; an invalid field is shown as an error and ignored."""
        data = getattr(self, "cleaned_data", {})
        return OrderFilters(
            status=data.get("status") or None,
            due_within_hours=data.get("due_within"),
            overdue=bool(data.get("overdue")),
            fulfilment=data.get("fulfilment") or None,
            paid_from=data.get("paid_from"),
            paid_to=data.get("paid_to"),  # gone from cleaned_data when before paid_from
            search=(data.get("q") or "").strip() or None,
        )

    def page_size(self) -> int:
        data = getattr(self, "cleaned_data", {})
        return data.get("per_page") or PER_PAGE_DEFAULT


class CarrierChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        if obj.name_zh and (get_language() or "").startswith("zh"):
            return obj.name_zh
        return obj.name


class OrderShipForm(forms.Form):
    carrier = CarrierChoiceField(label=_("Carrier"), queryset=None, empty_label=_("Choose the carrier"))
    tracking_no = forms.CharField(label=_("Tracking number"), max_length=40)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["carrier"].queryset = active_carriers()
        self.fields["tracking_no"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})


class OrderCancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the buyer"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class OrderIdsField(forms.Field):
    """Order ids ticked on the list (`?id=1&id=2`); which of them are the store's is the selector's job."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "invalid": _("Select orders from the list."),
        "too_many": _("Select at most %(limit)d orders, or export by filters instead."),
    }

    def __init__(self, *, max_ids: int, **kwargs):
        self.max_ids = max_ids
        super().__init__(**kwargs)

    def to_python(self, value):
        values = [str(v).strip() for v in (value or []) if str(v).strip()]
        if not all(v.isascii() and v.isdigit() and len(v) <= 18 for v in values):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if len(values) > self.max_ids:
            raise forms.ValidationError(
                self.error_messages["too_many"], code="too_many", params={"limit": self.max_ids}
            )
        return sorted({int(v) for v in values})


class OrderExportForm(forms.Form):
    """What to export besides the list filters: the format, the ticked orders, buyer contact data."""

    format = forms.ChoiceField(label=_("Format"), choices=[("csv", "CSV"), ("xlsx", "XLSX")], required=False)
    id = OrderIdsField(label=_("Orders"), required=False, max_ids=1000)
    contacts = forms.BooleanField(label=_("Include buyer contact data"), required=False)


class BulkShipForm(forms.Form):
    file = forms.FileField(label=_("CSV or XLSX file"))
    dry_run = forms.BooleanField(label=_("Check only, do not ship"), required=False)


class OrderImportForm(forms.Form):
    file = forms.FileField(
        label=_("Order file (CSV or XLSX)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx,text/csv"}),
    )
    skip_invalid = forms.BooleanField(
        label=_("Import the good orders and give me the refused rows as a file"),
        required=False,
        help_text=_("Without this, one refused row stops the whole file: nothing is imported."),
    )
    update_existing = forms.BooleanField(
        label=_("Update orders already imported"),
        required=False,
        help_text=_(
            "Move them forward to the file's status (shipped, delivered…). Otherwise they are left as they are."
        ),
    )
    dry_run = forms.BooleanField(label=_("Check only, import nothing"), required=False)


class OversizeUpload(UploadedFile):
    """What the view gets in place of a file over the import limit: its name and real size, no content (the
    size check refuses it before reading)."""

    def __init__(self, name: str, size: int):
        super().__init__(io.BytesIO(b""), name=name, content_type="application/octet-stream", size=size)


class ImportUploadLimitHandler(FileUploadHandler):
    """First upload handler of the import page: a request larger than the import limit has its file counted,
    never kept, so a 200 MB upload fills neither memory nor a temporary file before it is refused."""

    MARGIN = 64 * 1024  # the form's other fields and the multipart boundaries

    def __init__(self, request=None, *, limit: int):
        super().__init__(request)
        self.limit = limit
        self.too_large = False
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.too_large = content_length > self.limit + self.MARGIN

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        return None if self.too_large else raw_data  # None: the later handlers never see the bytes

    def file_complete(self, file_size):
        return OversizeUpload(self.file_name, self.received) if self.too_large else None
