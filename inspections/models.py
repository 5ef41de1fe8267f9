"""Labs, sampling rounds, spot-check inspections, their lab reports and events."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

# CNAS laboratory accreditation numbers look like "CNAS L1234" (four or five digits).
accreditation_validator = RegexValidator(
    r"^CNAS L\d{4,5}$", _("Use the CNAS accreditation number as printed, like CNAS L1234.")
)


class Lab(models.Model):
    """A third-party testing laboratory the platform sends samples to."""

    name = models.CharField(_("name"), max_length=200)
    accreditation_number = models.CharField(
        _("accreditation number"), max_length=20, unique=True, validators=[accreditation_validator]
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("added"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("lab")
        verbose_name_plural = _("labs")

    def __str__(self):
        return f"{self.name} ({self.accreditation_number})"


class SamplingRound(models.Model):
    """One draw of listings to inspect: the seed, the candidates it drew from and the weights in force, so the
    same draw can be made again and each pick explained."""

    class Trigger(models.TextChoices):
        INSPECTOR = "inspector", _("drawn by an inspector")
        SCHEDULE = "schedule", _("weekly schedule")

    trigger = models.CharField(_("drawn by"), max_length=20, choices=Trigger.choices)
    seed = models.CharField(_("seed"), max_length=64)
    sample_size = models.PositiveIntegerField(_("sample size asked"), validators=[MinValueValidator(1)])
    drawn_count = models.PositiveIntegerField(_("listings drawn"), default=0)
    candidate_count = models.PositiveIntegerField(_("candidates"), default=0)
    candidates_digest = models.CharField(
        _("candidates fingerprint"),
        max_length=64,
        blank=True,
        help_text=_(
            "SHA-256 of the candidate ids and weights: the same seed over the same set draws the same."
        ),
    )
    weights = models.JSONField(_("weights in force"), default=dict, blank=True)
    cause_key = models.CharField(
        _("cause"),
        max_length=100,
        null=True,
        blank=True,
        unique=True,
        help_text=_("The schedule's week (e.g. weekly:2026-W05): one scheduled round per week."),
    )
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("inspector"),
    )
    drawn_at = models.DateTimeField(_("drawn"), default=timezone.now)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["-drawn_at", "-id"]
        verbose_name = _("sampling round")
        verbose_name_plural = _("sampling rounds")
        permissions = [("draw_round", _("Can draw a sampling round"))]

    def __str__(self):
        return _("Round %(id)s of %(when)s") % {
            "id": self.pk,
            "when": timezone.localtime(self.drawn_at).strftime("%Y-%m-%d"),
        }


class InspectionStatus(models.TextChoices):
    SELECTED = "selected", _("selected")
    PURCHASED = "purchased", _("purchased")
    AT_LAB = "at_lab", _("at the lab")
    PASSED = "passed", _("passed")
    FAILED = "failed", _("failed")
    RETEST_REQUESTED = "retest_requested", _("re-test requested")
    FAILED_FINAL = "failed_final", _("failed after re-test")
    CANCELLED = "cancelled", _("cancelled")


# A listing has at most one inspection in these states at a time.
INSPECTION_OPEN_STATUSES = [
    InspectionStatus.SELECTED,
    InspectionStatus.PURCHASED,
    InspectionStatus.AT_LAB,
    InspectionStatus.RETEST_REQUESTED,
]
# Failures that stand (they count against the store in later draws).
INSPECTION_FAILED_STATUSES = [InspectionStatus.FAILED, InspectionStatus.FAILED_FINAL]


class Defect(models.TextChoices):
    APPEARANCE = "appearance", _("appearance")
    MATERIAL = "material", _("material or composition")
    MEASUREMENT = "measurement", _("measurements")
    FUNCTION = "function", _("function or performance")
    LABELLING = "labelling", _("labelling")
    AUTHENTICITY = "authenticity", _("authenticity")


class Inspection(ConcurrentTransitionMixin, models.Model):
    round = models.ForeignKey(
        SamplingRound,
        on_delete=models.PROTECT,
        related_name="inspections",
        verbose_name=_("sampling round"),
    )
    listing = models.ForeignKey(
        "merchants.Listing", on_delete=models.PROTECT, related_name="inspections", verbose_name=_("listing")
    )
    # The listing's store, kept on the row so seller pages filter by one indexed column.
    store = models.ForeignKey(
        "merchants.Store", on_delete=models.PROTECT, related_name="inspections", verbose_name=_("store")
    )
    status = FSMField(
        _("status"),
        max_length=20,
        choices=InspectionStatus.choices,
        default=InspectionStatus.SELECTED,
        protected=True,
    )
    draw_rank = models.PositiveIntegerField(_("rank in the draw"))
    weight = models.DecimalField(_("draw weight"), max_digits=10, decimal_places=3)
    risk_factors = models.JSONField(
        _("why it was drawn"),
        default=dict,
        blank=True,
        help_text=_("The risk factors known at the draw and what each added to the weight."),
    )
    order = models.OneToOneField(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inspection",
        verbose_name=_("mystery order"),
    )
    purchased_at = models.DateTimeField(_("bought"), null=True, blank=True)
    lab = models.ForeignKey(
        Lab,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inspections",
        verbose_name=_("lab"),
    )
    sample_number = models.CharField(_("sample number"), max_length=40, blank=True)
    sent_to_lab_at = models.DateTimeField(_("sent to the lab"), null=True, blank=True)
    result_at = models.DateTimeField(_("result recorded"), null=True, blank=True)
    defects = models.JSONField(_("defects found"), default=list, blank=True)
    result_notes = models.TextField(_("lab findings"), blank=True)
    violation = models.ForeignKey(
        "merchants.Violation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("violation"),
    )
    # The listing removal this inspection's failure made (None when the listing was already removed for
    # another reason): a passed re-test undoes this removal only, never a reviewer's.
    listing_removal = models.ForeignKey(
        "merchants.ListingEvent",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("listing removal by the failure"),
    )
    retest_deadline = models.DateTimeField(_("re-test window closes"), null=True, blank=True)
    retest_requested_at = models.DateTimeField(_("re-test requested"), null=True, blank=True)
    retest_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("re-test requested by"),
    )
    retest_fee = models.DecimalField(
        _("re-test fee (CNY)"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    retest_result_at = models.DateTimeField(_("re-test result recorded"), null=True, blank=True)
    retest_defects = models.JSONField(_("defects found at the re-test"), default=list, blank=True)
    retest_notes = models.TextField(_("re-test findings"), blank=True)
    cancel_reason = models.CharField(_("why cancelled"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("selected"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")
        permissions = [
            ("record_purchase", _("Can record the mystery purchase of a sampled listing")),
            ("send_to_lab", _("Can record a sample sent to a lab")),
            ("record_result", _("Can record lab results and re-test results")),
            ("cancel_inspection", _("Can cancel an inspection before its result")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["listing"],
                condition=Q(status__in=INSPECTION_OPEN_STATUSES),
                name="inspection_one_open_per_listing",
            ),
            models.UniqueConstraint(fields=["round", "listing"], name="inspection_once_per_round"),
            models.UniqueConstraint(
                fields=["lab", "sample_number"],
                condition=~Q(sample_number=""),
                name="inspection_sample_number_per_lab",
            ),
            models.CheckConstraint(condition=Q(weight__gt=0), name="inspection_weight_positive"),
        ]
        indexes = [
            models.Index(fields=["store", "-created_at", "-id"], name="inspection_store_time"),
            models.Index(fields=["status", "store"], name="inspection_status_store"),
        ]

    def __str__(self):
        return _("Inspection %(id)s") % {"id": self.pk}

    # --- transitions: only this row changes; services lock, save and write events ---

    @transition(
        field=status,
        source=InspectionStatus.SELECTED,
        target=InspectionStatus.PURCHASED,
        permission="inspections.record_purchase",
    )
    def purchase(self, *, order, at):
        self.order, self.purchased_at = order, at

    @transition(
        field=status,
        source=InspectionStatus.PURCHASED,
        target=InspectionStatus.AT_LAB,
        permission="inspections.send_to_lab",
    )
    def send_to_lab(self, *, lab, sample_number, at):
        self.lab, self.sample_number, self.sent_to_lab_at = lab, sample_number, at

    @transition(
        field=status,
        source=InspectionStatus.AT_LAB,
        target=InspectionStatus.PASSED,
        permission="inspections.record_result",
    )
    def pass_test(self, *, at, notes):
        self.result_at, self.result_notes, self.defects = at, notes, []

    @transition(
        field=status,
        source=InspectionStatus.AT_LAB,
        target=InspectionStatus.FAILED,
        permission="inspections.record_result",
    )
    def fail_test(self, *, at, defects, notes, retest_deadline):
        self.result_at, self.defects, self.result_notes = at, list(defects), notes
        self.retest_deadline = retest_deadline

    @transition(
        field=status,
        source=InspectionStatus.FAILED,
        target=InspectionStatus.RETEST_REQUESTED,
        conditions=[lambda inspection: inspection.retest_deadline is not None],
    )
    def request_retest(self, *, at, by, fee):
        self.retest_requested_at, self.retest_requested_by, self.retest_fee = at, by, fee

    @transition(
        field=status,
        source=InspectionStatus.RETEST_REQUESTED,
        target=InspectionStatus.PASSED,
        permission="inspections.record_result",
    )
    def pass_retest(self, *, at, notes):
        self.retest_result_at, self.retest_notes, self.retest_defects = at, notes, []

    @transition(
        field=status,
        source=InspectionStatus.RETEST_REQUESTED,
        target=InspectionStatus.FAILED_FINAL,
        permission="inspections.record_result",
    )
    def fail_retest(self, *, at, defects, notes):
        self.retest_result_at, self.retest_defects, self.retest_notes = at, list(defects), notes

    @transition(
        field=status,
        source=[InspectionStatus.SELECTED, InspectionStatus.PURCHASED, InspectionStatus.AT_LAB],
        target=InspectionStatus.CANCELLED,
        permission="inspections.cancel_inspection",
    )
    def cancel(self, *, reason):
        self.cancel_reason = reason

    # --- for display ---

    @property
    def defect_labels(self) -> list[str]:
        return [str(Defect(code).label) for code in self.defects if code in Defect.values]

    @property
    def retest_defect_labels(self) -> list[str]:
        return [str(Defect(code).label) for code in self.retest_defects if code in Defect.values]

    @property
    def retest_last_minute(self):
        """The window's last minute, for display: it closes at the midnight that ends its last working day."""
        return self.retest_deadline - timedelta(minutes=1) if self.retest_deadline else None

    @property
    def overturned(self) -> bool:
        """Failed at first, passed at the re-test."""
        return self.status == InspectionStatus.PASSED and self.retest_result_at is not None


