from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from merchants.models import Brand, ListingStatus, PromisedDispatch
from merchants.services import LISTING_MAX_PRICE, LISTING_MAX_STOCK, ListingData


class ListingForm(forms.Form):
    sku = forms.CharField(label=_("SKU"), max_length=64)
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 6}), required=False
    )
    category = forms.ModelChoiceField(label=_("Category"), queryset=None)
    brand = forms.ModelChoiceField(label=_("Brand"), queryset=None, required=False)
    price = forms.DecimalField(
        label=_("Price (CNY)"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=LISTING_MAX_PRICE,
    )
    stock = forms.IntegerField(label=_("Stock"), min_value=0, max_value=LISTING_MAX_STOCK)
    promised_dispatch = forms.ChoiceField(label=_("Promised dispatch"), choices=PromisedDispatch.choices)

    def __init__(self, *args, store, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = store.categories.order_by("code")
        self.fields["brand"].queryset = Brand.objects.filter(authorisations__store=store).order_by("name")
        self.fields["brand"].help_text = _("Only brands the store holds an authorisation for.")

    def listing_data(self) -> ListingData:
        d = self.cleaned_data
        return ListingData(
            sku=d["sku"].strip(),
            title=d["title"].strip(),
            description=d["description"],
            category=d["category"],
            brand=d["brand"],
            price=d["price"],
            stock=d["stock"],
            promised_dispatch=d["promised_dispatch"],
        )

    def add_refusal(self, refusal) -> None:
        """Put a ListingRefused on the form: field errors on their fields, the rest on top."""
        for field_name, messages in refusal.field_errors.items():
            for message in messages:
                self.add_error(field_name if field_name in self.fields else None, message)
        flat_field_messages = {m for ms in refusal.field_errors.values() for m in ms}
        for message in refusal.messages:
            if message not in flat_field_messages:
                self.add_error(None, message)


class ListingFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All"))] + list(ListingStatus.choices), required=False
    )
    q = forms.CharField(label=_("SKU or title"), required=False, max_length=100)


class BulkUploadForm(forms.Form):
    file = forms.FileField(label=_("CSV or XLSX file"))
    dry_run = forms.BooleanField(label=_("Check only, do not save"), required=False)


class WithdrawalForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount (CNY)"), max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )


class RulesExamForm(forms.Form):
    """One radio group per question of a sitting, labelled in the reader's language."""

    def __init__(self, *args, questions: list[dict], **kwargs):
        from merchants.rules import exam_choice_label, exam_question_text

        super().__init__(*args, **kwargs)
        for index, question in enumerate(questions):
            self.fields[f"q{index}"] = forms.TypedChoiceField(
                label=f"{index + 1}. {exam_question_text(question)}",
                choices=[
                    (str(position), exam_choice_label(unit=question["unit"], value=value))
                    for position, value in enumerate(question["choices"])
                ],
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": _("Choose an answer.")},
            )

    def answers(self) -> list[int]:
        return [self.cleaned_data[f"q{index}"] for index in range(len(self.fields))]
