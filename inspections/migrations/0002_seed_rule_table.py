"""The spot-check numbers of the rule table (RULES §7). The re-test window (`retest_window_working_days`, 3)
is seeded by merchants 0002 already; get_or_create leaves values a compliance administrator has edited."""

from decimal import Decimal as D

from django.db import migrations

PARAMETERS = [
    # key, value, unit, section, description
    ("retest_window_working_days", "3", "working days", "§7", "Working days to request a re-test of a failed spot check"),
    ("spot_check_retest_fee", "500", "CNY", "§7", "Fee the seller pays for a re-test of the same sample (refunded when the re-test passes)"),
    ("spot_check_sample_size", "20", "listings", "§7", "Listings drawn by the weekly sampling round (and by default by an inspector)"),
    ("spot_check_weight_base", "1", "weight", "§7", "Draw weight every live listing starts with"),
    ("spot_check_weight_new_store", "2", "weight", "§7", "Added to the weight of a listing of a recently opened store"),
    ("spot_check_new_store_days", "90", "days", "§7", "A store opened within this many days counts as new for sampling"),
    ("spot_check_weight_per_violation", "0.5", "weight", "§7", "Added per violation of the store in the look-back window (complaint signal)"),
    ("spot_check_violation_cap", "10", "violations", "§7", "Most violations counted towards the weight"),
    ("spot_check_violation_lookback_days", "90", "days", "§7", "Window of the store's violations counted for sampling"),
    ("spot_check_weight_risky_category", "2", "weight", "§7", "Added to the weight of a listing in a risky category (Category.is_risky)"),
    ("spot_check_weight_per_failure", "3", "weight", "§7", "Added per earlier failed spot check of the store that stands"),
    ("spot_check_failure_cap", "3", "failures", "§7", "Most earlier failures counted towards the weight"),
]


def seed(apps, schema_editor):
    RuleParameter = apps.get_model("merchants", "RuleParameter")
    for key, value, unit, section, description in PARAMETERS:
        RuleParameter.objects.get_or_create(
            key=key, defaults={"value": D(value), "unit": unit, "section": section, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("inspections", "0001_initial"),
        ("merchants", "0002_seed_rule_table"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
