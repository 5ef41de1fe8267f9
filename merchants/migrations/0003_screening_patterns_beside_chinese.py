"""Screening patterns that also catch words written right next to Chinese text.

`\\b` does not see a boundary between a Chinese character and a Latin letter, so `同款taobao有售` or
`联系QQ12345678` slipped through. The boundaries are now "not a Latin letter or digit" on each side, and
links stop at the first character that cannot be part of a URL. Rows an administrator has edited since
are left alone.
"""

from django.db import migrations

L = r"(?<![A-Za-z0-9])"
R = r"(?![A-Za-z0-9])"
URL_CHARS = r"[A-Za-z0-9./_%?=&#:~+-]+"

REPLACEMENTS = [
    (r"\b(?:in)?flammable\b", r"(?<![A-Za-z0-9-])(?:in)?flammable" + R),
    (r"\bexplosives?\b", r"(?<![A-Za-z0-9-])explosives?" + R),
    (r"\bfireworks?\b", L + r"fireworks?" + R),
    (r"\bprescription[- ](?:only[- ])?(?:drugs?|medicines?)\b", L + r"prescription[- ](?:only[- ])?(?:drugs?|medicines?)" + R),
    (
        r"\b(?:taobao|tmall|pinduoduo|kuaishou|xianyu|amazon|shopee|lazada|jd\.com)\b",
        L + r"(?:taobao|tmall|pinduoduo|kuaishou|xianyu|amazon|shopee|lazada|jd\.com)" + R,
    ),
    (
        r"(?:微信|威信|薇信|wechat|weixin|\bvx\b|\bwx\b|加\s*[vV])[\s:：号]*[A-Za-z0-9_-]{0,20}",
        r"(?:微信|威信|薇信|wechat|weixin|" + L + r"(?:vx|wx)(?![A-Za-z-])|加\s*[vV])[\s:：号]*[A-Za-z0-9_-]{0,20}",
    ),
    (r"\bQQ[\s:：号]*\d{5,11}", L + r"QQ[\s:：号]*\d{5,11}"),
    (r"https?://\S+", r"https?://" + URL_CHARS),
    (r"\bwww\.\S+", L + r"www\." + URL_CHARS),
    (r"\bQR[- ]?code\b", L + r"QR[- ]?codes?" + R),
]


def forwards(apps, schema_editor):
    ScreeningPattern = apps.get_model("merchants", "ScreeningPattern")
    for old, new in REPLACEMENTS:
        ScreeningPattern.objects.filter(pattern=old, is_regex=True).update(pattern=new)


def backwards(apps, schema_editor):
    ScreeningPattern = apps.get_model("merchants", "ScreeningPattern")
    for old, new in REPLACEMENTS:
        ScreeningPattern.objects.filter(pattern=new, is_regex=True).update(pattern=old)


class Migration(migrations.Migration):
    dependencies = [("merchants", "0002_seed_rule_table")]
    operations = [migrations.RunPython(forwards, backwards)]
