"""The rule-table numbers the complaints app reads (RULES §6, §8). Most were seeded with the rule table
(merchants 0002); get_or_create keeps an administrator's edits and adds any that are missing."""

from decimal import Decimal

from django.db import migrations

PARAMETERS = [
    # key, value, unit, section, description
    ("complaint_reply_hours", "48", "hours", "§8", "Hours the seller has to answer a complaint"),
    ("lost_contact_calls", "3", "calls", "§6", "Unconnected buyer calls that make lost contact"),
    ("lost_contact_window_hours", "24", "hours", "§6", "Window for the unconnected calls"),
    ("reply_target_seconds", "180", "seconds", "§6", "A buyer message answered by a human within this counts as timely"),
    ("avg_response_limit_seconds", "90", "seconds", "§6", "Average human response time above this is negative service"),
    ("unanswered_counts_as_seconds", "600", "seconds", "§6", "An unanswered message counts as this response time"),
    ("service_hours_start", "8", "hour", "§6", "Customer-service hours start (local time)"),
    ("service_hours_end", "23", "hour", "§6", "Customer-service hours end (local time)"),
]


def seed(apps, schema_editor):
    RuleParameter = apps.get_model("merchants", "RuleParameter")
    for key, value, unit, section, description in PARAMETERS:
        RuleParameter.objects.get_or_create(
            key=key, defaults={"value": Decimal(value), "unit": unit, "section": section, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [("complaints", "0001_initial"), ("merchants", "0002_seed_rule_table")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
