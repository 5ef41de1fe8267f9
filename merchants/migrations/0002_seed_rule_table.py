"""Seed the rule table with the defaults of the rulebook (shared/RULES.md).

Compliance administrators edit these rows in the admin; code reads them, never a literal.
"""

from decimal import Decimal as D

from django.db import migrations

CATEGORIES = [
    # code, name, Chinese name, base deposit, fee rate, risky
    ("general", "General merchandise", "百货", "2000", "0.0500", False),
    ("apparel", "Apparel, footwear and bags", "服饰鞋包", "5000", "0.0500", False),
    ("food", "Food", "食品", "20000", "0.0300", True),
    ("beauty", "Beauty and personal care", "美妆个护", "10000", "0.0500", True),
    ("electronics", "Electronics", "数码电器", "10000", "0.0200", False),
    ("jewelry", "Jewellery", "珠宝饰品", "20000", "0.0300", True),
    ("health", "Health", "保健", "20000", "0.0300", True),
]

PARAMETERS = [
    # key, value, unit, section, description
    ("max_stores_per_entity", "3", "stores", "§1", "Stores one entity may hold at once"),
    ("max_stores_per_brand_per_entity", "1", "stores", "§1", "Stores one entity may hold for the same brand"),
    ("reentry_months_after_exit", "6", "months", "§1", "Months after a voluntary exit before the entity may apply again"),
    ("licence_min_valid_days", "15", "days", "§1", "The business licence must be valid for more than this many more days"),
    ("default_base_deposit", "2000", "CNY", "§2", "Deposit of a store whose categories have no deposit rule"),
    ("shortfall_grace_hours", "48", "hours", "§2", "Hours of deposit shortfall before listings and orders are restricted"),
    ("max_promised_dispatch_hours", "72", "hours", "§3", "Longest promised dispatch time for ordinary goods"),
    ("late_dispatch_rejudge_hours", "24", "hours", "§4", "A late order is judged again every this many hours"),
    ("late_dispatch_max_strikes", "3", "times", "§4", "Most times one order is judged late"),
    ("out_of_stock_after_hours", "48", "hours", "§4", "Still unshipped this long after the deadline counts as out of stock"),
    ("late_rate_ban_rate", "0.25", "share", "§4", "Daily late rate of a product above which it counts towards a ban"),
    ("late_rate_ban_min_late_orders", "10", "orders", "§4", "Late orders in a day needed with the ban rate"),
    ("late_rate_ban_days", "3", "days", "§4", "Days of the window at the ban rate that ban the product"),
    ("late_rate_window_days", "7", "days", "§4", "The window of days the late rate is judged over"),
    ("late_rate_ban_duration_days", "3", "days", "§4", "Days a product is banned"),
    ("late_rate_severe_rate", "0.80", "share", "§4", "Daily late rate for the severe escalation"),
    ("late_rate_severe_min_late_orders", "4", "orders", "§4", "Late orders in a day needed with the severe rate (more than 3)"),
    ("late_rate_severe_duration_days", "7", "days", "§4", "Days of product ban and order restriction on the severe escalation"),
    ("tracking_overdue_hours", "24", "hours", "§4", "No pickup scan this long after upload: tracking overdue"),
    ("false_dispatch_no_pickup_hours", "48", "hours", "§4", "No pickup scan this long after upload: false dispatch"),
    ("fraudulent_dispatch_daily_count", "3", "orders", "§4", "Fraudulent dispatches in one day that make a violation"),
    ("auto_refund_before_dispatch_max", "8000", "CNY", "§4", "Refund requests before dispatch up to this amount are approved automatically"),
    ("new_store_fee_rate", "0.01", "share", "§5", "Technical service fee of non-advertising orders in a new store"),
    ("new_store_fee_days", "30", "days", "§5", "Days after opening a store pays the new-store fee rate"),
    ("settlement_release_days", "3", "days", "§5", "Days after confirmed receipt before settlement is withdrawable"),
    ("reply_target_seconds", "180", "seconds", "§6", "A buyer message answered by a human within this counts as timely"),
    ("avg_response_limit_seconds", "90", "seconds", "§6", "Average human response time above this is negative service"),
    ("unanswered_counts_as_seconds", "600", "seconds", "§6", "An unanswered message counts as this response time"),
    ("service_hours_start", "8", "hour", "§6", "Customer-service hours start (local time)"),
    ("service_hours_end", "23", "hour", "§6", "Customer-service hours end (local time)"),
    ("lost_contact_calls", "3", "calls", "§6", "Unconnected buyer calls that make lost contact"),
    ("lost_contact_window_hours", "24", "hours", "§6", "Window for the unconnected calls"),
    ("retest_window_working_days", "3", "working days", "§7", "Working days to request a re-test of a failed spot check"),
    ("complaint_reply_hours", "48", "hours", "§8", "Hours the seller has to answer a complaint"),
    ("appeal_window_days", "7", "days", "§10", "Days after a violation to appeal it"),
    ("appeal_decision_working_days", "5", "working days", "§10", "Working days the reviewer has to decide an appeal"),
    ("max_appeals_per_violation", "2", "appeals", "§10", "Appeals allowed per violation"),
    ("second_appeal_window_days", "15", "days", "§10", "Days after the first rejection to file the second appeal"),
    ("score_growth_min_orders", "30", "orders", "§11", "Paid orders in the window needed for a computed score"),
    ("score_window_days", "30", "days", "§11", "Window of the experience score"),
    ("score_negative_service_cap", "15", "points", "§11", "Most negative-service deductions per window"),
    ("reveal_limit_per_hour", "50", "reveals", "§12", "Buyer-data reveals one user may make per hour"),
]

