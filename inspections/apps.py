from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "inspections"
    verbose_name = _("Inspections")

    def ready(self):
        from inspections.checks import sampling_check
        from inspections.scoring import inspection_score_figures
        from inspections.selectors import inspection_cause_links
        from inspections.todos import inspection_todos
        from merchants.causes import register_cause_link
        from merchants.checks import register_check
        from merchants.scoring import register_score_source
        from merchants.staff import ensure_staff_groups
        from merchants.todos import register_todo_source

        register_check("spot_check_sampling", lambda now: str(sampling_check(now=now)))
        register_cause_link("inspection", inspection_cause_links)
        register_score_source("inspections", inspection_score_figures)
        register_todo_source("inspections", inspection_todos)
        # The staff groups are built after merchants migrates, before this app's permissions exist on a fresh
        # database: build them again once ours exist (idempotent).
        post_migrate.connect(ensure_staff_groups, sender=self, dispatch_uid="inspections.ensure_staff_groups")
