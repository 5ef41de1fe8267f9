"""Benchmark: the seller dashboard of a store with many orders and 90 days of score history (PostgreSQL only).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_dash .venv/bin/python bench/dashboard.py
    DATABASE_URL=... .venv/bin/python bench/dashboard.py --stores 100 --orders 200000   # a quicker fill
    DATABASE_URL=... .venv/bin/python bench/dashboard.py --skip-fill                    # the orders already there

1. Fills the database with bench/orders.py's fill unless --skip-fill (orders paid over 180 days in every
   state, a fifth of them in store BENCH-0001, with paid orders due soon and overdue).
2. Writes 90 days of experience-score history for every BENCH store (synthetic, varying, in bulk: the page
   reads the rows, whatever made them), and gives BENCH-0001 things to do beyond its orders: complaints
   awaiting its reply and a failed spot check with its re-test window open.
3. Measures in process with Django's test Client (DEBUG off): the server-side time of the dashboard of
   BENCH-0001 as its owner, with 30- and 90-day charts (median and p95 of --requests requests after two
   warm-ups) and its query count (target: ≤ 100 ms, the same count for any store); and the reviewers' page of
   stores at risk in the admin.
"""

import argparse
import importlib.util
import random
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("bench_orders_fill", HERE / "orders.py")
bench_orders = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_orders)

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

TARGET_MS = 100
HISTORY_DAYS = 90
COMPLAINTS_AWAITING = 12


def remove_extras() -> None:
    """What an earlier run added to the BENCH stores (the fill deletes the stores, which these protect)."""
    from complaints.models import Complaint
    from inspections.models import Inspection, SamplingRound
    from merchants.models import StoreScore

    Inspection.objects.filter(store__code__startswith="BENCH-").delete()
    SamplingRound.objects.filter(seed__startswith="bench-dashboard").delete()
    Complaint.objects.filter(store__code__startswith="BENCH-").delete()
    StoreScore.objects.filter(store__code__startswith="BENCH-").delete()


def fill_history(seed: int = 7) -> int:
    """90 days of score rows for every BENCH store: a slow random walk per store, its parts and the rates."""
    from django.utils import timezone

    from merchants.bulkwrite import insert_rows
    from merchants.models import Store, StoreScore
    from merchants.services import STORE_SCORE_COLUMNS

    rng = random.Random(seed)
    yesterday = timezone.localdate() - timedelta(days=1)
    now = timezone.now()
    rows = []
    cent, share = Decimal("0.01"), Decimal("0.0001")
    for store_id in Store.objects.filter(code__startswith="BENCH-").values_list("pk", flat=True):
        level = rng.uniform(72, 97)
        for back in range(HISTORY_DAYS, 0, -1):
            level = min(99.0, max(55.0, level + rng.uniform(-0.8, 0.8)))
            late = rng.uniform(0.0, 0.08)
            metrics = {
                "paid_orders": rng.randint(200, 6000),
                "late_dispatch_rate": str(Decimal(late).quantize(share)),
                "valid_tracking_rate": str(Decimal(rng.uniform(0.9, 1)).quantize(share)),
                "complaint_rate": str(Decimal(rng.uniform(0, 0.02)).quantize(share)),
                "reply_3min_rate": str(Decimal(rng.uniform(0.6, 1)).quantize(share)),
                "avg_response_seconds": str(Decimal(rng.uniform(15, 120)).quantize(Decimal("0.1"))),
                "spot_check_pass_rate": str(Decimal(rng.choice([1, 1, 1, 0.5])).quantize(share)),
            }
            if back % 11 == 0:
                del metrics["spot_check_pass_rate"]  # days with no spot-check result in the window
            score = Decimal(level).quantize(cent)
            rows.append(
                (
                    store_id,
                    yesterday - timedelta(days=back - 1),
                    score,
                    min(Decimal(100), score + 4).quantize(cent),
                    Decimal(rng.uniform(60, 100)).quantize(cent),
                    Decimal(rng.uniform(60, 100)).quantize(cent),
                    Decimal(rng.choice([0, 0, 0, 3, 6])),
                    False,
                    metrics["paid_orders"],
                    metrics,
                    now,
                )
            )
    with transaction.atomic():
        insert_rows(StoreScore, STORE_SCORE_COLUMNS, rows)
    bench_orders._raw("VACUUM ANALYZE merchants_storescore")
    return len(rows)


