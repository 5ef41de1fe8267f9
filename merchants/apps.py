from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = _("Merchants")

    def ready(self):
        from merchants.staff import ensure_staff_groups

        # Permissions exist only after post_migrate, so the groups are (re)built then, idempotently.
        post_migrate.connect(ensure_staff_groups, sender=self, dispatch_uid="merchants.ensure_staff_groups")
