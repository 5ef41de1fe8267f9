"""Benchmark: the seller order list and the admin orders changelist on a million orders (PostgreSQL only).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_orders .venv/bin/python bench/orders.py
    DATABASE_URL=... .venv/bin/python bench/orders.py --skip-fill          # measure again, same data
    DATABASE_URL=... .venv/bin/python bench/orders.py --stores 100 --orders 50000   # a quick run
    DATABASE_URL=... .venv/bin/python bench/orders.py --skip-fill --explain # + EXPLAIN ANALYZE of slow queries

1. Creates the database named in DATABASE_URL if it is missing and migrates it. Its name must contain
   "bench": the fill empties the order tables.
2. Fills it (unless --skip-fill): `--stores` active stores with five live listings each, and `--orders`
   orders paid over the last 180 days in time order, a fifth of them in store BENCH-0001; with their lines,
   event rows, shipments and tracking scans. Every order follows a timeline cut at now (paid → shipped →
   scanned → delivered → completed; or cancelled, refunded, shipped late, never shipped), so all states
   are there, with overdue orders among those awaiting dispatch. Deadlines and fees come from orders.rules
   (the functions order_create uses); recipients are a pool of 500 encrypted once with orders.crypto and
   reused (Fernet tokens stay valid). Rows go in through COPY (psycopg 3) with the secondary indexes
   dropped, then the indexes are rebuilt and the tables vacuumed and analysed. (No settlement entries: the
   pages measured do not read them.)
3. Measures in process with Django's test Client (DEBUG off, as in production): the server-side time of
   each page (median and p95 of --requests requests after two warm-ups) and its query count, for the
   seller order list of BENCH-0001 (as its owner) and the admin changelist (as a superuser). A page whose
   URL does not exist yet prints "not available yet".
"""

import argparse
import os
import random
import re
import statistics
import sys
import time
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BIG_STORE = "BENCH-0001"
LISTINGS_PER_STORE = 5
HISTORY_DAYS = 180
CHUNK = 25_000  # orders per COPY round
TABLES = [
    "orders_order",
    "orders_orderline",
    "orders_orderevent",
    "orders_shipment",
    "orders_trackingevent",
]
TARGET_SELLER_MS, TARGET_SELLER_QUERIES, TARGET_ADMIN_MS = 50, 10, 300


def refuse(message: str) -> None:
    print(f"bench/orders.py: {message}", file=sys.stderr)
    sys.exit(2)


def check_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        refuse(
            "DATABASE_URL is required, e.g. "
            "DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_orders .venv/bin/python bench/orders.py"
        )
    scheme = urlsplit(url).scheme
    if not scheme.startswith("postgres"):
        refuse(
            f"this benchmark needs PostgreSQL (COPY, a million rows); DATABASE_URL is {scheme or url!r}. "
            "SQLite is refused."
        )
    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        refuse(f"the database name must contain 'bench' (the fill empties its order tables); got {name!r}")
    return name


check_database_url()
os.environ.setdefault("ALLOW_INSECURE_DEFAULTS", "1")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["ALLOWED_HOSTS"] = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost") + ",testserver"

import django  # noqa: E402

django.setup()

import logging  # noqa: E402

logging.getLogger("axes").setLevel(logging.WARNING)  # force_login would log every log-in

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402


