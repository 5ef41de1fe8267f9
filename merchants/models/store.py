"""Entities, stores, memberships, brands, sanctions and the store's event log."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from merchants.rules import credit_code_problem


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("Unknown time zone %(zone)s; use a name like Asia/Shanghai.") % {"zone": value}
        )


store_code_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9-]{1,19}$", _("Store codes use capital letters, digits and hyphens, like DEMO-001.")
)


def validate_credit_code(value: str) -> None:
    problem = credit_code_problem(value)
    if problem:
        raise ValidationError(problem)


class Entity(models.Model):
    """The legal entity behind one or more stores."""

    class Kind(models.TextChoices):
        ENTERPRISE = "enterprise", _("enterprise")
        INDIVIDUAL_BUSINESS = "individual_business", _("individual business (个体工商户)")
        NATURAL_PERSON = "natural_person", _("natural person (no longer admitted)")

    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    name = models.CharField(_("registered name"), max_length=200)
    credit_code = models.CharField(
        _("unified social credit code"), max_length=18, unique=True, validators=[validate_credit_code]
    )
    licence_expires_on = models.DateField(_("business licence valid until"), null=True, blank=True)
    banned_for_ever = models.BooleanField(_("banned for ever"), default=False)
    banned_reason = models.CharField(_("ban reason"), max_length=300, blank=True)
    exited_on = models.DateField(_("voluntary exit date"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("entity")
        verbose_name_plural = _("entities")

    def __str__(self):
        return f"{self.name} ({self.credit_code})"


class Brand(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    trademark_number = models.CharField(_("trademark registration number"), max_length=40, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("brand")
        verbose_name_plural = _("brands")

    def __str__(self):
        return self.name


class StoreStatus(models.TextChoices):
    PENDING_REVIEW = "pending_review", _("pending review")
    ACTIVE = "active", _("active")
    REJECTED = "rejected", _("rejected")
    SUSPENDED = "suspended", _("suspended")
    CLEARED_OUT = "cleared_out", _("cleared out")
    EXITING = "exiting", _("exiting")
    EXITED = "exited", _("exited")


# Stores that count against an entity's store limits: everything not finished or refused.
STORE_HOLDING_STATUSES = [
    StoreStatus.PENDING_REVIEW,
    StoreStatus.ACTIVE,
    StoreStatus.SUSPENDED,
    StoreStatus.EXITING,
]


class Store(ConcurrentTransitionMixin, models.Model):
    class StoreType(models.TextChoices):
        FLAGSHIP = "flagship", _("flagship store (旗舰店)")
        SPECIALTY = "specialty", _("specialty store (专卖店)")
        FRANCHISE = "franchise", _("franchise store (专营店)")
        ORDINARY = "ordinary", _("ordinary store (普通店)")

    code = models.CharField(_("store code"), max_length=20, unique=True, validators=[store_code_validator])
    name = models.CharField(_("name"), max_length=100)
    entity = models.ForeignKey(
        Entity, on_delete=models.PROTECT, related_name="stores", verbose_name=_("entity")
    )
    store_type = models.CharField(_("store type"), max_length=20, choices=StoreType.choices)
    brand = models.ForeignKey(
        Brand,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="stores",
        verbose_name=_("brand"),
        help_text=_("The brand a flagship or specialty store is opened for."),
    )
    main_category = models.ForeignKey(
        "merchants.Category", on_delete=models.PROTECT, related_name="+", verbose_name=_("main category")
    )
    categories = models.ManyToManyField(
        "merchants.Category",
        related_name="stores",
        verbose_name=_("business categories"),
        help_text=_(
            "The categories the store may list in; the deposit is the highest of their base deposits."
        ),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=40, default="Asia/Shanghai", validators=[validate_time_zone]
    )
    opened_on = models.DateField(_("opened on"), null=True, blank=True)
    status = FSMField(
        _("status"),
        max_length=20,
        choices=StoreStatus.choices,
        default=StoreStatus.PENDING_REVIEW,
        protected=True,
    )
    suspended_until = models.DateTimeField(_("suspended until"), null=True, blank=True)
    created_at = models.DateTimeField(_("applied"), default=timezone.now)

    class Meta:
        ordering = ["code"]
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        permissions = [
            ("review_store", _("Can approve or reject store admission")),
            ("sanction_store", _("Can impose and lift sanctions and suspend stores")),
        ]
        indexes = [models.Index(fields=["entity", "status"], name="store_entity_status")]

    def __str__(self):
        return f"{self.code} {self.name}"

    # --- transitions: only the row itself changes; services save and write events ---

    @transition(field=status, source=StoreStatus.PENDING_REVIEW, target=StoreStatus.ACTIVE)
    def approve(self, *, today):
        self.opened_on = today

    @transition(field=status, source=StoreStatus.PENDING_REVIEW, target=StoreStatus.REJECTED)
    def reject(self):
        pass

    @transition(field=status, source=StoreStatus.ACTIVE, target=StoreStatus.SUSPENDED)
    def suspend(self, *, until):
        self.suspended_until = until

    @transition(field=status, source=StoreStatus.SUSPENDED, target=StoreStatus.ACTIVE)
    def reinstate(self):
        self.suspended_until = None

    @transition(
        field=status, source=[StoreStatus.ACTIVE, StoreStatus.SUSPENDED], target=StoreStatus.CLEARED_OUT
    )
    def clear_out(self):
        self.suspended_until = None

    @transition(field=status, source=StoreStatus.ACTIVE, target=StoreStatus.EXITING)
    def begin_exit(self):
        pass

    @transition(field=status, source=StoreStatus.EXITING, target=StoreStatus.EXITED)
    def complete_exit(self):
        pass

    # --- what the store may do, from its status and live sanctions ---

    def _live_sanction_kinds(self, now=None) -> set[str]:
        # Prefetched by selectors as `live_sanctions`; otherwise one query.
        live = getattr(self, "live_sanctions", None)
        if live is None:
            live = list(Sanction.objects.live(now).filter(store=self))
        return {s.kind for s in live}

    @property
    def can_list(self) -> bool:
        return self.status == StoreStatus.ACTIVE and not (
            self._live_sanction_kinds() & {Sanction.Kind.LISTING_BLOCK}
        )

    @property
    def can_take_orders(self) -> bool:
        return self.status == StoreStatus.ACTIVE and not (
            self._live_sanction_kinds() & {Sanction.Kind.ORDER_RESTRICTION}
        )

    @property
    def can_withdraw(self) -> bool:
        return self.status in (StoreStatus.ACTIVE, StoreStatus.SUSPENDED, StoreStatus.EXITING) and not (
            self._live_sanction_kinds() & {Sanction.Kind.WITHDRAWAL_HOLD, Sanction.Kind.SETTLEMENT_FREEZE}
        )


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("owner")
        OPERATOR = "operator", _("operator")
        CUSTOMER_SERVICE = "customer_service", _("customer service")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    store = models.ForeignKey(
        Store, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("store")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["store__code", "user__username"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "store"], name="membership_user_store_unique")]

    def __str__(self):
        return f"{self.user} @ {self.store.code} ({self.get_role_display()})"


class BrandAuthorisation(models.Model):
    """The store's right to sell a brand, until a date."""

    store = models.ForeignKey(
        Store, on_delete=models.CASCADE, related_name="brand_authorisations", verbose_name=_("store")
    )
    brand = models.ForeignKey(
        Brand, on_delete=models.PROTECT, related_name="authorisations", verbose_name=_("brand")
    )
    document_reference = models.CharField(_("authorisation document"), max_length=100, blank=True)
    valid_from = models.DateField(_("valid from"))
    expires_on = models.DateField(_("expires on"))

    class Meta:
        ordering = ["store__code", "brand__name"]
        verbose_name = _("brand authorisation")
        verbose_name_plural = _("brand authorisations")
        constraints = [
            models.UniqueConstraint(fields=["store", "brand"], name="brand_authorisation_unique"),
            models.CheckConstraint(
                condition=Q(expires_on__gte=models.F("valid_from")), name="brand_authorisation_dates"
            ),
        ]

    def __str__(self):
        return f"{self.store.code}: {self.brand} until {self.expires_on}"

    def is_valid_on(self, day) -> bool:
        return self.valid_from <= day <= self.expires_on