LADDER = [
    ("general", 12, "warning,rules_exam", None),
    ("general", 24, "listing_block", 7),
    ("general", 36, "order_restriction", 14),
    ("general", 48, "suspension", 30),
    ("serious", 12, "suspension", 7),
    ("serious", 24, "suspension", 14),
    ("serious", 36, "suspension", 21),
    ("serious", 48, "clear_out", None),
]

COMPENSATION = [
    # kind, promised hours from (exclusive), up to (inclusive), rate, min, max
    ("late_dispatch", 0, 48, "0.01", "2", "50", "Late dispatch, promise of up to 48 hours"),
    ("out_of_stock", 0, 48, "0.01", "2", "50", "Out of stock, promise of up to 48 hours"),
    ("out_of_stock", 48, 240, "0.03", "3", "50", "Out of stock, promise of 48 to 240 hours"),
    ("false_dispatch", 0, None, "0.25", "5", "100", "False dispatch (abnormal tracking)"),
    ("fraudulent_dispatch", 0, None, "0.30", "10", "500", "Fraudulent dispatch (empty parcel, wrong goods)"),
]

SCREENING = [
    # kind, label, pattern, is_regex
    ("prohibited", "Inflammable goods", "易燃", False),
    ("prohibited", "Inflammable goods", r"\b(?:in)?flammable\b", True),
    ("prohibited", "Explosives", "易爆", False),
    ("prohibited", "Explosives", "炸药", False),
    ("prohibited", "Explosives", "雷管", False),
    ("prohibited", "Explosives", "烟花爆竹", False),
    ("prohibited", "Explosives", r"\bexplosives?\b", True),
    ("prohibited", "Explosives", r"\bfireworks?\b", True),
    ("prohibited", "Prescription drugs", "处方药", False),
    ("prohibited", "Prescription drugs", r"\bprescription[- ](?:only[- ])?(?:drugs?|medicines?)\b", True),
    ("third_party", "Other marketplaces", "淘宝", False),
    ("third_party", "Other marketplaces", "天猫", False),
    ("third_party", "Other marketplaces", "拼多多", False),
    ("third_party", "Other marketplaces", "京东", False),
    ("third_party", "Other marketplaces", "闲鱼", False),
    ("third_party", "Other marketplaces", "快手", False),
    ("third_party", "Other marketplaces", "小红书", False),
    ("third_party", "Other marketplaces", "微店", False),
    ("third_party", "Other marketplaces", r"\b(?:taobao|tmall|pinduoduo|kuaishou|xianyu|amazon|shopee|lazada|jd\.com)\b", True),
    ("contact", "Outside contact handles", r"(?:微信|威信|薇信|wechat|weixin|\bvx\b|\bwx\b|加\s*[vV])[\s:：号]*[A-Za-z0-9_-]{0,20}", True),
    ("contact", "Outside contact handles", r"\bQQ[\s:：号]*\d{5,11}", True),
    ("contact", "Outside contact handles", r"(?<!\d)1[3-9]\d{9}(?!\d)", True),
    ("link", "Links", r"https?://\S+", True),
    ("link", "Links", r"\bwww\.\S+", True),
    ("link", "QR codes", "二维码", False),
    ("link", "QR codes", "扫码", False),
    ("link", "QR codes", r"\bQR[- ]?code\b", True),
]


def seed(apps, schema_editor):
    Category = apps.get_model("merchants", "Category")
    RuleParameter = apps.get_model("merchants", "RuleParameter")
    PointLadderStep = apps.get_model("merchants", "PointLadderStep")
    CompensationRule = apps.get_model("merchants", "CompensationRule")
    ScreeningPattern = apps.get_model("merchants", "ScreeningPattern")
    for code, name, name_zh, deposit, rate, risky in CATEGORIES:
        Category.objects.update_or_create(
            code=code,
            defaults={"name": name, "name_zh": name_zh, "base_deposit": D(deposit), "service_fee_rate": D(rate), "is_risky": risky},
        )
    for key, value, unit, section, description in PARAMETERS:
        RuleParameter.objects.update_or_create(
            key=key, defaults={"value": D(value), "unit": unit, "section": section, "description": description}
        )
    for ledger, threshold, penalties, days in LADDER:
        PointLadderStep.objects.update_or_create(
            ledger=ledger, threshold=threshold, defaults={"penalties": penalties, "duration_days": days}
        )
    for kind, low, high, rate, minimum, maximum, description in COMPENSATION:
        CompensationRule.objects.update_or_create(
            kind=kind,
            promised_hours_min=low,
            defaults={
                "promised_hours_max": high,
                "rate": D(rate),
                "minimum": D(minimum),
                "maximum": D(maximum),
                "description": description,
            },
        )
    for kind, label, pattern, is_regex in SCREENING:
        ScreeningPattern.objects.update_or_create(
            kind=kind, pattern=pattern, defaults={"label": label, "is_regex": is_regex}
        )


class Migration(migrations.Migration):
    dependencies = [("merchants", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
