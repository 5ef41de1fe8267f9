"""Numbers that were literals in the code, now rule parameters: the bands the dashboard colours a score
by, and how near a penalty-ladder threshold a store counts as at risk. The score's database check becomes a
sanity range (0–100): the floor and ceiling are the rule table's score_floor and score_ceiling, and lowering
the floor must not make every insert fail. get_or_create leaves values an administrator has edited."""

from decimal import Decimal

from django.db import migrations, models

PARAMETERS = [
    # key, value, unit, section, description
    ("score_shown_good_from", "90", "points", "§11", "Dashboard: a score at or above this is shown as good"),
    ("score_shown_bad_below", "70", "points", "§11", "Dashboard: a score below this is shown as bad"),
    ("at_risk_near_threshold_points", "6", "points", "§9", "Stores at risk: within this many points of the next ladder threshold"),
]


def seed(apps, schema_editor):
    RuleParameter = apps.get_model("merchants", "RuleParameter")
    for key, value, unit, section, description in PARAMETERS:
        RuleParameter.objects.get_or_create(
            key=key, defaults={"value": Decimal(value), "unit": unit, "section": section, "description": description}
        )


def unseed(apps, schema_editor):
    apps.get_model("merchants", "RuleParameter").objects.filter(key__in=[p[0] for p in PARAMETERS]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('merchants', '0012_drop_duplicate_rule_parameters'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='storescore',
            name='store_score_between_50_and_100',
        ),
        migrations.AlterField(
            model_name='storescore',
            name='growth_stage',
            field=models.BooleanField(default=False, help_text="Too few paid orders to judge: the score sits at the rule table's growth-stage score (score_growth_score).", verbose_name='growth stage'),
        ),
        migrations.AddConstraint(
            model_name='storescore',
            constraint=models.CheckConstraint(condition=models.Q(('score__gte', 0), ('score__lte', 100)), name='store_score_between_0_and_100'),
        ),
        migrations.RunPython(seed, unseed),
    ]
