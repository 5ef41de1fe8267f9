from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    name = "complaints"
    verbose_name = _("Complaints")

    def ready(self):
        from complaints.checks import (
            appeal_window_closing_check,
            complaint_reply_deadline_check,
            lost_contact_check,
            notification_email_check,
        )
        from complaints.fraud import fraudulent_dispatch_check
        from complaints.notices import complaint_notices
        from complaints.scoring import complaint_score_figures
        from complaints.selectors import (
            appeal_windows_closing_at,
            complaint_cause_links,
            contact_cause_links,
            dispatch_day_cause_links,
        )
        from complaints.todos import appeal_window_todos, complaint_todos
        from merchants.appeal_windows import register_appeal_window_source
        from merchants.causes import register_cause_link
        from merchants.checks import register_check
        from merchants.notices import register_notice_source
        from merchants.scoring import register_score_source
        from merchants.staff import ensure_staff_groups
        from merchants.todos import register_todo_source

        register_check("lost_contact", lambda now: str(lost_contact_check(now=now)))
        register_check("fraudulent_dispatch", lambda now: str(fraudulent_dispatch_check(now=now)))
        register_check("complaint_reply_deadline", lambda now: str(complaint_reply_deadline_check(now=now)))
        register_check("appeal_window_closing", lambda now: str(appeal_window_closing_check(now=now)))
        register_check("notification_emails", lambda now: str(notification_email_check(now=now)))
        register_cause_link("complaint", complaint_cause_links)
        register_appeal_window_source(appeal_windows_closing_at)
        register_cause_link("contact", contact_cause_links)
        register_cause_link("dispatch_day", dispatch_day_cause_links)
        register_score_source("complaints", complaint_score_figures)
        register_todo_source("complaints", complaint_todos)
        register_todo_source("appeals", appeal_window_todos)
        register_notice_source("complaints", complaint_notices)
        # The complaint permissions exist only after this app's post_migrate: give them to the groups then.
        post_migrate.connect(ensure_staff_groups, sender=self, dispatch_uid="complaints.ensure_staff_groups")
