"""The deposit ledger: the balance is the sum of the entries, never a stored number."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DepositAccount(models.Model):
    """One per store: the row that deductions lock so concurrent writers queue up."""

    store = models.OneToOneField(
        "merchants.Store", on_delete=models.CASCADE, related_name="deposit_account", verbose_name=_("store")
    )
    shortfall_since = models.DateTimeField(
        _("short since"),
        null=True,
        blank=True,
        help_text=_("When the balance fell below the required amount."),
    )
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("deposit account")
        verbose_name_plural = _("deposit accounts")
        permissions = [("adjust_deposit", _("Can record deposit top-ups, deductions and refunds"))]
        indexes = [
            models.Index(
                fields=["shortfall_since"],
                name="deposit_shortfall",
                condition=Q(shortfall_since__isnull=False),
            )
        ]

    def __str__(self):
        return str(self.store)


class DepositEntry(models.Model):
    class Kind(models.TextChoices):
        TOP_UP = "top_up", _("top-up")
        DEDUCTION = "deduction", _("deduction")
        COMPENSATION = "compensation", _("consumer compensation")
        REFUND = "refund", _("refund to seller")
        REVERSAL = "reversal", _("reversal")

    # Money into the deposit is positive; money out is negative.
    INFLOW = (Kind.TOP_UP, Kind.REVERSAL)
    OUTFLOW = (Kind.DEDUCTION, Kind.COMPENSATION, Kind.REFUND)

    account = models.ForeignKey(
        DepositAccount, on_delete=models.PROTECT, related_name="entries", verbose_name=_("account")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    amount = models.DecimalField(_("amount (CNY)"), max_digits=12, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=300)
    reference = models.CharField(
        _("reference"), max_length=100, blank=True, help_text=_("Bank or payment reference.")
    )
    cause_key = models.CharField(
        _("cause"),
        max_length=100,
        null=True,
        blank=True,
        unique=True,
        help_text=_(
            "What caused it, once (e.g. violation:42:deduction): recording the same cause twice is refused."
        ),
    )
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        verbose_name=_("reverses"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("deposit entry")
        verbose_name_plural = _("deposit entries")
        indexes = [models.Index(fields=["account", "-created_at"], name="deposit_entry_time")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind__in=["top_up", "reversal"], amount__gt=0))
                | (Q(kind__in=["deduction", "compensation", "refund"], amount__lt=0)),
                name="deposit_entry_sign_matches_kind",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount}"