def add_todos(store) -> None:
    """Complaints awaiting the seller's reply and a failed spot check whose re-test window is open."""
    from django.utils import timezone

    from complaints.models import Complaint, ComplaintKind, ComplaintStatus
    from inspections.models import Inspection, InspectionStatus, SamplingRound
    from merchants.models import Listing

    now = timezone.now()
    Complaint.objects.bulk_create(
        Complaint(
            store=store,
            kind=ComplaintKind.NOT_AS_DESCRIBED,
            sub_kind="different_item",
            source="buyer",
            buyer_statement="压测：收到的商品与描述不符",
            status=ComplaintStatus.AWAITING_SELLER,
            reply_due_at=now + timedelta(hours=3 + 5 * i),
            opened_at=now - timedelta(hours=20),
        )
        for i in range(COMPLAINTS_AWAITING)
    )
    listing = Listing.objects.filter(store=store).order_by("pk").first()
    round_ = SamplingRound.objects.create(
        trigger=SamplingRound.Trigger.INSPECTOR, seed="bench-dashboard", sample_size=1, drawn_count=1
    )
    Inspection.objects.create(
        round=round_,
        listing=listing,
        store=store,
        status=InspectionStatus.FAILED,
        draw_rank=1,
        weight=Decimal("1.000"),
        result_at=now - timedelta(days=1),
        retest_deadline=now + timedelta(days=2),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--skip-fill", action="store_true", help="reuse the orders already in the database")
    args = parser.parse_args()

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    bench_orders.create_database()
    call_command("migrate", verbosity=0)
    bench_orders.restore_secondary_indexes()
    print(f"database: {settings.DATABASES['default']['NAME']} ({connection.vendor})")
    from merchants.models import Store, Violation
    from orders.models import Order

    remove_extras()
    if args.skip_fill:
        if not Order.objects.exists():
            bench_orders.refuse("--skip-fill, but there are no orders: run once without it")
    else:
        if Violation.objects.filter(store__code__startswith="BENCH-").exists():
            bench_orders.refuse("the database holds violations (bench/checks.py ran here): use --skip-fill")
        print(f"filling {args.orders:,} orders across {args.stores:,} stores")
        stats = bench_orders.fill(args.stores, args.orders)
        print(f"fill: total {stats['total_s']:.1f} s")
    store = Store.objects.get(code=bench_orders.BIG_STORE)
    rows = fill_history()
    add_todos(store)
    print(
        f"{Order.objects.filter(store=store).count():,} orders in {store.code} "
        f"({Order.objects.filter(store=store, status='paid').count():,} awaiting dispatch); "
        f"{rows:,} score rows ({HISTORY_DAYS} days per store)"
    )

    User = get_user_model()
    seller, admin = Client(), Client()
    seller.force_login(User.objects.get(username="bench-seller"))
    admin.force_login(User.objects.get(username="bench-admin"))
    dashboard = reverse("dashboard", args=[store.code])
    pages = [
        ("seller dashboard, 30-day charts", seller, dashboard),
        ("seller dashboard, 90-day charts", seller, f"{dashboard}?days=90"),
        ("admin: stores at risk", admin, reverse("admin:merchants_store_at_risk")),
    ]
    print(
        f"\n{args.requests} requests per page after 2 warm-ups; time is server-side (Django test Client, in "
        "process);\ndb ms: median time spent in SQL per request; queries: the count per request"
    )
    header = f"{'page':36s} {'median ms':>10s} {'p95 ms':>8s} {'db ms':>6s} {'queries':>8s}  target"
    print(header)
    print("-" * len(header))
    missed = False
    for label, client, url in pages:
        result = bench_orders.measure(client, url, args.requests)
        html = client.get(url).content.decode()
        if "dashboard" in label:
            ok = result["median"] <= TARGET_MS and len(result["query_counts"]) == 1
            charts, todos = html.count("<svg"), html.count('id="todo-')
            target = f"≤ {TARGET_MS} ms; {charts} charts, {todos} to-dos shown"
            missed = missed or not ok
        else:
            ok, target = True, "(no target)"
        queries = "/".join(map(str, result["query_counts"]))
        print(
            f"{label:36s} {result['median']:10.1f} {result['p95']:8.1f} {result['db']:6.1f} {queries:>8s}  "
            f"{'ok' if ok else 'MISSED'} {target}"
        )
    if missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
