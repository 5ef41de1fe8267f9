"""Each failed inspection records the listing removal its failure made, so a passed re-test undoes that
removal only. Inspections failed before this field existed get it from the listing's events: the removal
whose reason names the inspection (the failure step wrote "Failed spot check: inspection <id>, ...")."""

import django.db.models.deletion
from django.db import migrations, models

AWAITING_REVERSAL = ["failed", "retest_requested", "failed_final"]


def backfill(apps, schema_editor):
    Inspection = apps.get_model("inspections", "Inspection")
    ListingEvent = apps.get_model("merchants", "ListingEvent")
    for inspection in Inspection.objects.filter(status__in=AWAITING_REVERSAL).only("pk", "listing_id"):
        removal = (
            ListingEvent.objects.filter(
                listing_id=inspection.listing_id,
                kind="removed",
                reason__startswith=f"Failed spot check: inspection {inspection.pk},",
            )
            .order_by("-id")
            .first()
        )
        if removal is not None:
            Inspection.objects.filter(pk=inspection.pk).update(listing_removal=removal)


class Migration(migrations.Migration):

    dependencies = [
        ('inspections', '0002_seed_rule_table'),
        ('merchants', '0012_drop_duplicate_rule_parameters'),
    ]

    operations = [
        migrations.AddField(
            model_name='inspection',
            name='listing_removal',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='merchants.listingevent', verbose_name='listing removal by the failure'),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
