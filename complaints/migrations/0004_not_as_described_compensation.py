"""Upheld not-as-described complaints (a different item, a clearly lower-value item, missing parts or an empty
parcel: the fraudulent-dispatch sub-kinds of RULES §4 — empty parcel, wrong goods, more than half missing)
carry the fraudulent-dispatch consumer compensation: 30% of the amount paid, min 10, max 500, from the
`fraudulent_dispatch` compensation rows. The violation type names that kind, so the compensation is booked
with the violation (`violation:<id>:compensation`) and a revoke gives it back. An administrator's own choice
(a kind already set) is kept."""

from django.db import migrations


def forwards(apps, schema_editor):
    ViolationType = apps.get_model("merchants", "ViolationType")
    ViolationType.objects.filter(code="not_as_described", compensation_kind="").update(
        compensation_kind="fraudulent_dispatch"
    )


def backwards(apps, schema_editor):
    ViolationType = apps.get_model("merchants", "ViolationType")
    ViolationType.objects.filter(code="not_as_described", compensation_kind="fraudulent_dispatch").update(
        compensation_kind=""
    )


class Migration(migrations.Migration):
    dependencies = [("complaints", "0003_appeals"), ("merchants", "0007_seed_violation_types")]
    operations = [migrations.RunPython(forwards, backwards)]
