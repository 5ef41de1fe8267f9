"""Rule-table rows for the rules exam and the fraudulent-dispatch occurrence ladder; settlement that was
withdrawable before the release check existed is marked released, so no balance changes on upgrade.

The ladder's durations are platform defaults (RULES §4 names the penalties, the 7-day suspension on the
3rd and the clear-out on the 4th); compliance tunes them in the admin.
"""

from decimal import Decimal as D

from django.db import migrations
from django.db.models import F
from django.utils import timezone

PARAMETERS = [
    # key, value, unit, section, description
    (
        "rules_exam_question_count",
        "5",
        "questions",
        "§9",
        "Questions drawn for one sitting of the rules exam",
    ),
    ("rules_exam_pass_share", "0.8", "share", "§9", "Share of right answers that passes the rules exam"),
]

OCCURRENCE_LADDER = [
    # violation type, occurrence in the natural year, penalties, duration in days
    ("fraudulent_dispatch", 1, "settlement_freeze", 7),
    ("fraudulent_dispatch", 2, "settlement_freeze,listing_block", 7),
    ("fraudulent_dispatch", 3, "settlement_freeze,listing_block,suspension", 7),
    ("fraudulent_dispatch", 4, "clear_out", None),
]


def seed(apps, schema_editor):
    RuleParameter = apps.get_model("merchants", "RuleParameter")
    ViolationType = apps.get_model("merchants", "ViolationType")
    OccurrenceLadderStep = apps.get_model("merchants", "OccurrenceLadderStep")
    for key, value, unit, section, description in PARAMETERS:
        RuleParameter.objects.update_or_create(
            key=key,
            defaults={"value": D(value), "unit": unit, "section": section, "description": description},
        )
    types = dict(ViolationType.objects.values_list("code", "pk"))
    for code, occurrence, penalties, days in OCCURRENCE_LADDER:
        if code in types:
            OccurrenceLadderStep.objects.update_or_create(
                violation_type_id=types[code],
                occurrence=occurrence,
                defaults={"penalties": penalties, "duration_days": days},
            )


def release_existing(apps, schema_editor):
    SettlementEntry = apps.get_model("merchants", "SettlementEntry")
    SettlementEntry.objects.filter(released_at__isnull=True, available_at__lte=timezone.now()).update(
        released_at=F("available_at")
    )


def unseed(apps, schema_editor):
    apps.get_model("merchants", "RuleParameter").objects.filter(key__in=[p[0] for p in PARAMETERS]).delete()
    apps.get_model("merchants", "OccurrenceLadderStep").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("merchants", "0008_compliance_exam_release_rollover")]
    operations = [
        migrations.RunPython(seed, unseed),
        migrations.RunPython(release_existing, migrations.RunPython.noop),
    ]
