"""The store experience score (RULES §11): one row per store and day, with the parts and rates behind it."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class StoreScore(models.Model):
    """The score a store had on a day (computed just after that day's midnight over the 30 days before)."""

    store = models.ForeignKey(
        "merchants.Store", on_delete=models.CASCADE, related_name="scores", verbose_name=_("store")
    )
    day = models.DateField(_("day"))
    score = models.DecimalField(_("experience score"), max_digits=5, decimal_places=2)
    product = models.DecimalField(_("product"), max_digits=5, decimal_places=2)
    logistics = models.DecimalField(_("logistics"), max_digits=5, decimal_places=2)
    service = models.DecimalField(_("service"), max_digits=5, decimal_places=2)
    deductions = models.DecimalField(_("deductions"), max_digits=5, decimal_places=2, default=0)
    growth_stage = models.BooleanField(
        _("growth stage"),
        default=False,
        help_text=_(
            "Too few paid orders to judge: the score sits at the rule table's growth-stage score "
            "(score_growth_score)."
        ),
    )
    paid_orders = models.PositiveIntegerField(_("paid orders in the window"), default=0)
    # The figures it came from, by name (rates as shares 0–1, times in seconds or hours), for the seller's
    # dashboard and its trend charts: late_dispatch_rate, valid_tracking_rate, complaint_rate,
    # reply_3min_rate, spot_check_pass_rate, ...
    metrics = models.JSONField(_("figures"), default=dict)
    computed_at = models.DateTimeField(_("computed"), default=timezone.now)

    class Meta:
        ordering = ["store", "-day"]
        verbose_name = _("experience score")
        verbose_name_plural = _("experience scores")
        constraints = [
            models.UniqueConstraint(fields=["store", "day"], name="store_score_once_a_day"),
            # A sanity range only: the floor and ceiling are the rule table's (score_floor, score_ceiling),
            # which an administrator may move within the 100-point scale without every insert failing.
            models.CheckConstraint(
                condition=models.Q(score__gte=0, score__lte=100), name="store_score_between_0_and_100"
            ),
        ]
        indexes = [models.Index(fields=["day", "score"], name="store_score_day_score")]

    def __str__(self):
        return f"{self.store_id} {self.day}: {self.score}"
