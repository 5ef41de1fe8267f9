"""Settlement ledger (money the store earned on orders, minus fees and withdrawals) and withdrawals."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


class SettlementEntry(models.Model):
    """One movement of the store's settlement account.

    Order income and its fee wait until `available_at` (receipt + the release days); the daily release check
    then stamps `released_at` — unless a settlement freeze is live — and only released rows are withdrawable.
    Withdrawals, their returns and platform fee charges are released as they are recorded."""

    class Kind(models.TextChoices):
        ORDER_INCOME = "order_income", _("order income")
        SERVICE_FEE = "service_fee", _("technical service fee")
        FEE_CHARGE = "fee_charge", _("other platform fee")
        WITHDRAWAL = "withdrawal", _("withdrawal")
        WITHDRAWAL_RETURNED = "withdrawal_returned", _("withdrawal returned")
        ADJUSTMENT = "adjustment", _("adjustment")

    store = models.ForeignKey(
        "merchants.Store",
        on_delete=models.PROTECT,
        related_name="settlement_entries",
        verbose_name=_("store"),
    )
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    amount = models.DecimalField(_("amount (CNY)"), max_digits=14, decimal_places=2)
    available_at = models.DateTimeField(_("withdrawable from"))
    released_at = models.DateTimeField(_("released"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    cause_key = models.CharField(_("cause"), max_length=100, unique=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("settlement entry")
        verbose_name_plural = _("settlement entries")
        indexes = [
            models.Index(fields=["store", "available_at"], name="settlement_store_available"),
            models.Index(fields=["store", "-created_at"], name="settlement_store_time"),
            # The release check: what is due and not yet released, and nothing else.
            models.Index(
                fields=["available_at"],
                condition=Q(released_at__isnull=True),
                name="settlement_unreleased_due",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount}"


class WithdrawalStatus(models.TextChoices):
    REQUESTED = "requested", _("awaiting finance")
    APPROVED = "approved", _("approved and paid out")
    REJECTED = "rejected", _("rejected")


class Withdrawal(ConcurrentTransitionMixin, models.Model):
    store = models.ForeignKey(
        "merchants.Store", on_delete=models.PROTECT, related_name="withdrawals", verbose_name=_("store")
    )
    amount = models.DecimalField(_("amount (CNY)"), max_digits=14, decimal_places=2)
    status = FSMField(
        _("status"),
        max_length=20,
        choices=WithdrawalStatus.choices,
        default=WithdrawalStatus.REQUESTED,
        protected=True,
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_reason = models.CharField(_("decision reason"), max_length=300, blank=True)
    bank_reference = models.CharField(_("bank reference"), max_length=100, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("withdrawal")
        verbose_name_plural = _("withdrawals")
        permissions = [("decide_withdrawal", _("Can approve or reject withdrawals"))]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_amount_positive")]
        indexes = [models.Index(fields=["status", "requested_at"], name="withdrawal_status_time")]

    def __str__(self):
        return f"{self.store_id}: {self.amount} ({self.get_status_display()})"

    @transition(field=status, source=WithdrawalStatus.REQUESTED, target=WithdrawalStatus.APPROVED)
    def approve(self, *, by, at, bank_reference):
        self.decided_by, self.decided_at, self.bank_reference = by, at, bank_reference

    @transition(field=status, source=WithdrawalStatus.REQUESTED, target=WithdrawalStatus.REJECTED)
    def reject(self, *, by, at, reason):
        self.decided_by, self.decided_at, self.decision_reason = by, at, reason
