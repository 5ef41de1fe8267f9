"""Benchmark: importing a TikTok Shop order export into PostgreSQL (issue 4).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_import .venv/bin/python bench/import_orders.py
    DATABASE_URL=... .venv/bin/python bench/import_orders.py --repeat 3     # the 100k import three times
    DATABASE_URL=... .venv/bin/python bench/import_orders.py --no-million   # only the 100,000-line file
    DATABASE_URL=... .venv/bin/python bench/import_orders.py --stock-rows 2000   # cap the stock resource

1. Creates the database named in DATABASE_URL if it is missing and migrates it. Its name must contain
   "bench": each run empties its order tables.
2. Writes a TikTok-format CSV of 100,000 lines and one of 1,000,000 (unless --no-million) under --dir (a
   temporary directory by default; the files are kept there for the next run), unless they are there already: about 1.3 lines per order, every status, tab-protected order IDs as the seller centre writes
   them, one store (BENCH-IMPORT) with 200 listings.
3. Imports each file with `orders_import` (the path the command and the web job take: both passes, every
   check, COPY) in a child process, so that the peak memory printed (maxrss) is the import's own.
4. Runs the stock django-import-export `ModelResource` for Order, default options, on the same lines (one
   order per line, with the columns the model needs; it writes orders only, no lines or events), capped at
   --stock-rows and extrapolated; and a raw `COPY` of the same file into a bare table of text columns.
   Prints both ratios (goals: at least 10× the stock resource, within 4× of the raw COPY).
5. Measures PostgreSQL's own part: the rows the 100,000-line import wrote (orders with their indexes and
   encrypted recipient, lines, events, shipments, settlement entries) COPY'd back into the real tables from files and committed
   (the deferred foreign keys are checked then). No import can be faster than that on this machine.
"""

import argparse
import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STORE_CODE = "BENCH-IMPORT"
N_LISTINGS = 200
TARGET_LINES_PER_S = 20_000
# What an import writes (a completed order's income and fee go to the settlement ledger), and what each run
# empties (the bench database is the benchmark's own: its name says "bench").
WRITTEN = [
    "orders_order",
    "orders_orderline",
    "orders_orderevent",
    "orders_shipment",
    "merchants_settlemententry",
]
TABLES = [*WRITTEN, "orders_trackingevent"]
HEADER = [
    "Order ID", "Order Status", "Order Substatus", "SKU ID", "Seller SKU", "Product Name", "Variation",
    "Quantity", "SKU Unit Original Price", "SKU Subtotal After Discount", "Order Amount", "Created Time",
    "Paid Time", "Shipped Time", "Delivered Time", "Cancelled Time", "Fulfillment Type", "Tracking ID",
    "Shipping Provider Name", "Buyer Message", "Buyer Username", "Recipient", "Phone #", "Country", "State",
    "City", "Zipcode", "Detail Address",
]  # fmt: skip
STATUSES = [
    ("Awaiting Shipment", 40),
    ("In Transit", 25),
    ("Delivered", 20),
    ("Completed", 10),
    ("Cancelled", 5),
]


def refuse(message: str) -> None:
    print(f"bench/import_orders.py: {message}", file=sys.stderr)
    sys.exit(2)


def check_database_url() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        refuse(
            "DATABASE_URL must name a PostgreSQL database, e.g. "
            "DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_import .venv/bin/python bench/import_orders.py"
        )
    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        refuse(f"the database name must contain 'bench' (each run empties its order tables); got {name!r}")


check_database_url()
os.environ.setdefault("ALLOW_INSECURE_DEFAULTS", "1")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402


def create_database() -> None:
    db = settings.DATABASES["default"]
    params = {"dbname": "postgres", "host": db.get("HOST"), "port": db.get("PORT"), "user": db.get("USER")}
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
            print(f"created database {db['NAME']}")


