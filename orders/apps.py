from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self):
        from merchants.checks import register_check
        from orders.checks import late_dispatch_check

        register_check("late_dispatch", lambda now: str(late_dispatch_check(now=now)))
