from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self):
        from merchants.causes import register_cause_link
        from merchants.checks import register_check
        from merchants.scoring import register_score_source
        from merchants.todos import register_todo_source
        from orders.checks import late_dispatch_check, late_rate_check, tracking_check
        from orders.selectors import order_cause_links, order_score_figures, shipment_cause_links
        from orders.todos import order_todos

        register_check("late_dispatch", lambda now: str(late_dispatch_check(now=now)))
        register_check("tracking", lambda now: str(tracking_check(now=now)))
        register_check("late_rate", lambda now: str(late_rate_check(now=now)))
        from orders.jobs import import_jobs_catch_up_check

        register_check("import_jobs", lambda now: str(import_jobs_catch_up_check(now=now)))
        register_cause_link("order", order_cause_links)
        register_cause_link("shipment", shipment_cause_links)
        register_score_source("orders", order_score_figures)
        register_todo_source("orders", order_todos)
