"""Violations, their types (rule table) and the two point ledgers."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


class ViolationType(models.Model):
    """A kind of violation and what it costs by default (rule table, editable in the admin)."""

    class Severity(models.TextChoices):
        GENERAL = "general", _("general")
        SERIOUS = "serious", _("serious")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    points = models.PositiveIntegerField(_("points"), default=0)
    deposit_deduction = models.DecimalField(
        _("deposit deduction (CNY)"), max_digits=12, decimal_places=2, default=0
    )
    compensation_kind = models.SlugField(
        _("compensation rule"),
        max_length=40,
        blank=True,
        help_text=_("The compensation rule kind it pays, if any."),
    )

    class Meta:
        ordering = ["severity", "code"]
        verbose_name = _("violation type")
        verbose_name_plural = _("violation types")

    def __str__(self):
        return self.name


class ViolationStatus(models.TextChoices):
    ACTIVE = "active", _("in force")
    APPEALED = "appealed", _("under appeal")
    REVOKED = "revoked", _("revoked")


class Violation(ConcurrentTransitionMixin, models.Model):
    store = models.ForeignKey(
        "merchants.Store", on_delete=models.PROTECT, related_name="violations", verbose_name=_("store")
    )
    violation_type = models.ForeignKey(
        ViolationType, on_delete=models.PROTECT, related_name="violations", verbose_name=_("type")
    )
    cause_kind = models.CharField(
        _("cause"), max_length=20
    )  # order, shipment, complaint, inspection, contact, manual
    cause_id = models.CharField(_("cause id"), max_length=40)
    cause_label = models.CharField(_("cause label"), max_length=100, blank=True)
    occurred_at = models.DateTimeField(_("occurred"), default=timezone.now)
    points = models.PositiveIntegerField(_("points"), default=0)
    ledger = models.CharField(_("ledger"), max_length=10, choices=ViolationType.Severity.choices)
    point_year = models.PositiveIntegerField(_("natural year"))
    status = FSMField(
        _("status"),
        max_length=20,
        choices=ViolationStatus.choices,
        default=ViolationStatus.ACTIVE,
        protected=True,
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("violation")
        verbose_name_plural = _("violations")
        permissions = [("record_violation", _("Can record and revoke violations"))]
        constraints = [
            # Once per cause and type: running a check twice never doubles a penalty.
            models.UniqueConstraint(
                fields=["violation_type", "cause_kind", "cause_id"], name="violation_once_per_cause"
            ),
        ]
        indexes = [
            models.Index(fields=["store", "-occurred_at"], name="violation_store_time"),
            # Appeal windows run from when a violation was recorded: the active ones by that time.
            models.Index(
                fields=["created_at"], condition=Q(status="active"), name="violation_active_recorded"
            ),
        ]

    def __str__(self):
        return f"{self.violation_type} ({self.cause_kind} {self.cause_id})"

    @transition(field=status, source=ViolationStatus.ACTIVE, target=ViolationStatus.APPEALED)
    def appeal(self):
        pass

    @transition(field=status, source=ViolationStatus.APPEALED, target=ViolationStatus.ACTIVE)
    def uphold(self):
        pass

    @transition(
        field=status,
        source=[ViolationStatus.ACTIVE, ViolationStatus.APPEALED],
        target=ViolationStatus.REVOKED,
    )
    def revoke(self, *, at):
        self.revoked_at = at


class PointEntry(models.Model):
    """Points on a store's general or serious ledger for a natural year; a revoke adds the negative entry."""

    store = models.ForeignKey("merchants.Store", on_delete=models.PROTECT, related_name="point_entries")
    ledger = models.CharField(_("ledger"), max_length=10, choices=ViolationType.Severity.choices)
    year = models.PositiveIntegerField(_("natural year"))
    points = models.IntegerField(_("points"))
    violation = models.ForeignKey(Violation, on_delete=models.PROTECT, related_name="point_entries")
    cause_key = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("point entry")
        verbose_name_plural = _("point entries")
        indexes = [models.Index(fields=["store", "year", "ledger"], name="point_store_year_ledger")]
        constraints = [models.CheckConstraint(condition=~Q(points=0), name="point_entry_not_zero")]

    def __str__(self):
        return f"{self.store_id} {self.ledger} {self.year}: {self.points:+d}"


class OccurrenceLadderApplication(models.Model):
    """One application of an occurrence-ladder step to a store: once per step and natural year while it
    stands (a revoke that brings the count below the step undoes it, and a later occurrence applies it anew).
    Its id names the sanctions it imposed (`occurrence:<id>:<penalty>`)."""

    store = models.ForeignKey(
        "merchants.Store", on_delete=models.PROTECT, related_name="occurrence_applications"
    )
    violation_type = models.ForeignKey(
        ViolationType, on_delete=models.PROTECT, related_name="+", verbose_name=_("violation type")
    )
    year = models.PositiveIntegerField(_("natural year"))
    occurrence = models.PositiveIntegerField(_("occurrence"))
    violation = models.ForeignKey(
        Violation, on_delete=models.PROTECT, related_name="+", verbose_name=_("violation that reached it")
    )
    penalties = models.CharField(_("penalties"), max_length=200)
    applied_at = models.DateTimeField(_("applied"), default=timezone.now)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    suspended_store = models.BooleanField(_("suspended the store"), default=False)
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)

    class Meta:
        ordering = ["-applied_at", "-id"]
        verbose_name = _("occurrence ladder application")
        verbose_name_plural = _("occurrence ladder applications")
        constraints = [
            models.UniqueConstraint(
                fields=["store", "violation_type", "year", "occurrence"],
                condition=Q(undone_at__isnull=True),
                name="occurrence_applied_once",
            ),
        ]

    def __str__(self):
        return f"{self.store_id} {self.violation_type_id} {self.year} #{self.occurrence}: {self.penalties}"


class PointYearClose(models.Model):
    """A store's point ledgers at the close of a natural year, recorded once by the year-rollover check."""

    store = models.ForeignKey("merchants.Store", on_delete=models.PROTECT, related_name="point_year_closes")
    year = models.PositiveIntegerField(_("natural year"))
    general_points = models.IntegerField(_("general points"))
    serious_points = models.IntegerField(_("serious points"))
    closed_at = models.DateTimeField(_("closed"), default=timezone.now)

    class Meta:
        ordering = ["-year", "store"]
        verbose_name = _("closed point year")
        verbose_name_plural = _("closed point years")
        constraints = [models.UniqueConstraint(fields=["store", "year"], name="point_year_closed_once")]

    def __str__(self):
        return f"{self.store_id} {self.year}: {self.general_points}/{self.serious_points}"


# The seeded type names, so they are translated when shown (names edited in the admin show as typed).
SEEDED_TYPE_NAMES = [
    gettext_noop("Late dispatch"),
    gettext_noop("Out of stock (unshipped 48 h after the deadline)"),
    gettext_noop("No pickup scan 24 h after the tracking number"),
    gettext_noop("False dispatch (abnormal tracking)"),
    gettext_noop("Fraudulent dispatch (empty parcel, wrong goods)"),
    gettext_noop("Lost contact with a buyer (3 unconnected calls in 24 h)"),
    gettext_noop("Negative customer service"),
    gettext_noop("Goods not as described"),
    gettext_noop("Failed spot check"),
    gettext_noop("Counterfeit goods"),
    gettext_noop("Other violation recorded by a reviewer"),
]
