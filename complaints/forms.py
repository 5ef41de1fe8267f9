"""Forms of the complaints desks: they parse input; the rules live in services."""

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from complaints.models import AppealStatus, Complaint, ComplaintKind, ComplaintStatus
from complaints.uploads import ACCEPTED_LABEL, EVIDENCE_MAX_BYTES, EVIDENCE_MAX_FILES
from merchants.models import ViolationType


class ComplaintFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All"))] + list(ComplaintStatus.choices), required=False
    )
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("All"))] + list(ComplaintKind.choices), required=False
    )
    dispatched_on = forms.DateField(
        label=_("Order dispatched on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked by content in the service, not here."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": ".jpg,.jpeg,.png,.gif,.webp,.pdf,.mp4,.mov"})
        )
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data if item]
        return [super().clean(data, initial)] if data else []


EVIDENCE_HELP = _("Up to %(files)d files of %(mb)d MB each: %(types)s.") % {
    "files": EVIDENCE_MAX_FILES,
    "mb": EVIDENCE_MAX_BYTES // (1024 * 1024),
    "types": ACCEPTED_LABEL,
}


class ComplaintReplyForm(forms.Form):
    statement = forms.CharField(
        label=_("Your reply"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 70}),
        help_text=_("What happened, and what you did for the buyer."),
    )
    evidence = MultipleFileField(label=_("Evidence"), help_text=EVIDENCE_HELP)


class AppealForm(forms.Form):
    statement = forms.CharField(
        label=_("Your statement"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 70}),
        help_text=_("Why the violation should be revoked: what happened, and what your evidence shows."),
    )
    evidence = MultipleFileField(
        label=_("Evidence"),
        help_text=lazy(
            lambda: (
                _(
                    "Photos, video, screenshots of the listing, waybills, purchase invoices. "
                    "Up to %(files)d files of %(mb)d MB each: %(types)s."
                )
                % {
                    "files": EVIDENCE_MAX_FILES,
                    "mb": EVIDENCE_MAX_BYTES // (1024 * 1024),
                    "types": ACCEPTED_LABEL,
                }
            ),
            str,
        )(),  # translated when shown, in the reader's language
    )


class AppealFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All"))] + list(AppealStatus.choices), required=False
    )


class CallAttemptForm(forms.Form):
    called_at = forms.DateTimeField(
        label=_("Called at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    connected = forms.BooleanField(label=_("Connected"), required=False)


class BuyerMessageForm(forms.Form):
    sent_at = forms.DateTimeField(
        label=_("Sent at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    answered_at = forms.DateTimeField(
        label=_("Answered at"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    answered_by_human = forms.BooleanField(label=_("Answered by a person"), required=False)


class ContactImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV or XLSX file"),
        help_text=_(
            "Columns: order_no, type (call or message), at, connected (calls: yes/no), "
            "answered_at and answered_by (messages: human or bot). Times in the store's time zone."
        ),
    )


# --- Reviewer actions (admin) ---------------------------------------------------------------------


def _reason_field(required: bool = True):
    return forms.CharField(
        label=_("Reason"),
        max_length=2000,
        required=required,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Recorded with the event and shown to the seller."),
    )


class ComplaintReasonForm(forms.Form):
    reason = _reason_field()


class ComplaintOptionalReasonForm(forms.Form):
    reason = _reason_field(required=False)


class ComplaintUpholdForm(forms.Form):
    reason = _reason_field()
    violation_type = forms.ModelChoiceField(
        label=_("Violation type"),
        queryset=ViolationType.objects.all(),
        to_field_name="code",
        required=False,
        empty_label=_("(the complaint kind's type)"),
        help_text=_(
            "Recorded once per complaint with its points, deposit deduction and compensation rule. "
            "Carrier-desk complaints record none."
        ),
    )
    refund = forms.BooleanField(
        label=_("Refund the buyer"),
        required=False,
        initial=True,
        help_text=_(
            "A shipped or delivered order is refunded; a completed one can no longer be, so the amount paid "
            "goes to the buyer from the seller's deposit. An order not shipped yet or already closed is not "
            "refunded."
        ),
    )
    compensation = forms.DecimalField(
        label=_("Extra compensation (CNY)"),
        required=False,
        max_digits=10,
        decimal_places=2,
        min_value=0,
        help_text=_("Paid to the consumer from the seller's deposit, besides the type's own compensation."),
    )
    refer_to_authorities = forms.BooleanField(
        label=_("Refer to the authorities"), required=False, help_text=_("Counterfeit goods only.")
    )


class ComplaintOpenForm(forms.ModelForm):
    """The reviewer's intake of a complaint that did not come in by itself (a 12315 hotline or
    market-supervision transfer, a brand owner's letter): parsed here, opened by `complaint_open`, which
    checks that the order and listing are the store's and that only not-as-described has a sub-kind."""

    evidence = MultipleFileField(label=_("Complainant's evidence"), help_text=EVIDENCE_HELP)

    class Meta:
        model = Complaint
        fields = ("store", "kind", "sub_kind", "source", "order", "listing", "buyer_statement")
        help_texts = {
            "sub_kind": _("Only for a not-as-described complaint."),
            "order": _("An order of the store above (its id: use the magnifier to search by order number)."),
        }