class SanctionQuerySet(models.QuerySet):
    def live(self, now=None):
        now = now or timezone.now()
        return self.filter(lifted_at__isnull=True, starts_at__lte=now).filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=now)
        )


class Sanction(models.Model):
    """A temporary restriction on a store: a row with a start and an end, not a store state."""

    class Kind(models.TextChoices):
        LISTING_BLOCK = "listing_block", _("no new listings")
        ORDER_RESTRICTION = "order_restriction", _("new orders restricted")
        WITHDRAWAL_HOLD = "withdrawal_hold", _("withdrawals held")
        SETTLEMENT_FREEZE = "settlement_freeze", _("settlement frozen")
        PRODUCT_BAN = "product_ban", _("product banned from sale")

    store = models.ForeignKey(
        Store, on_delete=models.CASCADE, related_name="sanctions", verbose_name=_("store")
    )
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    listing = models.ForeignKey(
        "merchants.Listing",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sanctions",
        verbose_name=_("product"),
        help_text=_("Only for a product ban: the listing that may not be sold."),
    )
    starts_at = models.DateTimeField(_("starts"), default=timezone.now)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True, help_text=_("Empty: until lifted."))
    reason = models.CharField(_("reason"), max_length=300)
    cause_key = models.CharField(
        _("cause"),
        max_length=100,
        null=True,
        blank=True,
        unique=True,
        help_text=_("What imposed it, once: a second imposition for the same cause is refused."),
    )
    lifted_at = models.DateTimeField(_("lifted"), null=True, blank=True)
    lifted_reason = models.CharField(_("lift reason"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = SanctionQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("sanction")
        verbose_name_plural = _("sanctions")
        indexes = [models.Index(fields=["store", "kind", "lifted_at"], name="sanction_store_kind_lifted")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                name="sanction_ends_after_start",
            ),
            # A product ban names its product; no other sanction does.
            models.CheckConstraint(
                condition=Q(kind="product_ban", listing__isnull=False)
                | (~Q(kind="product_ban") & Q(listing__isnull=True)),
                name="sanction_listing_only_for_product_ban",
            ),
        ]

    def __str__(self):
        return f"{self.store.code}: {self.get_kind_display()}"

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.lifted_at is None and self.starts_at <= now and (self.ends_at is None or self.ends_at > now)
        )


class StoreEvent(models.Model):
    """One row per business event of a store: transitions, admission decisions, sanctions, deposits."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="events", verbose_name=_("store"))
    kind = models.CharField(_("event"), max_length=40)
    from_status = models.CharField(_("from"), max_length=20, blank=True)
    to_status = models.CharField(_("to"), max_length=20, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("store event")
        verbose_name_plural = _("store events")
        indexes = [models.Index(fields=["store", "-created_at"], name="store_event_store_time")]

    def __str__(self):
        return f"{self.store.code} {self.kind} {self.created_at:%Y-%m-%d %H:%M}"
