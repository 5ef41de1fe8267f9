"""Rule parameters that said a number a second time, where the code reads it from elsewhere: editing them
changed nothing, which misleads whoever edits the rule table. Each number now lives in one place:

- the fraudulent-dispatch clear-out is the 4th step of its occurrence ladder (`OccurrenceLadderStep`);
- the lost-contact deduction is the `lost_contact` violation type's deposit deduction;
- the score's floor, ceiling, growth-stage score and deductions are the `score_*` parameters of 0011.
"""

from django.db import migrations

DUPLICATES = [
    "fraudulent_dispatch_clear_out_nth",
    "lost_contact_deduction",
    "score_min",
    "score_max",
    "score_growth_stage",
    "score_negative_service_deduction",
    "score_fraudulent_dispatch_deduction",
]


def drop(apps, schema_editor):
    apps.get_model("merchants", "RuleParameter").objects.filter(key__in=DUPLICATES).delete()


class Migration(migrations.Migration):
    dependencies = [("merchants", "0011_experience_score")]

    operations = [migrations.RunPython(drop, migrations.RunPython.noop)]
