"""Demo merchants for `make run`: users, entities, stores, deposits, listings and sanctions.

Idempotent: running it twice leaves the same data. The orders app adds the demo orders on top
(`orders.demo.seed_orders`); the `seed_demo` command lives there, since merchants imports no other app.
"""

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from merchants.models import (
    Brand,
    BrandAuthorisation,
    Category,
    DepositEntry,
    Entity,
    Listing,
    Membership,
    Sanction,
    Store,
    StoreStatus,
)
from merchants.rules import credit_code_check_character
from merchants.services import (
    ListingData,
    deposit_record,
    deposit_shortfall_check,
    listing_create,
    listing_delist,
    sanction_impose,
    store_apply,
    store_approve,
    store_suspend,
)
from merchants.staff import COMPLIANCE_REVIEWER, FINANCE, QUALITY_INSPECTOR

DEMO_PASSWORD = "demo-pass-2026"


def credit_code(prefix17: str) -> str:
    return prefix17 + credit_code_check_character(prefix17)


ENTITIES = {
    "xinghe": ("enterprise", "杭州星河家居用品有限公司", "91330106MA2H3K4L5", 900),
    "lumi": ("enterprise", "上海露米化妆品有限公司", "91310115MA1K7P2Q8", 700),
    "chen": ("individual_business", "广州市白云区陈记服装店", "92440111MA5D8E9F1", 400),
    "nanshan": ("enterprise", "深圳南山数码科技有限公司", "91440305MA5F6G7H2", 365),
    "expiring": ("enterprise", "宁波甬江小商品有限公司", "91330203MA2J8K9L3", 400),
    "exited": ("enterprise", "苏州吴门茶叶有限公司", "91320508MA1N2P3Q4", 500),
    "banned": ("enterprise", "义乌速发日用品有限公司", "91330782MA2B3C4D5", 500),
}

STORES = [
    # code, name, entity, type, main category, other categories, brand, days open (None: pending)
    ("DEMO-001", "星河家居旗下好物", "xinghe", "ordinary", "general", ["apparel"], None, 200),
    ("DEMO-002", "Lumi 露米官方旗舰店", "lumi", "flagship", "beauty", [], "Lumi", 12),
    ("DEMO-003", "陈记服装", "chen", "ordinary", "apparel", [], None, 150),
    ("DEMO-004", "南山数码", "nanshan", "ordinary", "electronics", [], None, 300),
    ("DEMO-005", "星河家居厨房专营", "xinghe", "franchise", "general", [], None, None),
    ("DEMO-006", "甬江小商品", "expiring", "ordinary", "general", [], None, None),
]

DEPOSITS = {"DEMO-001": "5000", "DEMO-002": "10000", "DEMO-003": "5000", "DEMO-004": "10000"}
# Deductions that leave a store short: (store, amount, reason, hours ago)
SHORTFALL_DEDUCTIONS = [
    ("DEMO-002", "6000", "Counterfeit complaint upheld: deposit deduction", 20),
    ("DEMO-003", "3500", "Failed spot check (fabric composition): deposit deduction", 72),
]

TOWELS = [
    ("HOME-{:03d}", "纯棉加厚浴巾 70x140cm {}号色", "general", "39.90", "48h"),
    ("HOME-{:03d}", "日式陶瓷餐具套装 {}件", "general", "129.00", "72h"),
    ("WEAR-{:03d}", "男士纯棉短袖T恤 {}码", "apparel", "59.00", "24h"),
]
BEAUTY = [
    ("LUMI-{:03d}", "Lumi 玻尿酸保湿精华 30ml 第{}代", "beauty", "199.00", "24h"),
    ("LUMI-{:03d}", "Lumi 氨基酸洁面乳 120g 款{}", "beauty", "89.00", "same_day"),
]

LOGINS_TEXT = (
    "\nDemo logins (password for all: %s)\n"
    "  seller pages  http://127.0.0.1:8000/\n"
    "    demo-seller     owner of DEMO-001 and DEMO-002\n"
    "    demo-cs         customer service on DEMO-001\n"
    "  admin         http://127.0.0.1:8000/admin/\n"
    "    demo-reviewer   compliance reviewer\n"
    "    demo-inspector  quality inspector\n"
    "    demo-finance    finance\n"
    "    admin           superuser\n"
).replace("%s", DEMO_PASSWORD)


