"""The rule table: every number of the rulebook as editable data, seeded by a migration."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext_lazy as _

from merchants.rules import OCCURRENCE_LADDER_PENALTIES, POINT_LADDER_PENALTIES, ladder_step_problems

# A suspension step must say how long (the ladder skips a suspension without an end).
SUSPENSION_HAS_DURATION = models.Q(duration_days__isnull=False, duration_days__gt=0) | ~models.Q(
    penalties__contains="suspension"
)


class Category(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_zh = models.CharField(_("Chinese name"), max_length=100, blank=True)
    base_deposit = models.DecimalField(
        _("base deposit (CNY)"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )
    service_fee_rate = models.DecimalField(
        _("technical service fee rate"),
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(0)],
        help_text=_("A fraction: 0.0500 is 5%."),
    )
    is_risky = models.BooleanField(_("risky category"), default=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(base_deposit__gte=0), name="category_deposit_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(service_fee_rate__gte=0, service_fee_rate__lt=1),
                name="category_fee_rate_fraction",
            ),
        ]

    def __str__(self):
        return f"{self.display_name} ({self.code})"

    @property
    def display_name(self) -> str:
        """The name in the active language (Chinese when the page is in Chinese)."""
        if self.name_zh and (get_language() or "").startswith("zh"):
            return self.name_zh
        return self.name


class RuleParameter(models.Model):
    """A single number of the rulebook, looked up by key (e.g. `max_stores_per_entity`)."""

    key = models.SlugField(_("key"), max_length=64, unique=True)
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=4)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    section = models.CharField(_("rulebook section"), max_length=20, blank=True)
    description = models.CharField(_("description"), max_length=300)

    class Meta:
        ordering = ["section", "key"]
        verbose_name = _("rule parameter")
        verbose_name_plural = _("rule parameters")

    def __str__(self):
        return f"{self.key} = {self.value.normalize()} {self.unit}".strip()


class ScreeningPattern(models.Model):
    """A word or regular expression that listings may not contain."""

    class Kind(models.TextChoices):
        PROHIBITED = "prohibited", _("prohibited goods")
        THIRD_PARTY = "third_party", _("third-party platform")
        CONTACT = "contact", _("outside contact handle")
        LINK = "link", _("link or QR code")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    label = models.CharField(_("what it catches"), max_length=100)
    pattern = models.CharField(_("word or pattern"), max_length=300)
    is_regex = models.BooleanField(_("regular expression"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["kind", "label", "pattern"]
        verbose_name = _("screening pattern")
        verbose_name_plural = _("screening patterns")
        constraints = [
            models.UniqueConstraint(fields=["kind", "pattern"], name="screening_pattern_unique"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.pattern}"

    def clean(self):
        if self.is_regex:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValidationError({"pattern": _("Not a valid regular expression: %s") % exc}) from exc


class PointLadderStep(models.Model):
    """Crossing `threshold` points in a natural year applies this step's penalties once."""

    class Ledger(models.TextChoices):
        GENERAL = "general", _("general")
        SERIOUS = "serious", _("serious")

    ledger = models.CharField(_("ledger"), max_length=10, choices=Ledger.choices)
    threshold = models.PositiveIntegerField(_("threshold (points)"))
    penalties = models.CharField(
        _("penalties"),
        max_length=200,
        help_text=_(
            "Comma separated: warning, rules_exam, listing_block, order_restriction, suspension, clear_out"
        ),
    )
    duration_days = models.PositiveIntegerField(_("duration (days)"), null=True, blank=True)

    class Meta:
        ordering = ["ledger", "threshold"]
        verbose_name = _("point ladder step")
        verbose_name_plural = _("point ladder steps")
        constraints = [
            models.UniqueConstraint(fields=["ledger", "threshold"], name="point_ladder_step_unique"),
            models.CheckConstraint(
                condition=SUSPENSION_HAS_DURATION,
                name="point_ladder_suspension_has_duration",
                violation_error_message=_("A suspension needs its duration in days."),
            ),
        ]

    def __str__(self):
        return f"{self.get_ledger_display()} {self.threshold}: {self.penalties}"

    def clean(self):
        problems = ladder_step_problems(
            penalties=self.penalties or "", duration_days=self.duration_days, allowed=POINT_LADDER_PENALTIES
        )
        if problems:
            raise ValidationError(problems)


