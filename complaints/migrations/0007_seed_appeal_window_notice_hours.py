"""The rule-table number of the appeal-window notice (RULES §10): the owners are told when an appeal window
closes within this many hours. get_or_create keeps an administrator's edit."""

from decimal import Decimal

from django.db import migrations

PARAMETERS = [
    # key, value, unit, section, description
    ("appeal_window_notice_hours", "24", "hours", "§10", "Hours before an appeal window closes that the owners are told"),
]


def seed(apps, schema_editor):
    RuleParameter = apps.get_model("merchants", "RuleParameter")
    for key, value, unit, section, description in PARAMETERS:
        RuleParameter.objects.get_or_create(
            key=key, defaults={"value": Decimal(value), "unit": unit, "section": section, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [("complaints", "0006_notification_cause_and_email"), ("merchants", "0002_seed_rule_table")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
