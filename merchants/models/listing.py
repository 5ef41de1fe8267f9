"""Listings and their events."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


class PromisedDispatch(models.TextChoices):
    """How long after payment the seller promises to hand the parcel to the carrier."""

    SAME_DAY = "same_day", _("same day")
    NEXT_DAY = "next_day", _("next day")
    H24 = "24h", _("within 24 hours")
    H48 = "48h", _("within 48 hours")
    H72 = "72h", _("within 72 hours")


# The longest each promise can take, in hours: used to order promises and to cap them by the rule table.
PROMISED_DISPATCH_HOURS = {
    PromisedDispatch.SAME_DAY: 24,
    PromisedDispatch.NEXT_DAY: 48,
    PromisedDispatch.H24: 24,
    PromisedDispatch.H48: 48,
    PromisedDispatch.H72: 72,
}


class ListingStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    LIVE = "live", _("live")
    REJECTED = "rejected", _("rejected by screening")
    DELISTED = "delisted", _("delisted")
    REMOVED = "removed", _("removed by the platform")


class Listing(ConcurrentTransitionMixin, models.Model):
    store = models.ForeignKey(
        "merchants.Store", on_delete=models.CASCADE, related_name="listings", verbose_name=_("store")
    )
    sku = models.CharField(_("SKU"), max_length=64)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(
        "merchants.Category", on_delete=models.PROTECT, related_name="listings", verbose_name=_("category")
    )
    brand = models.ForeignKey(
        "merchants.Brand",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="listings",
        verbose_name=_("brand"),
    )
    price = models.DecimalField(
        _("price (CNY)"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )
    stock = models.PositiveIntegerField(_("stock"), default=0)
    promised_dispatch = models.CharField(
        _("promised dispatch"), max_length=10, choices=PromisedDispatch.choices, default=PromisedDispatch.H48
    )
    status = FSMField(
        _("status"), max_length=20, choices=ListingStatus.choices, default=ListingStatus.DRAFT, protected=True
    )
    screening_hits = models.JSONField(
        _("screening findings"),
        default=list,
        blank=True,
        help_text=_("What the last screening found: field, rule and the words that tripped it."),
    )
    removal_reason = models.CharField(_("removal reason"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("listing")
        verbose_name_plural = _("listings")
        permissions = [("remove_listing", _("Can remove a listing from the platform"))]
        constraints = [
            models.UniqueConstraint(fields=["store", "sku"], name="listing_store_sku_unique"),
            models.CheckConstraint(condition=Q(price__gt=0), name="listing_price_positive"),
        ]
        indexes = [models.Index(fields=["store", "status", "-updated_at"], name="listing_store_status")]

    def __str__(self):
        return f"{self.sku} {self.title}"

    @property
    def promised_dispatch_hours(self) -> int:
        return PROMISED_DISPATCH_HOURS[self.promised_dispatch]

    @transition(field=status, source=[ListingStatus.DRAFT, ListingStatus.REJECTED], target=ListingStatus.LIVE)
    def pass_screening(self):
        self.screening_hits = []

    @transition(
        field=status, source=[ListingStatus.DRAFT, ListingStatus.REJECTED], target=ListingStatus.REJECTED
    )
    def fail_screening(self, *, hits):
        self.screening_hits = hits

    @transition(field=status, source=ListingStatus.LIVE, target=ListingStatus.DELISTED)
    def delist(self):
        pass

    @transition(field=status, source=ListingStatus.DELISTED, target=ListingStatus.LIVE)
    def relist(self):
        pass

    @transition(
        field=status,
        source=[ListingStatus.LIVE, ListingStatus.DELISTED, ListingStatus.DRAFT, ListingStatus.REJECTED],
        target=ListingStatus.REMOVED,
        permission="merchants.remove_listing",
    )
    def remove(self, *, reason):
        self.removal_reason = reason

    # A removal the platform overturned (a spot check passed at the re-test): the listing comes back
    # delisted, and the seller relists it.
    @transition(
        field=status,
        source=ListingStatus.REMOVED,
        target=ListingStatus.DELISTED,
        permission="merchants.remove_listing",
    )
    def restore(self):
        self.removal_reason = ""


class ListingEvent(models.Model):
    listing = models.ForeignKey(
        Listing, on_delete=models.CASCADE, related_name="events", verbose_name=_("listing")
    )
    kind = models.CharField(_("event"), max_length=40)
    from_status = models.CharField(_("from"), max_length=20, blank=True)
    to_status = models.CharField(_("to"), max_length=20, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("listing event")
        verbose_name_plural = _("listing events")
        indexes = [models.Index(fields=["listing", "-created_at"], name="listing_event_time")]

    def __str__(self):
        return f"{self.listing.sku} {self.kind}"