def report_upload_to(instance, filename):
    # Never the uploader's name: a fresh name with the extension of the type found in the content.
    return f"inspections/reports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{instance.extension}"


class LabReport(models.Model):
    """A lab's report file (PDF or image) for the first test or the re-test, stored under MEDIA_ROOT and
    served only through views that check who is asking."""

    class Phase(models.TextChoices):
        FIRST = "first", _("first test")
        RETEST = "retest", _("re-test")

    inspection = models.ForeignKey(
        Inspection, on_delete=models.PROTECT, related_name="reports", verbose_name=_("inspection")
    )
    phase = models.CharField(_("phase"), max_length=10, choices=Phase.choices)
    file = models.FileField(_("file"), upload_to=report_upload_to, max_length=200)
    content_type = models.CharField(_("type"), max_length=40)
    extension = models.CharField(max_length=8)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    original_name = models.CharField(_("uploaded as"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("lab report")
        verbose_name_plural = _("lab reports")
        constraints = [
            models.UniqueConstraint(fields=["inspection", "phase"], name="lab_report_once_per_phase")
        ]

    def __str__(self):
        return f"{self.inspection_id} {self.phase}: {self.original_name or self.file.name}"

    @property
    def download_name(self) -> str:
        return f"inspection-{self.inspection_id}-{self.phase}{self.extension}"


class InspectionEvent(models.Model):
    inspection = models.ForeignKey(
        Inspection, on_delete=models.CASCADE, related_name="events", verbose_name=_("inspection")
    )
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
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("inspection event")
        verbose_name_plural = _("inspection events")
        indexes = [models.Index(fields=["inspection", "created_at"], name="inspection_event_time")]

    def __str__(self):
        return f"{self.inspection_id} {self.kind}"
