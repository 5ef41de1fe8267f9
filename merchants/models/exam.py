"""The rules exam a penalty ladder can require of a store, and the attempts at it."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RulesExamRequirementQuerySet(models.QuerySet):
    def open(self):
        return self.filter(passed_at__isnull=True, lifted_at__isnull=True)


class RulesExamRequirement(models.Model):
    """The store must pass the rules exam: once per cause (the ladder step that required it). Passing the
    exam meets it; a revoke that takes the store back below the step lifts it."""

    store = models.ForeignKey(
        "merchants.Store",
        on_delete=models.PROTECT,
        related_name="exam_requirements",
        verbose_name=_("store"),
    )
    cause_key = models.CharField(_("cause"), max_length=100, unique=True)
    ledger = models.CharField(_("ledger"), max_length=10, blank=True)
    year = models.PositiveIntegerField(_("natural year"), null=True, blank=True)
    threshold = models.PositiveIntegerField(_("threshold"), null=True, blank=True)
    required_at = models.DateTimeField(_("required"), default=timezone.now)
    passed_at = models.DateTimeField(_("passed"), null=True, blank=True)
    passed_attempt = models.ForeignKey(
        "merchants.RulesExamAttempt",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("passing attempt"),
    )
    lifted_at = models.DateTimeField(_("lifted"), null=True, blank=True)
    lifted_reason = models.CharField(_("lift reason"), max_length=300, blank=True)

    objects = RulesExamRequirementQuerySet.as_manager()

    class Meta:
        ordering = ["-required_at", "-id"]
        verbose_name = _("rules exam requirement")
        verbose_name_plural = _("rules exam requirements")
        indexes = [
            models.Index(
                fields=["store"],
                condition=Q(passed_at__isnull=True, lifted_at__isnull=True),
                name="exam_requirement_open",
            )
        ]

    def __str__(self):
        return f"{self.store_id}: {self.cause_key}"

    @property
    def is_open(self) -> bool:
        return self.passed_at is None and self.lifted_at is None


class RulesExamAttempt(models.Model):
    """One sitting of the exam: the seed it was drawn with, the questions as shown, the answers, the score."""

    store = models.ForeignKey(
        "merchants.Store", on_delete=models.PROTECT, related_name="exam_attempts", verbose_name=_("store")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("taken by")
    )
    seed = models.BigIntegerField(_("seed"))
    questions = models.JSONField(_("questions as shown"), default=list)
    answers = models.JSONField(_("answers"), default=list, blank=True)
    score = models.PositiveIntegerField(_("correct answers"), null=True, blank=True)
    pass_share = models.DecimalField(_("pass mark (share)"), max_digits=5, decimal_places=4)
    passed = models.BooleanField(_("passed"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("rules exam attempt")
        verbose_name_plural = _("rules exam attempts")
        indexes = [models.Index(fields=["store", "-started_at"], name="exam_attempt_store_time")]

    def __str__(self):
        return f"{self.store_id} {self.started_at:%Y-%m-%d %H:%M} ({self.score}/{len(self.questions)})"

    @property
    def total(self) -> int:
        return len(self.questions)