def create_database() -> None:
    db = settings.DATABASES["default"]
    params = {
        "dbname": "postgres",
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
            print(f"created database {db['NAME']}")


# --- Secondary indexes: dropped for the load, rebuilt after (their definitions kept in the database) ------


def _raw(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def drop_secondary_indexes() -> None:
    _raw(
        "CREATE TABLE IF NOT EXISTS bench_saved_index (name text PRIMARY KEY, tbl text, kind text, ddl text)"
    )
    rows = _raw(
        """
        SELECT t.relname, i.relname, con.conname, pg_get_constraintdef(con.oid), pg_get_indexdef(ix.indexrelid)
        FROM pg_index ix
        JOIN pg_class i ON i.oid = ix.indexrelid
        JOIN pg_class t ON t.oid = ix.indrelid
        LEFT JOIN pg_constraint con ON con.conindid = ix.indexrelid AND con.contype IN ('u', 'x')
        WHERE t.relname = ANY(%s) AND NOT ix.indisprimary
        """,
        [TABLES],
    )
    for table, index, constraint, constraint_def, index_def in rows:
        if constraint:
            ddl = f'ALTER TABLE "{table}" ADD CONSTRAINT "{constraint}" {constraint_def}'
            _raw(
                "INSERT INTO bench_saved_index VALUES (%s, %s, 'constraint', %s) ON CONFLICT DO NOTHING",
                [constraint, table, ddl],
            )
            _raw(f'ALTER TABLE "{table}" DROP CONSTRAINT "{constraint}"')
        else:
            _raw(
                "INSERT INTO bench_saved_index VALUES (%s, %s, 'index', %s) ON CONFLICT DO NOTHING",
                [index, table, index_def],
            )
            _raw(f'DROP INDEX "{index}"')


def restore_secondary_indexes() -> int:
    """Rebuild whatever a fill dropped (also after a fill that was interrupted)."""
    if not _raw("SELECT to_regclass('bench_saved_index')")[0][0]:
        return 0
    saved = _raw("SELECT name, ddl FROM bench_saved_index ORDER BY kind DESC, name")
    _raw("SET maintenance_work_mem = '512MB'")
    for name, ddl in saved:
        _raw(ddl)
        _raw("DELETE FROM bench_saved_index WHERE name = %s", [name])
    return len(saved)


# --- The fill ------------------------------------------------------------------------------------------


def _check_columns() -> None:
    """COPY names every column: a column added to these models since this script was written must be filled."""
    from orders.models import Order, OrderEvent, OrderLine, Shipment, TrackingEvent

    for model, columns in (
        (Order, ORDER_COLUMNS),
        (OrderLine, LINE_COLUMNS),
        (OrderEvent, EVENT_COLUMNS),
        (Shipment, SHIPMENT_COLUMNS),
        (TrackingEvent, SCAN_COLUMNS),
    ):
        missing = {f.column for f in model._meta.concrete_fields} - set(columns)
        if missing:
            refuse(f"{model._meta.db_table} has columns this benchmark does not fill: {sorted(missing)}")


ORDER_COLUMNS = (
    "id", "store_id", "order_no", "status", "fulfilment", "is_advertising", "amount_paid", "service_fee",
    "paid_at", "dispatch_deadline", "dispatched_at", "delivered_at", "completed_at", "closed_at",
    "recipient_name", "recipient_phone", "recipient_region", "recipient_address", "address_digest",
    "buyer_message", "created_at",
)  # fmt: skip
LINE_COLUMNS = (
    "id", "order_id", "listing_id", "sku", "title", "quantity", "unit_price", "promised_dispatch",
    "service_fee_rate",
)  # fmt: skip
EVENT_COLUMNS = (
    "id",
    "order_id",
    "kind",
    "from_status",
    "to_status",
    "reason",
    "data",
    "actor_id",
    "created_at",
)
SHIPMENT_COLUMNS = (
    "id", "order_id", "carrier_id", "tracking_no", "address_digest", "created_at", "first_pickup_at",
    "created_by_id", "carrier_address_digest", "anomaly",
)  # fmt: skip
SCAN_COLUMNS = (
    "id",
    "shipment_id",
    "kind",
    "occurred_at",
    "location",
    "description",
    "source",
    "received_at",
)

TRACKING_FORMATS = {  # carrier: (prefix, digits) — every number matches the carrier's pattern
    "sf": ("SF", 13),
    "yto": ("YT", 13),
    "zto": ("75", 12),
    "sto": ("77", 13),
    "yunda": ("43", 13),
    "jd": ("JDVA", 11),
    "ems": ("1", 12),
    "jt": ("JT", 13),
}
CARRIER_WEIGHTS = {"sf": 25, "zto": 20, "yto": 15, "yunda": 12, "sto": 10, "jd": 8, "jt": 6, "ems": 4}
PROMISES = ["same_day", "next_day", "24h", "48h", "72h"]
PRODUCTS = {
    "general": [("纯棉加厚浴巾 70x140cm", 39), ("日式陶瓷餐具套装", 129), ("硅藻泥浴室地垫", 49)],
    "apparel": [("男士纯棉短袖T恤", 59), ("女士高腰牛仔裤", 139), ("儿童加绒卫衣", 89)],
    "beauty": [("玻尿酸保湿精华 30ml", 199), ("氨基酸洁面乳 120g", 89), ("防晒喷雾 SPF50", 79)],
    "electronics": [("65W 氮化镓快充充电器", 99), ("蓝牙降噪耳机", 299), ("20000mAh 移动电源", 129)],
}
FATES = (["normal"] * 888) + (["late"] * 30) + (["cancel"] * 40) + (["refund_delivered"] * 25)
FATES += (["refund_transit"] * 15) + (["stuck"] * 2)


def _ts(value: datetime) -> str:
    return value.isoformat()


def _nullable(value) -> str:
    return "\\N" if value is None else str(value)


def make_stores(n_stores: int, now: datetime):
    """Entity, stores, listings, the owner of BENCH-0001 and a superuser. Returns (stores, listings, users)."""
    from django.contrib.auth import get_user_model

    from merchants.models import Category, Entity, Listing, Membership, Store
    from merchants.rules import credit_code_check_character

    # The database is the benchmark's own (its name says "bench"): every store goes, with everything that
    # refers to one (what bench/checks.py's violations left too: deposits, exam requirements, sanctions).
    _raw("TRUNCATE merchants_store CASCADE")
    prefix = "91110105MABENCH02"
    entity, _ = Entity.objects.get_or_create(
        credit_code=prefix + credit_code_check_character(prefix),
        defaults={"kind": "enterprise", "name": "Bench Orders Co.", "licence_expires_on": "2099-01-01"},
    )
    categories = {c.code: c for c in Category.objects.filter(code__in=PRODUCTS)}
    codes = list(PRODUCTS)
    opened = (now - timedelta(days=400)).date()
    stores = Store.objects.bulk_create(
        Store(
            code=f"BENCH-{i:04d}",
            name=f"压测店铺 {i:04d}",
            entity=entity,
            store_type="ordinary",
            main_category=categories[codes[i % len(codes)]],
            status="active",
            opened_on=opened,
        )
        for i in range(1, n_stores + 1)
    )
    listings = []
    for store in stores:
        category = store.main_category
        for j in range(LISTINGS_PER_STORE):
            title, price = PRODUCTS[category.code][j % 3]
            listings.append(
                Listing(
                    store=store,
                    sku=f"B{j + 1:02d}",
                    title=f"{title} 款{j + 1}",
                    category=category,
                    price=Decimal(price) + Decimal("0.90"),
                    stock=1000,
                    promised_dispatch=PROMISES[(store.pk + j) % len(PROMISES)],
                    status="live",
                )
            )
    Listing.objects.bulk_create(listings, batch_size=5000)
    User = get_user_model()
    seller, _ = User.objects.get_or_create(username="bench-seller")
    admin, _ = User.objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    Membership.objects.create(user=seller, store=stores[0], role="owner")
    by_store: dict[int, list] = {}
    for listing in listings:
        by_store.setdefault(listing.store_id, []).append(listing)
    return stores, by_store, {"seller": seller, "admin": admin}


def fill(n_stores: int, n_orders: int, seed: int = 20260101) -> dict:
    from django.utils import timezone

    from merchants.selectors import rule_decimals, rule_int
    from orders.crypto import digest, encrypt
    from orders.demo import random_recipient
    from orders.models import Carrier
    from orders.rules import FeeLine, order_dispatch_deadline, service_fee
    from orders.services import normalise_tracking_no

    _check_columns()
    rng = random.Random(seed)
    now = timezone.now()
    started = time.perf_counter()
    _raw("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY CASCADE")
    restore_secondary_indexes()
    stores, listings_by_store, users = make_stores(n_stores, now)
    owner_id = users["seller"].pk
    warehouse_id = users["admin"].pk  # platform-shipped orders are shipped by staff
    big_id = stores[0].pk
    other_ids = [s.pk for s in stores[1:]] or [big_id]
    zone = timezone.get_default_timezone()
    params = rule_decimals("same_day_cutoff_hour", "new_store_fee_days", "new_store_fee_rate")
    cutoff = int(params["same_day_cutoff_hour"])
    release_days = rule_int("settlement_release_days")
    store_rows = {s.pk: s for s in stores}
    carriers = {c.code: c.pk for c in Carrier.objects.filter(code__in=TRACKING_FORMATS)}
    carrier_pool = [code for code, weight in CARRIER_WEIGHTS.items() for _ in range(weight)]

    # 500 recipients, encrypted once: the tokens are reused (each decrypts to its recipient).
    pool = []
    for _ in range(500):
        r = random_recipient(rng)
        pool.append(
            (
                encrypt(r.name),
                encrypt(r.phone),
                encrypt(r.region),
                encrypt(r.address),
                digest(f"{r.region} {r.address}"),
                r.region.split(" ")[1],
            )
        )

    @lru_cache(maxsize=200_000)
    def fee_of(amount_cents: int, lines: tuple, advertising: bool, age_days: int) -> str:
        return str(
            service_fee(
                amount_paid=Decimal(amount_cents) / 100,
                lines=[FeeLine(subtotal=Decimal(s) / 100, rate=rate) for s, rate in lines],
                is_advertising=advertising,
                store_age_days=age_days,
                new_store_days=int(params["new_store_fee_days"]),
                new_store_rate=params["new_store_fee_rate"],
            )
        )

    ids = {"line": 0, "event": 0, "shipment": 0, "scan": 0}
    counts = dict.fromkeys(TABLES, 0)
    big_count = round(n_orders * 0.2) if n_stores > 1 else n_orders
    start = now - timedelta(days=HISTORY_DAYS)
    span_seconds = HISTORY_DAYS * 86400
    hour = timedelta(hours=1)

    drop_secondary_indexes()
    connection.ensure_connection()
    raw = connection.connection  # the psycopg connection under Django's (in autocommit)
    try:
        with raw.cursor() as cursor:
            try:
                cursor.execute("SET session_replication_role = replica")  # no FK triggers during the load
            except psycopg.Error:
                raw.rollback()
        for chunk_start in range(0, n_orders, CHUNK):
            out = {t: [] for t in TABLES}
            for i in range(chunk_start, min(n_orders, chunk_start + CHUNK)):
                order_id = i + 1
                is_big = (i * big_count) // n_orders != ((i + 1) * big_count) // n_orders
                store_id = big_id if is_big else other_ids[rng.randrange(len(other_ids))]
                store = store_rows[store_id]
                paid_at = start + timedelta(seconds=span_seconds * (i + rng.random()) / n_orders)
                store_listings = listings_by_store[store_id]
                k = 1 if rng.random() < 0.75 else (2 if rng.random() < 0.8 else 3)
                chosen = rng.sample(store_listings, k)
                lines = []
                subtotal_cents = 0
                for listing in chosen:
                    qty = 1 if rng.random() < 0.8 else 2
                    cents = int(listing.price * 100)
                    subtotal_cents += cents * qty
                    lines.append((listing, qty, cents))
                coupon = rng.choice((0, 0, 0, 500, 1000))
                amount_cents = subtotal_cents - coupon if subtotal_cents > coupon * 3 else subtotal_cents
                advertising = rng.random() < 0.1
                platform = rng.random() < 0.03
                seller_actor = owner_id if store_id == big_id else None
                age = (paid_at.astimezone(zone).date() - store.opened_on).days
                rate = store.main_category.service_fee_rate
                fee = fee_of(
                    amount_cents, tuple((cents * qty, rate) for _, qty, cents in lines), advertising, age
                )
                deadline = order_dispatch_deadline(
                    paid_at=paid_at,
                    promises=[listing.promised_dispatch for listing, _, _ in lines],
                    zone=zone,
                    same_day_cutoff_hour=cutoff,
                )
                name, phone, region, address, address_digest, city = pool[rng.randrange(len(pool))]
                amount = f"{amount_cents // 100}.{amount_cents % 100:02d}"
                for listing, qty, cents in lines:
                    ids["line"] += 1
                    out["orders_orderline"].append(
                        f"{ids['line']}\t{order_id}\t{listing.pk}\t{listing.sku}\t{listing.title}\t{qty}\t"
                        f"{cents // 100}.{cents % 100:02d}\t{listing.promised_dispatch}\t{rate}\n"
                    )

                events = [
                    (
                        "paid",
                        "",
                        "paid",
                        "",
                        f'{{"deadline": "{_ts(deadline)}", "fee": "{fee}"}}',
                        None,
                        paid_at,
                    )
                ]
                status = "paid"
                dispatched = delivered = completed = closed = None
                fate = FATES[rng.randrange(len(FATES))]
                span = deadline - paid_at
                if fate == "cancel":
                    at = paid_at + min(span * rng.uniform(0.05, 0.7), 20 * hour)
                    if at <= now:
                        status, closed = "cancelled", at
                        events.append(
                            (
                                "cancelled",
                                "paid",
                                "cancelled",
                                "买家申请取消：拍错了",
                                f'{{"refunded": "{amount}"}}',
                                None,
                                at,
                            )
                        )
                elif fate != "stuck":
                    if fate == "late":
                        ship_at = deadline + hour * rng.uniform(1, 30)
                    else:
                        ship_at = paid_at + max(span * rng.uniform(0.05, 0.85), hour / 3)
                    if ship_at <= now:
                        carrier = carrier_pool[rng.randrange(len(carrier_pool))]
                        prefix, digits = TRACKING_FORMATS[carrier]
                        tracking_no = normalise_tracking_no(f"{prefix}{order_id:0{digits}d}")
                        status, dispatched = "shipped", ship_at
                        actor = warehouse_id if platform else seller_actor
                        events.append(
                            (
                                "shipped",
                                "paid",
                                "shipped",
                                "",
                                f'{{"carrier": "{carrier}", "tracking_no": "{tracking_no}"}}',
                                actor,
                                ship_at,
                            )
                        )
                        ids["shipment"] += 1
                        shipment_id = ids["shipment"]
                        pickup = ship_at + hour * rng.uniform(0.5, 4)
                        sorting = pickup + hour * rng.uniform(3, 8)
                        transit = sorting + hour * rng.uniform(4, 12)
                        arrival = transit + hour * rng.uniform(12, 60)
                        scans = [
                            ("pickup", pickup, "发货仓", "快递员已揽收"),
                            ("sorting", sorting, "转运中心", "快件已到达，正在分拣"),
                            ("in_transit", transit, "转运中心", f"快件已发出，下一站【{city}转运中心】"),
                        ]
                        refund_at = None
                        if fate == "refund_transit":
                            refund_at = transit + hour * rng.uniform(2, 20)
                        else:
                            scans.append(("delivered", arrival, city, "已签收（本人签收）"))
                            if fate == "refund_delivered":
                                refund_at = arrival + hour * rng.uniform(24, 120)
                        first_pickup = None
                        for kind, at, location, description in scans:
                            if at > now:
                                break
                            ids["scan"] += 1
                            out["orders_trackingevent"].append(
                                f"{ids['scan']}\t{shipment_id}\t{kind}\t{_ts(at)}\t{location}\t{description}\t"
                                f"webhook\t{_ts(at + timedelta(minutes=3))}\n"
                            )
                            if kind == "pickup":
                                first_pickup = dispatched = at
                                events.append(
                                    (
                                        "picked_up",
                                        "shipped",
                                        "shipped",
                                        "",
                                        f'{{"at": "{_ts(at)}"}}',
                                        None,
                                        at,
                                    )
                                )
                            elif kind == "delivered":
                                status, delivered = "delivered", at
                                events.append(("delivered", "shipped", "delivered", "", "{}", None, at))
                        out["orders_shipment"].append(
                            f"{shipment_id}\t{order_id}\t{carriers[carrier]}\t{tracking_no}\t{address_digest}\t"
                            f"{_ts(ship_at)}\t{_nullable(first_pickup and _ts(first_pickup))}\t{_nullable(actor)}\t\t\n"
                        )
                        if (
                            refund_at is not None
                            and refund_at <= now
                            and (fate == "refund_transit" or delivered)
                        ):
                            events.append(
                                (
                                    "refunded",
                                    status,
                                    "refunded",
                                    "买家申请退货退款",
                                    f'{{"refunded": "{amount}"}}',
                                    seller_actor,
                                    refund_at,
                                )
                            )
                            status, closed = "refunded", refund_at
                        elif fate in ("normal", "late") and delivered:
                            confirm = delivered + hour * rng.uniform(12, 168)
                            if confirm <= now:
                                available = _ts(confirm + timedelta(days=release_days))
                                events.append(
                                    (
                                        "completed",
                                        "delivered",
                                        "completed",
                                        "",
                                        f'{{"settlement_available_at": "{available}"}}',
                                        None,
                                        confirm,
                                    )
                                )
                                status, completed = "completed", confirm
                out["orders_order"].append(
                    f"{order_id}\t{store_id}\t{69 * 10**17 + order_id}\t{status}\t"
                    f"{'platform' if platform else 'seller'}\t{'t' if advertising else 'f'}\t{amount}\t{fee}\t"
                    f"{_ts(paid_at)}\t{_ts(deadline)}\t{_nullable(dispatched and _ts(dispatched))}\t"
                    f"{_nullable(delivered and _ts(delivered))}\t{_nullable(completed and _ts(completed))}\t"
                    f"{_nullable(closed and _ts(closed))}\t{name}\t{phone}\t{region}\t{address}\t{address_digest}\t\t"
                    f"{_ts(paid_at)}\n"
                )
                for kind, before, after, reason, data, actor, at in events:
                    ids["event"] += 1
                    out["orders_orderevent"].append(
                        f"{ids['event']}\t{order_id}\t{kind}\t{before}\t{after}\t{reason}\t{data}\t"
                        f"{_nullable(actor)}\t{_ts(at)}\n"
                    )
            columns = {
                "orders_order": ORDER_COLUMNS,
                "orders_orderline": LINE_COLUMNS,
                "orders_orderevent": EVENT_COLUMNS,
                "orders_shipment": SHIPMENT_COLUMNS,
                "orders_trackingevent": SCAN_COLUMNS,
            }
            with raw.cursor() as cursor:
                for table in TABLES:
                    with cursor.copy(f"COPY {table} ({', '.join(columns[table])}) FROM STDIN") as copy:
                        copy.write("".join(out[table]))
                    counts[table] += len(out[table])
            raw.commit()
            done = min(n_orders, chunk_start + CHUNK)
            if done % 200_000 == 0 or done == n_orders:
                print(f"  {done:>9,} orders  {time.perf_counter() - started:6.1f} s", flush=True)
    finally:
        with raw.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
        raw.commit()
    loaded = time.perf_counter() - started
    restored = restore_secondary_indexes()
    for table in TABLES:
        _raw(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )
    indexed = time.perf_counter() - started
    _raw("VACUUM (ANALYZE) " + ", ".join(TABLES + ["merchants_store", "merchants_listing"]))
    total = time.perf_counter() - started
    return {
        "counts": counts,
        "load_s": loaded,
        "index_s": indexed - loaded,
        "indexes": restored,
        "vacuum_s": total - indexed,
        "total_s": total,
    }


# --- Measuring -----------------------------------------------------------------------------------------


def measure(client, url: str, requests: int):
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        response = client.get(url)
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code}")
    times, db_times, query_counts, slowest = [], [], set(), (0.0, "")
    for _ in range(requests):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        query_counts.add(len(ctx.captured_queries))
        db_times.append(sum(float(q["time"]) for q in ctx.captured_queries) * 1000)
        for q in ctx.captured_queries:
            if q["sql"].lstrip().upper().startswith("SELECT") and float(q["time"]) > slowest[0]:
                slowest = (float(q["time"]), q["sql"])
    html = response.content.decode()
    if "/admin/" in url:
        rows = len(re.findall(r'<tr[^>]*>\s*<t[dh] class="(?:action-checkbox|field-)', html))
    else:
        rows = len(set(re.findall(r"/orders/(\d+)/\"", html)))
    return {
        "median": statistics.median(times),
        "db": statistics.median(db_times),
        "p95": statistics.quantiles(times, n=20)[18] if len(times) > 1 else times[0],
        "queries": max(query_counts),
        "query_counts": sorted(query_counts),
        "rows": rows,
        "slowest": slowest,
    }


def pages(store_code: str):
    from django.contrib import admin
    from django.urls import NoReverseMatch, reverse

    from orders.models import Order

    try:
        seller = reverse("order-list", args=[store_code])
    except NoReverseMatch:
        seller = None
    admin_url = "/admin/orders/order/" if admin.site.is_registered(Order) else None
    listed = [
        ("seller", "seller list, first page", seller, ""),
        ("seller", "seller list, first page", seller, "per_page=100"),
        ("seller", "seller list, status=paid&overdue=1", seller, "status=paid&overdue=1"),
        ("seller", "seller list, status=paid&overdue=1", seller, "status=paid&overdue=1&per_page=100"),
        ("seller", "seller list, due within 6 h", seller, "due_within=6"),
        ("seller", "seller list, status=completed", seller, "status=completed&per_page=100"),
        ("seller", "seller list, page 500", seller, "page=500"),
        ("seller", "seller list, page 500", seller, "page=500&per_page=100"),
        ("admin", "admin changelist, first page", admin_url, ""),
        ("admin", "admin changelist, status=paid", admin_url, "status__exact=paid"),
        ("admin", "admin changelist, store search", admin_url, f"q={store_code}"),
        ("admin", "admin changelist, page 500", admin_url, "p=500"),
    ]
    for who, label, base, query in listed:
        url = None if base is None else (f"{base}?{query}" if query else base)
        per_page = 100 if "per_page=100" in query or who == "admin" else 20
        yield who, f"{label} ({per_page})" if who == "seller" else label, url


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def run_measurements(requests: int, show_explain: bool) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    User = get_user_model()
    clients = {}
    for who, username in (("seller", "bench-seller"), ("admin", "bench-admin")):
        client = Client()
        client.force_login(User.objects.get(username=username))
        clients[who] = client
    print(
        f"\n{requests} requests per page after 2 warm-ups; time is server-side (Django test Client, in process);"
        "\ndb ms: median time spent in SQL per request; queries: the count per request (every distinct count)"
    )
    header = (
        f"{'page':44s} {'rows':>5s} {'median ms':>10s} {'p95 ms':>8s} {'db ms':>6s} {'queries':>8s}  target"
    )
    print(header)
    print("-" * len(header))
    slow = []
    for who, label, url in pages(BIG_STORE):
        result = None if url is None else measure(clients[who], url, requests)
        if result is None:
            print(f"{label:44s} {'':>5s} {'not available yet':>28s}")
            continue
        if who == "seller":
            ok = result["median"] <= TARGET_SELLER_MS and result["queries"] <= TARGET_SELLER_QUERIES
            target = f"≤ {TARGET_SELLER_MS} ms, ≤ {TARGET_SELLER_QUERIES} q"
        else:
            ok = result["median"] <= TARGET_ADMIN_MS
            target = f"≤ {TARGET_ADMIN_MS} ms"
        queries = "/".join(map(str, result["query_counts"]))
        print(
            f"{label:44s} {result['rows']:5d} {result['median']:10.1f} {result['p95']:8.1f} {result['db']:6.1f} "
            f"{queries:>8s}  "
            f"{'ok' if ok else 'MISSED'} ({target})"
        )
        if not ok or show_explain:
            slow.append((label, url, result["slowest"]))
    for label, url, (seconds, sql) in slow:
        print(f"\n== slowest query of {label} ({url}): {seconds * 1000:.1f} ms\n{sql}\n")
        print(explain(sql))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--skip-fill", action="store_true", help="reuse the orders already in the database")
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE the slowest query of each page"
    )
    args = parser.parse_args()

    from django.core.management import call_command

    create_database()
    call_command("migrate", verbosity=0)
    restored = restore_secondary_indexes()  # an earlier fill that was interrupted
    if restored:
        print(f"rebuilt {restored} indexes an interrupted fill had dropped")
    print(f"database: {settings.DATABASES['default']['NAME']} ({connection.vendor})")
    from orders.models import Order

    if args.skip_fill:
        if not Order.objects.exists():
            refuse("--skip-fill, but there are no orders: run once without it")
    else:
        print(f"filling {args.orders:,} orders across {args.stores:,} stores ({BIG_STORE}: a fifth of them)")
        stats = fill(args.stores, args.orders)
        print(
            f"fill: COPY {stats['load_s']:.1f} s, {stats['indexes']} indexes rebuilt in {stats['index_s']:.1f} s, "
            f"VACUUM ANALYZE {stats['vacuum_s']:.1f} s; total {stats['total_s']:.1f} s"
        )
        for table, n in stats["counts"].items():
            print(f"  {table:22s} {n:>11,} rows")
    from django.db.models import Count

    from merchants.models import Store

    big = Store.objects.get(code=BIG_STORE)
    by_status = dict(
        Order.objects.filter(store=big).values_list("status").annotate(n=Count("id")).order_by("status")
    )
    total = Order.objects.count()
    print(
        f"orders: {total:,} in all; {BIG_STORE}: {sum(by_status.values()):,} ({', '.join(f'{s} {n:,}' for s, n in by_status.items())})"
    )
    run_measurements(args.requests, args.explain)


if __name__ == "__main__":
    main()
