"""The public-holiday calendar of the rule table, seeded with the PRC arrangement for 2026 and the statutory
holidays of 2027.

2026: the State Council General Office's notice on the 2026 holiday arrangement (November 2025): every day off of each break (weekend days included, so the table reads as the notice does) and the
make-up working days (调休) on weekends.

2027: the statutory holidays of the 全国年节及纪念日放假办法 (as amended in 2024) on their 2027 dates only
(元旦 1 day, 春节 除夕 and 初一 to 初三, 清明 1, 劳动节 2, 端午 1, 中秋 1, 国庆 3). The State Council's 2027
arrangement (the extra days off that join them to weekends and the make-up working days) was not known when
this was written: enter it in the admin (Merchants › Public holiday calendar) once published. These rows say
so in their note. get_or_create leaves days an administrator has entered or changed."""

import datetime

from django.db import migrations, models

OFF, WORK = "day_off", "working_day"
PROVISIONAL = "Statutory day only: enter the State Council's 2027 arrangement (extra days off, 调休) when published"


def _days(first, last):
    day = first
    while day <= last:
        yield day
        day += datetime.timedelta(days=1)


D = datetime.date
CALENDAR = [
    # 2026 (the State Council's arrangement)
    *[(day, OFF, "元旦", "") for day in _days(D(2026, 1, 1), D(2026, 1, 3))],
    (D(2026, 1, 4), WORK, "元旦", ""),
    (D(2026, 2, 14), WORK, "春节", ""),
    *[(day, OFF, "春节", "") for day in _days(D(2026, 2, 15), D(2026, 2, 23))],
    (D(2026, 2, 28), WORK, "春节", ""),
    *[(day, OFF, "清明节", "") for day in _days(D(2026, 4, 4), D(2026, 4, 6))],
    *[(day, OFF, "劳动节", "") for day in _days(D(2026, 5, 1), D(2026, 5, 5))],
    (D(2026, 5, 9), WORK, "劳动节", ""),
    *[(day, OFF, "端午节", "") for day in _days(D(2026, 6, 19), D(2026, 6, 21))],
    *[(day, OFF, "中秋节", "") for day in _days(D(2026, 9, 25), D(2026, 9, 27))],
    (D(2026, 9, 20), WORK, "国庆节", ""),
    *[(day, OFF, "国庆节", "") for day in _days(D(2026, 10, 1), D(2026, 10, 7))],
    (D(2026, 10, 10), WORK, "国庆节", ""),
    # 2027: statutory days only (see above)
    (D(2027, 1, 1), OFF, "元旦", PROVISIONAL),
    *[(day, OFF, "春节", PROVISIONAL) for day in _days(D(2027, 2, 5), D(2027, 2, 8))],
    (D(2027, 4, 5), OFF, "清明节", PROVISIONAL),
    *[(day, OFF, "劳动节", PROVISIONAL) for day in _days(D(2027, 5, 1), D(2027, 5, 2))],
    (D(2027, 6, 9), OFF, "端午节", PROVISIONAL),
    (D(2027, 9, 15), OFF, "中秋节", PROVISIONAL),
    *[(day, OFF, "国庆节", PROVISIONAL) for day in _days(D(2027, 10, 1), D(2027, 10, 3))],
]


def seed(apps, schema_editor):
    PublicHoliday = apps.get_model("merchants", "PublicHoliday")
    for day, kind, name, note in CALENDAR:
        PublicHoliday.objects.get_or_create(day=day, defaults={"kind": kind, "name": name, "note": note})


class Migration(migrations.Migration):

    dependencies = [
        ('merchants', '0013_score_sanity_range_and_shown_bands'),
    ]

    operations = [
        migrations.CreateModel(
            name='PublicHoliday',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(unique=True, verbose_name='day')),
                ('kind', models.CharField(choices=[('day_off', 'public holiday (day off)'), ('working_day', 'make-up working day (调休)')], max_length=20, verbose_name='kind')),
                ('name', models.CharField(help_text='The festival it belongs to, e.g. 国庆节.', max_length=100, verbose_name='holiday')),
                ('note', models.CharField(blank=True, max_length=300, verbose_name='note')),
            ],
            options={
                'verbose_name': 'public holiday',
                'verbose_name_plural': 'public holiday calendar',
                'ordering': ['day'],
            },
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
