"""Carriers with their tracking-number formats, and the order rules' numbers in the rule table."""

import secrets
from decimal import Decimal as D

from django.db import migrations

CARRIERS = [
    # code, name, Chinese name, pattern (whole number), example, cross-border
    ("sf", "SF Express", "顺丰速运", r"SF\d{12,13}", "SF1234567890123", False),
    ("yto", "YTO Express", "圆通速递", r"YT\d{13}", "YT1234567890123", False),
    ("zto", "ZTO Express", "中通快递", r"(?:73|75|76|78)\d{12}", "75123456789012", False),
    ("sto", "STO Express", "申通快递", r"77\d{13}", "771234567890123", False),
    ("yunda", "Yunda Express", "韵达快递", r"(?:31|43|46)\d{13}", "431234567890123", False),
    ("jd", "JD Logistics", "京东物流", r"JD[A-Z]{0,2}\d{10,13}", "JDVA12345678901", False),
    ("ems", "EMS", "中国邮政 EMS", r"(?:E[A-Z]\d{9}CN|1\d{12})", "EA123456789CN", False),
    ("jt", "J&T Express", "极兔速递", r"JT\d{13}", "JT1234567890123", False),
    ("usps", "USPS", "美国邮政", r"(?:9[2-5]\d{20}|[A-Z]{2}\d{9}US)", "9400111899223856928499", True),
    ("ups", "UPS", "UPS", r"1Z[0-9A-Z]{16}", "1Z999AA10123456784", True),
    ("fedex", "FedEx", "联邦快递", r"(?:\d{12}|\d{15}|\d{20})", "123456789012", True),
]

PARAMETERS = [
    ("same_day_cutoff_hour", "16", "hour", "§4", "Same-day promise: orders paid before this local hour ship the same day"),
    ("settlement_release_days", "3", "days", "§5", "Days after confirmed receipt before settlement is withdrawable"),
]


def seed(apps, schema_editor):
    Carrier = apps.get_model("orders", "Carrier")
    RuleParameter = apps.get_model("merchants", "RuleParameter")
    for code, name, name_zh, pattern, example, cross_border in CARRIERS:
        Carrier.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "name_zh": name_zh,
                "tracking_pattern": pattern,
                "tracking_example": example,
                "is_cross_border": cross_border,
            },
        )
    for carrier in Carrier.objects.filter(webhook_secret=""):
        carrier.webhook_secret = secrets.token_hex(32)
        carrier.save(update_fields=["webhook_secret"])
    for key, value, unit, section, description in PARAMETERS:
        RuleParameter.objects.get_or_create(
            key=key, defaults={"value": D(value), "unit": unit, "section": section, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial"), ("merchants", "0004_store_code_and_time_zone_validation")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
