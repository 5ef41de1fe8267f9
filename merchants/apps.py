from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = _("Merchants")

    def ready(self):
        from merchants.checks import register_check
        from merchants.services import (
            experience_score_check,
            point_year_rollover_check,
            settlement_release_check,
        )
        from merchants.staff import ensure_staff_groups

        register_check("settlement_release", lambda now: str(settlement_release_check(now=now)))
        register_check("point_year_rollover", lambda now: str(point_year_rollover_check(now=now)))
        register_check("experience_score", lambda now: str(experience_score_check(now=now)))

        # Permissions exist only after post_migrate, so the groups are (re)built then, idempotently.
        post_migrate.connect(ensure_staff_groups, sender=self, dispatch_uid="merchants.ensure_staff_groups")
