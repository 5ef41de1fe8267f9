"""Benchmark: the daily experience score of 1,000 stores over 1,000,000 orders (PostgreSQL only).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_orders .venv/bin/python bench/score.py
    DATABASE_URL=... .venv/bin/python bench/score.py --skip-fill      # the orders already there
    DATABASE_URL=... .venv/bin/python bench/score.py --skip-fill --days 3 --explain

Fills the database with bench/orders.py's fill unless --skip-fill (a million orders over 180 days in every
state, 1,000 stores), removes earlier score rows, then runs `experience_score_check` for each of the last
`--days` days (each run scores every trading store from one grouped query per figure source) and prints the
time of each run and its stores (target: ≤ 10 s a day), then the score distribution of the last day.
"""

import argparse
import importlib.util
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("bench_orders_fill", HERE / "orders.py")
bench_orders = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_orders)

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

TARGET_S = 10.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=1, help="score this many past days, one run each")
    parser.add_argument("--skip-fill", action="store_true", help="reuse the orders already in the database")
    parser.add_argument(
        "--explain", action="store_true", help="print each query of the last run with its time"
    )
    args = parser.parse_args()

    from django.core.management import call_command
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    bench_orders.create_database()
    call_command("migrate", verbosity=0)
    bench_orders.restore_secondary_indexes()
    print(f"database: {settings.DATABASES['default']['NAME']} ({connection.vendor})")
    from merchants.models import StoreScore, Violation
    from merchants.services import experience_score_check
    from orders.models import Order

    if args.skip_fill:
        if not Order.objects.exists():
            bench_orders.refuse("--skip-fill, but there are no orders: run once without it")
    else:
        if Violation.objects.exists():
            bench_orders.refuse("the database holds violations (bench/checks.py ran here): use --skip-fill")
        StoreScore.objects.all().delete()
        print(f"filling {args.orders:,} orders across {args.stores:,} stores")
        stats = bench_orders.fill(args.stores, args.orders)
        print(f"fill: total {stats['total_s']:.1f} s")
    StoreScore.objects.all().delete()
    bench_orders._raw("VACUUM ANALYZE merchants_storescore")
    print(f"{Order.objects.count():,} orders")
    today = timezone.localdate()
    worst = 0.0
    for back in range(args.days, 0, -1):
        day = today - timedelta(days=back)
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = experience_score_check(day=day)
            seconds = time.perf_counter() - started
        worst = max(worst, seconds)
        print(
            f"{day}: {seconds:6.2f} s  {result.scored:,} stores scored, {len(queries)} queries  "
            f"{'ok' if seconds <= TARGET_S else 'MISSED'} (≤ {TARGET_S:.0f} s)"
        )
    scores = [float(s) for s in StoreScore.objects.filter(day=day).values_list("score", flat=True)]
    growth = StoreScore.objects.filter(day=day, growth_stage=True).count()
    if scores:
        print(
            f"scores on {day}: min {min(scores):.2f}, median {statistics.median(scores):.2f}, "
            f"max {max(scores):.2f}; {growth} in the growth stage"
        )
    if args.explain:
        for query in queries.captured_queries:
            print(f"\n{float(query['time']) * 1000:8.1f} ms  {query['sql'][:600]}")
    if worst > TARGET_S:
        sys.exit(1)


if __name__ == "__main__":
    main()
