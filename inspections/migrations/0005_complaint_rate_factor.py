"""Sampling weighs a store's complaint rate (complaints per paid order, from its latest experience score)
instead of its count of violations over 90 days: a count grows with the store's size and mixed in violations
that are not complaints (late dispatch, tracking). The three violation-count parameters go, so editing the
rule table never changes something the code no longer reads; the complaint rate gets a weight per
percentage point and a cap. get_or_create leaves values an administrator has edited."""

from decimal import Decimal

from django.db import migrations

ADDED = [
    # key, value, unit, description
    (
        "spot_check_weight_per_complaint_point",
        "1",
        "weight",
        "Added per percentage point of the store's complaint rate (complaints per paid order, latest score)",
    ),
    (
        "spot_check_complaint_rate_cap",
        "0.05",
        "share",
        "Highest complaint rate counted towards the weight (0.05 is 5%)",
    ),
]
REMOVED = [
    ("spot_check_weight_per_violation", "0.5", "weight", "Added per violation of the store in the look-back window (complaint signal)"),
    ("spot_check_violation_cap", "10", "violations", "Most violations counted towards the weight"),
    ("spot_check_violation_lookback_days", "90", "days", "Window of the store's violations counted for sampling"),
]


def _create(apps, rows):
    RuleParameter = apps.get_model("merchants", "RuleParameter")
    for key, value, unit, description in rows:
        RuleParameter.objects.get_or_create(
            key=key, defaults={"value": Decimal(value), "unit": unit, "section": "§7", "description": description}
        )


def _delete(apps, rows):
    apps.get_model("merchants", "RuleParameter").objects.filter(key__in=[row[0] for row in rows]).delete()


def forward(apps, schema_editor):
    _create(apps, ADDED)
    _delete(apps, REMOVED)


def backward(apps, schema_editor):
    _create(apps, REMOVED)
    _delete(apps, ADDED)


class Migration(migrations.Migration):
    dependencies = [("inspections", "0004_seed_max_sample_size")]

    operations = [migrations.RunPython(forward, backward)]