class CompensationRule(models.Model):
    """Consumer compensation: `rate` of the amount paid, bounded by `minimum` and `maximum`."""

    kind = models.SlugField(_("kind"), max_length=40)
    promised_hours_min = models.PositiveIntegerField(_("promised hours from (exclusive)"), default=0)
    promised_hours_max = models.PositiveIntegerField(
        _("promised hours up to (inclusive)"), null=True, blank=True
    )
    rate = models.DecimalField(_("rate"), max_digits=5, decimal_places=4)
    minimum = models.DecimalField(_("minimum (CNY)"), max_digits=10, decimal_places=2)
    maximum = models.DecimalField(_("maximum (CNY)"), max_digits=10, decimal_places=2)
    description = models.CharField(_("description"), max_length=300, blank=True)

    class Meta:
        ordering = ["kind", "promised_hours_min"]
        verbose_name = _("compensation rule")
        verbose_name_plural = _("compensation rules")
        constraints = [
            models.UniqueConstraint(fields=["kind", "promised_hours_min"], name="compensation_rule_unique"),
            models.CheckConstraint(
                condition=models.Q(minimum__lte=models.F("maximum")), name="compensation_min_le_max"
            ),
        ]

    def __str__(self):
        return f"{self.kind}: {self.rate:%} (min {self.minimum}, max {self.maximum})"


class OccurrenceLadderStep(models.Model):
    """The n-th violation of a type in a natural year applies this step's penalties (e.g. fraudulent
    dispatch: the 1st–3rd escalate, the 4th clears the store out)."""

    violation_type = models.ForeignKey(
        "merchants.ViolationType",
        on_delete=models.CASCADE,
        related_name="occurrence_steps",
        verbose_name=_("violation type"),
    )
    occurrence = models.PositiveIntegerField(
        _("occurrence in the natural year"), validators=[MinValueValidator(1)]
    )
    penalties = models.CharField(
        _("penalties"),
        max_length=200,
        help_text=_(
            "Comma separated: warning, rules_exam, settlement_freeze, listing_block, order_restriction, "
            "withdrawal_hold, suspension, clear_out"
        ),
    )
    duration_days = models.PositiveIntegerField(_("duration (days)"), null=True, blank=True)

    class Meta:
        ordering = ["violation_type", "occurrence"]
        verbose_name = _("occurrence ladder step")
        verbose_name_plural = _("occurrence ladder steps")
        constraints = [
            models.UniqueConstraint(
                fields=["violation_type", "occurrence"], name="occurrence_ladder_step_unique"
            ),
            models.CheckConstraint(condition=models.Q(occurrence__gte=1), name="occurrence_ladder_from_one"),
            models.CheckConstraint(
                condition=SUSPENSION_HAS_DURATION,
                name="occurrence_ladder_suspension_has_duration",
                violation_error_message=_("A suspension needs its duration in days."),
            ),
        ]

    def __str__(self):
        return f"{self.violation_type_id} #{self.occurrence}: {self.penalties}"

    def clean(self):
        problems = ladder_step_problems(
            penalties=self.penalties or "",
            duration_days=self.duration_days,
            allowed=OCCURRENCE_LADDER_PENALTIES,
        )
        if problems:
            raise ValidationError(problems)


class PublicHoliday(models.Model):
    """A day of the PRC public-holiday calendar that differs from the usual week: a day off on what would be
    a working day, or a make-up working day (调休) on a weekend. Working-day deadlines (re-test windows,
    appeal decisions) count with it. The State Council publishes each year's arrangement in the autumn
    before; an administrator enters it here."""

    class Kind(models.TextChoices):
        DAY_OFF = "day_off", _("public holiday (day off)")
        WORKING_DAY = "working_day", _("make-up working day (调休)")

    day = models.DateField(_("day"), unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(
        _("holiday"), max_length=100, help_text=_("The festival it belongs to, e.g. 国庆节.")
    )
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["day"]
        verbose_name = _("public holiday")
        verbose_name_plural = _("public holiday calendar")

    def __str__(self):
        return f"{self.day:%Y-%m-%d} {self.get_kind_display()}: {self.name}"


# The seeded compensation descriptions, so the rules exam shows them translated (edited ones show as typed).
SEEDED_COMPENSATION_DESCRIPTIONS = [
    gettext_noop("Late dispatch, promise of up to 48 hours"),
    gettext_noop("Out of stock, promise of up to 48 hours"),
    gettext_noop("Out of stock, promise of 48 to 240 hours"),
    gettext_noop("False dispatch (abnormal tracking)"),
    gettext_noop("Fraudulent dispatch (empty parcel, wrong goods)"),
]
