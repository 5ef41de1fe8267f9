"""Violation types with their default points, deductions and compensation rules (editable in the admin).

Points and deductions are platform policy, not figures of the rulebook, except lost contact (a deduction,
seed 000) and the compensation rules of §4; they start here as defaults for compliance to tune.
"""

from decimal import Decimal as D

from django.db import migrations

TYPES = [
    # code, name, severity, points, deposit deduction, compensation rule kind
    ("late_dispatch", "Late dispatch", "general", 0, "0", "late_dispatch"),
    ("out_of_stock", "Out of stock (unshipped 48 h after the deadline)", "general", 0, "0", "out_of_stock"),
    ("tracking_overdue", "No pickup scan 24 h after the tracking number", "general", 0, "0", ""),
    ("false_dispatch", "False dispatch (abnormal tracking)", "general", 2, "0", "false_dispatch"),
    ("fraudulent_dispatch", "Fraudulent dispatch (empty parcel, wrong goods)", "serious", 0, "0", "fraudulent_dispatch"),
    ("lost_contact", "Lost contact with a buyer (3 unconnected calls in 24 h)", "general", 2, "500", ""),
    ("negative_service", "Negative customer service", "general", 2, "0", ""),
    ("not_as_described", "Goods not as described", "general", 4, "0", ""),
    ("spot_check_failed", "Failed spot check", "general", 6, "2000", ""),
    ("counterfeit", "Counterfeit goods", "serious", 12, "10000", ""),
    ("manual", "Other violation recorded by a reviewer", "general", 0, "0", ""),
]


def seed(apps, schema_editor):
    ViolationType = apps.get_model("merchants", "ViolationType")
    RuleParameter = apps.get_model("merchants", "RuleParameter")
    for code, name, severity, points, deduction, compensation in TYPES:
        ViolationType.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "severity": severity,
                "points": points,
                "deposit_deduction": D(deduction),
                "compensation_kind": compensation,
            },
        )
    # The lost-contact deduction now lives on its violation type: one place for the number.
    RuleParameter.objects.filter(key="lost_contact_deduction").delete()


class Migration(migrations.Migration):
    dependencies = [("merchants", "0006_violations_and_points")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
