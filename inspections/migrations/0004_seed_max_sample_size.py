"""The largest sampling round, a literal in the code until now, as a rule parameter (RULES §7).
get_or_create leaves a value an administrator has edited."""

from decimal import Decimal

from django.db import migrations


def seed(apps, schema_editor):
    apps.get_model("merchants", "RuleParameter").objects.get_or_create(
        key="spot_check_max_sample_size",
        defaults={
            "value": Decimal("500"),
            "unit": "listings",
            "section": "§7",
            "description": "Most listings one sampling round may draw",
        },
    )


def unseed(apps, schema_editor):
    apps.get_model("merchants", "RuleParameter").objects.filter(key="spot_check_max_sample_size").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inspections", "0003_listing_removal_by_failure"),
        ("merchants", "0013_score_sanity_range_and_shown_bands"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