def _user(username, *, staff=False, superuser=False, group=None):
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username, defaults={"is_staff": staff or superuser, "is_superuser": superuser}
    )
    if created or not user.check_password(DEMO_PASSWORD):
        user.set_password(DEMO_PASSWORD)
        user.save()
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def seed_merchants(*, now=None) -> dict:
    """Create (or find) the demo users, entities, stores, deposits, listings and sanctions.

    Returns {"stores": {code: Store}, "users": {username: User}}. Call it inside a transaction.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    users = {
        "admin": _user("admin", superuser=True),
        "demo-seller": _user("demo-seller"),
        "demo-cs": _user("demo-cs"),
        "demo-seller2": _user("demo-seller2"),
        "demo-reviewer": _user("demo-reviewer", staff=True, group=COMPLIANCE_REVIEWER),
        "demo-inspector": _user("demo-inspector", staff=True, group=QUALITY_INSPECTOR),
        "demo-finance": _user("demo-finance", staff=True, group=FINANCE),
    }
    admin, seller, cs, other_seller = (
        users["admin"],
        users["demo-seller"],
        users["demo-cs"],
        users["demo-seller2"],
    )

    entities = {}
    for key, (kind, name, prefix, licence_days) in ENTITIES.items():
        entities[key], _ = Entity.objects.get_or_create(
            credit_code=credit_code(prefix),
            defaults={
                "kind": kind,
                "name": name,
                "licence_expires_on": today + timedelta(days=licence_days),
            },
        )
    Entity.objects.filter(pk=entities["exited"].pk).update(exited_on=today - timedelta(days=60))
    Entity.objects.filter(pk=entities["banned"].pk).update(
        banned_for_ever=True, banned_reason="Store cleared out in 2025 for selling counterfeit goods"
    )
    lumi, _ = Brand.objects.get_or_create(name="Lumi", defaults={"trademark_number": "第38217765号"})
    Brand.objects.get_or_create(name="Xinghe Home", defaults={"trademark_number": "第40211893号"})

    categories = {c.code: c for c in Category.objects.all()}
    for code, name, entity_key, store_type, main, extra, brand_name, days_open in STORES:
        store = Store.objects.filter(code=code).first()
        if store is None:
            store = store_apply(
                entity=entities[entity_key],
                code=code,
                name=name,
                store_type=store_type,
                main_category=categories[main],
                categories=[categories[c] for c in extra],
                brand=lumi if brand_name == "Lumi" else None,
                actor=admin,
            )
            if days_open is not None:
                store_approve(
                    store=store,
                    actor=admin,
                    reason="Qualifications checked",
                    today=today - timedelta(days=days_open),
                    now=now - timedelta(days=days_open),
                )
        if code == "DEMO-002":
            BrandAuthorisation.objects.get_or_create(
                store=store,
                brand=lumi,
                defaults={
                    "valid_from": today - timedelta(days=400),
                    "expires_on": today + timedelta(days=330),
                    "document_reference": "LUMI-AUTH-2025-017",
                },
            )

    # Its licence was renewed late: the application is pending and approval is now refused.
    Entity.objects.filter(pk=entities["expiring"].pk).update(licence_expires_on=today + timedelta(days=10))
    stores = {s.code: s for s in Store.objects.filter(code__in=[s[0] for s in STORES])}
    Membership.objects.get_or_create(user=seller, store=stores["DEMO-001"], defaults={"role": "owner"})
    Membership.objects.get_or_create(user=seller, store=stores["DEMO-002"], defaults={"role": "owner"})
    Membership.objects.get_or_create(user=cs, store=stores["DEMO-001"], defaults={"role": "customer_service"})
    for code in ("DEMO-003", "DEMO-004", "DEMO-005", "DEMO-006"):
        Membership.objects.get_or_create(user=other_seller, store=stores[code], defaults={"role": "owner"})

    opened = {code: days for code, *_, days in STORES if days is not None}
    for code, amount in DEPOSITS.items():
        deposit_record(
            store=stores[code],
            kind=DepositEntry.Kind.TOP_UP,
            amount=Decimal(amount),
            reason="Deposit paid by bank transfer",
            reference=f"BANK-{code}-0001",
            cause_key=f"top-up:BANK-{code}-0001",
            now=now - timedelta(days=opened[code]),
        )
    for code, amount, reason, hours_ago in SHORTFALL_DEDUCTIONS:
        deposit_record(
            store=stores[code],
            kind=DepositEntry.Kind.DEDUCTION,
            amount=Decimal(amount),
            reason=reason,
            cause_key=f"demo:{code}:deduction",
            now=now - timedelta(hours=hours_ago),
        )
    deposit_record(
        store=stores["DEMO-001"],
        kind=DepositEntry.Kind.DEDUCTION,
        amount=Decimal("200.00"),
        reason="Lost contact with a buyer (3 unanswered calls)",
        cause_key="demo:DEMO-001:lost-contact",
        now=now,
    )
    deposit_record(
        store=stores["DEMO-001"],
        kind=DepositEntry.Kind.TOP_UP,
        amount=Decimal("200.00"),
        reason="Top-up after deduction",
        reference="BANK-DEMO-001-0002",
        cause_key="top-up:BANK-DEMO-001-0002",
        now=now,
    )

    _listings(stores["DEMO-001"], TOWELS, 10, brand=None)
    _listings(stores["DEMO-002"], BEAUTY, 6, brand=lumi)
    _listings(stores["DEMO-003"], [TOWELS[2]], 8, brand=None)
    _listings(
        stores["DEMO-004"],
        [("DIGI-{:03d}", "65W 氮化镓快充充电器 {}口", "electronics", "99.00", "48h")],
        6,
        brand=None,
    )
    _rejected_examples(stores["DEMO-001"])
    for listing in Listing.objects.filter(
        store=stores["DEMO-001"], sku__in=["HOME-004", "WEAR-006"], status="live"
    ):
        listing_delist(listing=listing)

    if stores["DEMO-004"].status == StoreStatus.ACTIVE:
        store_suspend(
            store=stores["DEMO-004"],
            until=now + timedelta(days=7),
            actor=admin,
            reason="停业整顿: 12 serious violation points (false dispatch)",
        )
    sanction_impose(
        store=stores["DEMO-002"],
        kind=Sanction.Kind.SETTLEMENT_FREEZE,
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=5),
        reason="Counterfeit complaint under review",
        cause_key="demo:DEMO-002:settlement-freeze",
    )
    deposit_shortfall_check(now=now)
    stores = {s.code: s for s in Store.objects.filter(code__in=[s[0] for s in STORES])}
    return {"stores": stores, "users": users}


def _listings(store, templates, per_template, *, brand):
    if not store.can_list:
        return
    for t_index, (sku_pattern, title_pattern, category_code, price, promise) in enumerate(templates):
        for i in range(1, per_template + 1):
            sku = sku_pattern.format(t_index * 100 + i)
            if Listing.objects.filter(store=store, sku=sku).exists():
                continue
            listing_create(
                store=store,
                data=ListingData(
                    sku=sku,
                    title=title_pattern.format(i),
                    category=Category.objects.get(code=category_code),
                    price=Decimal(price) + i,
                    stock=20 * i,
                    promised_dispatch=promise,
                    description="正品保障，七天无理由退货。",
                    brand=brand,
                ),
            )


def _rejected_examples(store):
    general = Category.objects.get(code="general")
    examples = [
        ("HOME-900", "户外打火机油 易燃 500ml", "Refill for outdoor lighters."),
        (
            "HOME-901",
            "收纳盒 三件套",
            "同款淘宝店更便宜，加微信 xinghe888 领券 https://example.com/coupon",
        ),
    ]
    for sku, title, description in examples:
        if not Listing.objects.filter(store=store, sku=sku).exists():
            listing_create(
                store=store,
                data=ListingData(
                    sku=sku,
                    title=title,
                    description=description,
                    category=general,
                    price=Decimal("25.00"),
                    stock=50,
                    promised_dispatch="48h",
                ),
            )


SCORE_HISTORY_DAYS = 90


def seed_score_history(*, stores: dict[str, Store], now=None) -> str:
    """90 days of experience-score history on the demo stores, each from the day it opened (never before):
    every day computed from their demo orders, complaints, buyer messages, spot checks and violations exactly
    as the daily check would have (`experience_score_backfill`, one run of the figure sources per day; about
    4 s of the seed on SQLite). Run it after the other apps' demo data. Idempotent: days already scored are
    kept, so a second seed costs nothing here."""
    from merchants.services import experience_score_backfill

    now = now or timezone.now()
    store_ids = [store.pk for store in stores.values() if store.pk]
    computed = experience_score_backfill(days=SCORE_HISTORY_DAYS, now=now, store_ids=store_ids)
    return f"{computed} daily scores computed over the last {SCORE_HISTORY_DAYS} days"