def make_store():
    from merchants.models import Category, DepositAccount, Entity, Listing, Store
    from merchants.rules import credit_code_check_character

    prefix = "91110105MABENCH03"
    entity, _ = Entity.objects.get_or_create(
        credit_code=prefix + credit_code_check_character(prefix),
        defaults={"kind": "enterprise", "name": "Bench Import Co.", "licence_expires_on": "2099-01-01"},
    )
    store = Store.objects.filter(code=STORE_CODE).first()
    if store is None:
        general = Category.objects.get(code="general")
        store = Store.objects.create(
            code=STORE_CODE,
            name="导入压测店铺",
            entity=entity,
            store_type="ordinary",
            main_category=general,
            status="active",
            opened_on=datetime(2024, 1, 1).date(),
        )
        store.categories.add(general)
        DepositAccount.objects.get_or_create(store=store)
        promises = ["same_day", "next_day", "24h", "48h", "72h"]
        Listing.objects.bulk_create(
            Listing(
                store=store,
                sku=f"SKU-{i:04d}",
                title=f"纯棉浴巾 款{i}",
                category=general,
                price=f"{19 + i % 80}.90",
                stock=1000,
                promised_dispatch=promises[i % len(promises)],
                status="live",
            )
            for i in range(N_LISTINGS)
        )
    return store


def empty_order_tables() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY CASCADE")


# --- The file ------------------------------------------------------------------------------------------------


def generate(path: Path, n_lines: int, seed: int = 4) -> None:
    from orders.demo import random_recipient

    rng = random.Random(seed)
    pool = [random_recipient(rng) for _ in range(2000)]
    statuses = [s for s, weight in STATUSES for _ in range(weight)]
    carriers = [
        ("SF Express", "SF", 13),
        ("ZTO Express", "75", 12),
        ("YTO Express", "YT", 13),
        ("J&T Express", "JT", 13),
    ]
    start = datetime(2025, 1, 1, 8, 0)
    fmt = "%Y-%m-%d %H:%M:%S"
    written = 0
    order = 0
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(HEADER)
        while written < n_lines:
            order += 1
            k = min(n_lines - written, 1 if rng.random() < 0.78 else (2 if rng.random() < 0.8 else 3))
            skus = rng.sample(range(N_LISTINGS), k)
            recipient = pool[rng.randrange(len(pool))]
            paid = start + timedelta(seconds=order * 7 + rng.randrange(5))
            status = statuses[rng.randrange(len(statuses))]
            shipped = delivered = cancelled = ""
            tracking = provider = ""
            if status in ("In Transit", "Delivered", "Completed"):
                provider, prefix, digits = carriers[rng.randrange(len(carriers))]
                tracking = prefix + f"{order:0{digits}d}"[-digits:]
                shipped = (paid + timedelta(hours=rng.uniform(1, 40))).strftime(fmt)
                if status != "In Transit":
                    delivered = (paid + timedelta(hours=rng.uniform(50, 100))).strftime(fmt)
            if status == "Cancelled":
                cancelled = (paid + timedelta(hours=rng.uniform(0.1, 5))).strftime(fmt)
            lines = []
            total = 0
            for sku in skus:
                qty = 1 if rng.random() < 0.85 else 2
                price_cents = (19 + sku % 80) * 100 + 90
                total += price_cents * qty
                lines.append((sku, qty, price_cents))
            amount = f"{total // 100}.{total % 100:02d}"
            province, city, district = recipient.region.split(" ")
            for sku, qty, price_cents in lines:
                price = f"{price_cents // 100}.{price_cents % 100:02d}"
                writer.writerow(
                    [
                        f"\t{576000000000000000 + order}",
                        status,
                        "",
                        f"\t{1729000000 + sku}",
                        f"SKU-{sku:04d}",
                        f"纯棉浴巾 款{sku}",
                        "Blue, L",
                        qty,
                        price,
                        price,
                        amount,
                        (paid - timedelta(minutes=1)).strftime(fmt),
                        paid.strftime(fmt),
                        shipped,
                        delivered,
                        cancelled,
                        "Fulfillment by seller",
                        tracking,
                        provider,
                        "",
                        f"buyer{order % 50000}",
                        recipient.name,
                        recipient.phone,
                        "China",
                        province,
                        city,
                        "",
                        f"{district} {recipient.address}",
                    ]
                )
                written += 1
    tmp.rename(path)


def ensure_file(directory: Path, n_lines: int) -> Path:
    path = directory / f"tiktok_orders_{n_lines}.csv"
    if not path.exists():
        started = time.perf_counter()
        generate(path, n_lines)
        print(
            f"wrote {path} ({path.stat().st_size / 1048576:.0f} MB) in {time.perf_counter() - started:.0f} s"
        )
    return path


