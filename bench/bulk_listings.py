"""Benchmark: bulk listing upload (check and write) for N rows; prints rows/s and peak Python memory.

    .venv/bin/python bench/bulk_listings.py --rows 5000
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/bulk_listings.py --rows 5000

Without DATABASE_URL it uses a throwaway SQLite file; with it, the database must exist (it is migrated,
and the bench store it creates is deleted at the end).
"""

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("ALLOW_INSECURE_DEFAULTS", "1")
if not os.environ.get("DATABASE_URL"):
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LISTING_UPLOAD_MAX_BYTES", str(200 * 1024 * 1024))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)

    from merchants.models import Category, DepositAccount, DepositEntry, Entity, Listing, Store
    from merchants.rules import credit_code_check_character
    from merchants.services import listing_bulk_upload

    prefix = "91110105MABENCH01"
    entity, _ = Entity.objects.get_or_create(
        credit_code=prefix + credit_code_check_character(prefix),
        defaults={"kind": "enterprise", "name": "Bench Co.", "licence_expires_on": "2099-01-01"},
    )
    Store.objects.filter(code="BENCH-1").delete()
    general = Category.objects.get(code="general")
    store = Store.objects.create(
        code="BENCH-1",
        name="Bench",
        entity=entity,
        store_type="ordinary",
        main_category=general,
        status="active",
    )
    store.categories.add(general)
    account = DepositAccount.objects.create(store=store)
    DepositEntry.objects.create(account=account, kind="top_up", amount=2000, reason="bench")

    header = "sku,title,category,price,stock,promised_dispatch_hours,description,brand\n"
    body = "".join(
        f"B-{i:07d},纯棉加厚浴巾 70x140cm 款式{i},general,{19 + i % 100}.90,{i % 500},48,柔软吸水 不掉毛,\n"
        for i in range(args.rows)
    )
    data = (header + body).encode()
    print(f"rows: {args.rows}  file: {len(data) / 1048576:.2f} MB  database: {django.db.connection.vendor}")

    for label, dry_run in (("check only", True), ("check + write", False)):
        tracemalloc.start()
        started = time.perf_counter()
        result = listing_bulk_upload(store=store, data=data, dry_run=dry_run)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert not result.errors, result.errors[:3]
        print(
            f"{label:14s} {elapsed:7.2f} s  {args.rows / elapsed:9.0f} rows/s  peak Python memory {peak / 1048576:6.1f} MB"
        )
    print(f"listings written: {Listing.objects.filter(store=store).count()}")
    store.delete() if django.db.connection.vendor == "postgresql" else None


if __name__ == "__main__":
    main()