# --- The three imports -----------------------------------------------------------------------------------------


def child_import(path: Path) -> None:
    """Run in a child process: our import, timed, with its peak memory."""
    from merchants.models import Store
    from orders.imports import orders_import

    store = Store.objects.get(code=STORE_CODE)
    started = time.perf_counter()
    result = orders_import(store=store, source=path, max_bytes=None)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "lines": result.lines,
                "orders": result.orders,
                "created": result.created,
                "unpaid": result.unpaid,
                "errors": result.error_count,
                "first_errors": [str(e) for e in result.errors[:5]],
                "peak_mb": peak_kib / 1024,
            }
        )
    )


def our_import(path: Path) -> dict:
    empty_order_tables()
    done = subprocess.run(
        [sys.executable, __file__, "--child-import", str(path)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        print(done.stdout, done.stderr, file=sys.stderr)
        refuse("the import failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def stock_resource(path: Path, cap: int) -> dict:
    """django-import-export's ModelResource for Order with default options, on the first `cap` lines."""
    import tablib
    from import_export import resources

    from merchants.models import Store
    from orders.imports import parse_money, parse_time
    from orders.models import Order

    class OrderResource(resources.ModelResource):
        class Meta:
            model = Order

    store = Store.objects.get(code=STORE_CODE)
    zone = __import__("zoneinfo").ZoneInfo(store.time_zone)
    headers = [
        "id", "store", "order_no", "fulfilment", "is_advertising", "amount_paid", "service_fee", "paid_at",
        "dispatch_deadline", "recipient_name", "recipient_phone", "recipient_region", "recipient_address",
        "buyer_message",
    ]  # fmt: skip
    dataset = tablib.Dataset(headers=headers)
    with path.open(encoding="utf-8", newline="") as source:
        reader = csv.DictReader(source)
        for i, row in enumerate(reader):
            if i >= cap:
                break
            paid = parse_time(row["Paid Time"], zone)
            dataset.append(
                [
                    "",
                    store.pk,
                    f"{row['Order ID'].strip()}-{i}",  # one order per line: the stock resource knows no lines
                    "seller",
                    "0",
                    str(parse_money(row["Order Amount"])),
                    "0",
                    paid.strftime("%Y-%m-%d %H:%M:%S"),
                    (paid + timedelta(hours=48)).strftime("%Y-%m-%d %H:%M:%S"),
                    row["Recipient"],
                    row["Phone #"],
                    f"{row['State']} {row['City']}",
                    row["Detail Address"],
                    "",
                ]
            )
    empty_order_tables()
    started = time.perf_counter()
    result = OrderResource().import_data(dataset, dry_run=False)
    seconds = time.perf_counter() - started
    if result.has_errors() or result.has_validation_errors():
        first = (result.row_errors() or [(None, [None])])[0][1][0]
        refuse(f"the stock resource refused rows: {getattr(first, 'error', result.invalid_rows[:1])}")
    return {"rows": len(dataset), "seconds": seconds, "created": Order.objects.count()}


def raw_copy(path: Path) -> dict:
    """The file as it is, COPY'd into a bare table of text columns: the floor of any import."""
    columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DROP TABLE IF EXISTS bench_raw_lines; CREATE UNLOGGED TABLE bench_raw_lines ({columns})"
        )
        cursor.execute("ALTER TABLE bench_raw_lines SET LOGGED")
        started = time.perf_counter()
        with (
            path.open("rb") as source,
            cursor.cursor.copy("COPY bench_raw_lines FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
        ):
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        connection.commit() if not connection.get_autocommit() else None
        seconds = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM bench_raw_lines")
        lines = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_raw_lines")
    return {"lines": lines, "seconds": seconds}


def write_floor(directory: Path) -> dict:
    """PostgreSQL alone: the rows the import wrote, dumped and COPY'd back into the same tables, committed."""
    from django.db import transaction

    tables = WRITTEN
    dumps = {}
    with connection.cursor() as cursor:
        for table in tables:
            dumps[table] = directory / f"bench_floor_{table}.copy"
            with dumps[table].open("wb") as out, cursor.cursor.copy(f"COPY {table} TO STDOUT") as copy:
                for data in copy:
                    out.write(data)
        cursor.execute("SELECT count(*) FROM orders_orderline")
        lines = cursor.fetchone()[0]
    empty_order_tables()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for table in tables:
            with dumps[table].open("rb") as source, cursor.cursor.copy(f"COPY {table} FROM STDIN") as copy:
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
    seconds = time.perf_counter() - started
    for path in dumps.values():
        path.unlink()
    return {"lines": lines, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--no-million", dest="million", action="store_false", help="leave out the 1,000,000-line file"
    )
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1, help="import the first file this many times")
    parser.add_argument(
        "--stock-rows", type=int, default=5000, help="cap for the stock resource (extrapolated)"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "bench_import_orders",
        help="where the files go",
    )
    parser.add_argument("--child-import", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_import:
        child_import(args.child_import)
        return

    from django.core.management import call_command

    args.dir.mkdir(parents=True, exist_ok=True)
    create_database()
    call_command("migrate", verbosity=0)
    make_store()
    print(f"database: {settings.DATABASES['default']['NAME']}; {os.cpu_count()} CPU(s)")
    files = [ensure_file(args.dir, args.lines)]
    if args.million:
        files.append(ensure_file(args.dir, 1_000_000))

    ours = {}
    for path in files:
        runs = [our_import(path) for _ in range(args.repeat if path == files[0] else 1)]
        if len(runs) > 1:
            rates = [r["lines"] / r["seconds"] for r in runs]
            print(
                f"\n{path.name}: {len(runs)} runs, "
                + ", ".join(f"{rate:,.0f}" for rate in rates)
                + f" lines/s (median {statistics.median(rates):,.0f}); the best is shown"
            )
        result = min(runs, key=lambda r: r["seconds"])
        ours[path] = result
        rate = result["lines"] / result["seconds"]
        print(
            f"\norders_import {path.name}: {result['lines']:,} lines, {result['orders']:,} orders "
            f"({result['created']:,} created, {result['unpaid']:,} never paid, {result['errors']} errors) in "
            f"{result['seconds']:.1f} s = {rate:,.0f} lines/s "
            f"({'ok' if rate >= TARGET_LINES_PER_S else 'MISSED'}: ≥ {TARGET_LINES_PER_S:,}); "
            f"peak memory {result['peak_mb']:.0f} MB (maxrss of the importing process; goal ≤ 400 MB)"
        )
        if result["errors"]:
            print("  first errors:", *result["first_errors"], sep="\n  ")

    base = files[0]
    base_rate = ours[base]["lines"] / ours[base]["seconds"]
    our_import(base)  # the tables as the import leaves them, for the floor
    floor = write_floor(args.dir)
    floor_rate = floor["lines"] / floor["seconds"]
    print(
        f"\nPostgreSQL alone, COPYing back the rows the import of {base.name} wrote (orders, lines, events, "
        f"shipments, settlement entries, with every index and constraint) and committing: {floor['seconds']:.1f} s = "
        f"{floor_rate:,.0f} lines/s; orders_import takes {floor_rate / base_rate:.1f}× that"
    )
    stock = stock_resource(base, args.stock_rows)
    stock_rate = stock["rows"] / stock["seconds"]
    extrapolated = ours[base]["lines"] / stock_rate
    capped = stock["rows"] < ours[base]["lines"]
    print(
        f"\nstock ModelResource (default options, orders only, no lines/events): {stock['rows']:,} rows in "
        f"{stock['seconds']:.1f} s = {stock_rate:,.0f} rows/s"
        + (
            f"; capped at {stock['rows']:,} rows, extrapolated to {extrapolated:,.0f} s for {ours[base]['lines']:,}"
            if capped
            else ""
        )
    )
    copy = raw_copy(base)
    copy_rate = copy["lines"] / copy["seconds"]
    print(
        f"raw COPY of {base.name} into a bare text table: {copy['lines']:,} lines in {copy['seconds']:.2f} s = {copy_rate:,.0f} lines/s"
    )
    print(
        f"\nratios on {ours[base]['lines']:,} lines: orders_import is {base_rate / stock_rate:.1f}× the stock resource "
        f"(goal ≥ 10×); raw COPY is {copy_rate / base_rate:.1f}× faster than orders_import (goal ≤ 4×)"
    )
    empty_order_tables()


if __name__ == "__main__":
    main()
