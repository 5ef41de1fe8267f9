"""Benchmark: the dispatch and tracking checks on a million orders, 10,000 of them overdue (PostgreSQL only).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_orders .venv/bin/python bench/checks.py
    DATABASE_URL=... .venv/bin/python bench/checks.py --skip-fill            # the orders already there
    DATABASE_URL=... .venv/bin/python bench/checks.py --orders 100000 --stores 100 --overdue 1000  # quick
    DATABASE_URL=... .venv/bin/python bench/checks.py --skip-fill --explain  # + the plans of the due queries

1. Fills the database with bench/orders.py's fill (unless --skip-fill): `--orders` orders over 180 days in
   every state, with shipments and carrier scans.
2. Prepares the scene the issue sets: every store holds three times its required deposit (so the run is not
   a million shortfalls); the violations of earlier runs are removed; orders awaiting dispatch past their
   deadline are cut to exactly `--overdue`, their deadlines spread over the last 72 hours (so each strike and
   out of stock occur), the others closed as the platform does with unshipped orders; late shipments inside the
   engine's look-back are made punctual (the engine would have judged them when they happened);
   `--awaiting-pickup` shipments of the last 25–72 hours lose their carrier scans (tracking overdue, then
   false dispatch) and `--anomalies` recent ones get a consignee who is not the recipient (false dispatch).
3. Runs `late_dispatch_check` and `tracking_check` once (the first run, which records everything), then at
   once again (the second run must find nothing and write nothing), and prints the time of each, the
   violations, compensation entries and point entries written, and the targets: first ≤ 5 s, second ≤ 0.5 s.
"""

import argparse
import importlib.util
import sys
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
# bench/orders.py checks DATABASE_URL, sets Django up and holds the fill; loaded under another name, as the
# project has an app called `orders`.
spec = importlib.util.spec_from_file_location("bench_orders_fill", HERE / "orders.py")
bench_orders = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_orders)

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

FIRST_TARGET_S, SECOND_TARGET_S = 5.0, 0.5


def clear_violations() -> None:
    """What earlier runs recorded: violations and everything they caused."""
    from merchants.models import DepositEntry, Sanction, StoreEvent

    raw = bench_orders._raw
    with transaction.atomic():
        raw("DELETE FROM merchants_pointentry")
        DepositEntry.objects.filter(reverses__cause_key__startswith="violation:").delete()
        DepositEntry.objects.filter(cause_key__startswith="violation:").delete()
        StoreEvent.objects.filter(kind__in=["violation_recorded", "violation_revoked"]).delete()
        StoreEvent.objects.filter(kind__startswith="ladder_").delete()
        Sanction.objects.filter(cause_key__startswith="ladder:").delete()
        raw("DELETE FROM merchants_violation")


def prepare(*, overdue: int, awaiting_pickup: int, anomalies: int, now) -> dict:

    from merchants.models import (
        DepositAccount,
        DepositEntry,
        Sanction,
        Store,
    )
    from merchants.selectors import deposit_accounts_with_position, rule_int
    from orders.models import Order

    raw = bench_orders._raw
    clear_violations()
    with transaction.atomic():
        stores = list(Store.objects.filter(code__startswith="BENCH-"))
        DepositAccount.objects.bulk_create(
            [DepositAccount(store=store) for store in stores], ignore_conflicts=True
        )
        DepositEntry.objects.filter(cause_key__startswith="bench-topup:").delete()
        entries = [
            DepositEntry(
                account_id=account.pk,
                kind="top_up",
                amount=account.required * 3,
                reason="bench",
                cause_key=f"bench-topup:{account.store_id}",
            )
            for account in deposit_accounts_with_position().filter(store__in=stores)
        ]
        DepositEntry.objects.bulk_create(entries)
        DepositAccount.objects.filter(store__in=stores).update(shortfall_since=None)
        Sanction.objects.filter(store__in=stores, cause_key__startswith="deposit-shortfall:").delete()

        # Exactly `overdue` orders awaiting dispatch past their deadline, deadlines over the last 72 h.
        open_overdue = list(
            Order.objects.filter(status="paid", dispatch_deadline__lte=now)
            .order_by("-dispatch_deadline")
            .values_list("pk", "dispatch_deadline", "paid_at")
        )
        if len(open_overdue) < overdue:
            # Not enough in the fill: take the most recent shipped orders back to awaiting dispatch.
            extra = list(
                Order.objects.filter(status__in=["shipped", "delivered", "completed"])
                .order_by("-paid_at")
                .values_list("pk", flat=True)[: overdue - len(open_overdue)]
            )
            raw(
                "DELETE FROM orders_trackingevent WHERE shipment_id IN (SELECT id FROM orders_shipment "
                "WHERE order_id = ANY(%s))",
                [extra],
            )
            raw("DELETE FROM orders_shipment WHERE order_id = ANY(%s)", [extra])
            raw(
                "UPDATE orders_order SET status = 'paid', dispatched_at = NULL, delivered_at = NULL, "
                "completed_at = NULL WHERE id = ANY(%s)",
                [extra],
            )
            open_overdue += [(pk, None, None) for pk in extra]
        keep, close = open_overdue[:overdue], open_overdue[overdue:]
        if close:
            raw(
                "UPDATE orders_order SET status = 'cancelled', closed_at = dispatch_deadline + interval '72 hours' "
                "WHERE id = ANY(%s)",
                [[pk for pk, _d, _p in close]],
            )
        span = 72 * 3600
        for chunk_start in range(0, len(keep), 5000):
            chunk = keep[chunk_start : chunk_start + 5000]
            ids = [pk for pk, _d, _p in chunk]
            # deadline = now - (i/overdue) * 72 h; paid 24 h before it (a 24 h promise)
            raw(
                "UPDATE orders_order o SET dispatch_deadline = %s - make_interval(secs => v.offset_s), "
                "paid_at = %s - make_interval(secs => v.offset_s + 86400) "
                "FROM unnest(%s::bigint[], %s::double precision[]) AS v(id, offset_s) WHERE o.id = v.id",
                [now, now, ids, [span * (chunk_start + i + 0.5) / overdue for i in range(len(ids))]],
            )
        lookback = timedelta(days=rule_int("engine_lookback_days"))
        # Shipments the carrier never picked up (their scans removed), and a few whose consignee differs.
        raw("UPDATE orders_shipment SET anomaly = '' WHERE anomaly <> ''")
        stale = [
            row[0]
            for row in raw(
                "SELECT s.id FROM orders_shipment s JOIN orders_order o ON o.id = s.order_id "
                "WHERE o.status = 'shipped' AND o.fulfilment = 'seller' AND s.created_at BETWEEN %s AND %s "
                "ORDER BY md5(s.id::text) LIMIT %s",
                [now - timedelta(hours=72), now - timedelta(hours=25), awaiting_pickup],
            )
        ]
        raw("DELETE FROM orders_trackingevent WHERE shipment_id = ANY(%s)", [stale])
        raw("UPDATE orders_shipment SET first_pickup_at = NULL WHERE id = ANY(%s)", [stale])
        raw(
            "UPDATE orders_shipment SET anomaly = 'recipient_mismatch' WHERE id IN (SELECT id FROM orders_shipment "
            "WHERE created_at >= %s AND first_pickup_at IS NOT NULL ORDER BY id DESC LIMIT %s)",
            [now - timedelta(days=7), anomalies],
        )
        punctual = raw(
            "UPDATE orders_order SET dispatched_at = dispatch_deadline - interval '1 minute' "
            "WHERE dispatched_at > dispatch_deadline AND dispatched_at >= %s",
            [now - lookback],
        )
        del punctual
    raw("VACUUM ANALYZE orders_order")
    raw("VACUUM ANALYZE orders_shipment")
    raw("VACUUM ANALYZE merchants_violation")
    waiting = raw(
        "SELECT count(*) FROM orders_shipment WHERE first_pickup_at IS NULL AND created_at >= %s "
        "AND created_at <= %s",
        [now - lookback, now - timedelta(hours=rule_int("tracking_overdue_hours"))],
    )[0][0]
    return {
        "orders": Order.objects.count(),
        "overdue": Order.objects.filter(status="paid", dispatch_deadline__lte=now).count(),
        "awaiting_pickup": waiting,
        "anomalies": raw("SELECT count(*) FROM orders_shipment WHERE anomaly <> ''")[0][0],
        "stores": len(stores),
    }


def written() -> dict:
    from merchants.models import DepositEntry, PointEntry, StoreEvent, Violation

    return {
        "violations": Violation.objects.count(),
        "compensation": DepositEntry.objects.filter(kind="compensation").count(),
        "points": PointEntry.objects.count(),
        "events": StoreEvent.objects.count(),
    }


def run_checks(now) -> tuple[float, str]:
    from orders.checks import late_dispatch_check, tracking_check

    started = time.perf_counter()
    late = late_dispatch_check(now=now)
    tracking = tracking_check(now=now)
    return time.perf_counter() - started, f"late_dispatch: {late}; tracking: {tracking}"


def explain(now) -> None:
    from django.db.models import F

    from merchants.selectors import rule_int
    from orders.checks import _without_violation, picked_up_late, shipped_late_since
    from orders.models import Order, Shipment

    lookback = timedelta(days=rule_int("engine_lookback_days"))
    queries = {
        "open orders past the deadline (strike 1)": _without_violation(
            Order.objects.filter(status="paid", dispatch_deadline__lte=now),
            type_code="late_dispatch",
            cause_kind="order",
            suffix=":1",
        ),
        "shipped late inside the look-back (strike 1)": _without_violation(
            Order.objects.filter(
                dispatched_at__gt=F("dispatch_deadline"),
                dispatched_at__gte=now - lookback,
                dispatch_deadline__lte=now,
            ),
            type_code="late_dispatch",
            cause_kind="order",
            suffix=":1",
        ),
        "shipments awaiting pickup": _without_violation(
            Shipment.objects.filter(
                first_pickup_at__isnull=True,
                created_at__gte=now - lookback,
                created_at__lte=now - timedelta(hours=24),
            ),
            type_code="tracking_overdue",
            cause_kind="shipment",
        ),
        "shipped out of stock inside the look-back": _without_violation(
            shipped_late_since(now=now, after=timedelta(hours=48), lookback=lookback),
            type_code="out_of_stock",
            cause_kind="order",
        ),
        "shipments picked up late inside the look-back": _without_violation(
            picked_up_late(
                Shipment.objects.filter(created_at__gte=now - lookback), after=timedelta(hours=24)
            ),
            type_code="tracking_overdue",
            cause_kind="shipment",
        ),
        "anomalous shipments": _without_violation(
            Shipment.objects.filter(created_at__gte=now - lookback).exclude(anomaly=""),
            type_code="false_dispatch",
            cause_kind="shipment",
        ),
    }
    for label, queryset in queries.items():
        print(f"\n== {label}")
        print(queryset.values_list("pk").explain(analyze=True))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--overdue", type=int, default=10_000)
    parser.add_argument("--awaiting-pickup", type=int, default=1_000, help="shipments with no pickup scan")
    parser.add_argument(
        "--anomalies", type=int, default=100, help="shipments whose consignee is not the buyer"
    )
    parser.add_argument("--skip-fill", action="store_true", help="reuse the orders already in the database")
    parser.add_argument("--profile", action="store_true", help="profile the first run (cProfile, top 30)")
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE the due queries after the runs"
    )
    args = parser.parse_args()

    from django.core.management import call_command
    from django.utils import timezone

    bench_orders.create_database()
    call_command("migrate", verbosity=0)
    bench_orders.restore_secondary_indexes()
    print(f"database: {settings.DATABASES['default']['NAME']} ({connection.vendor})")
    from orders.models import Order

    if args.skip_fill:
        if not Order.objects.exists():
            bench_orders.refuse("--skip-fill, but there are no orders: run once without it")
    else:
        # A refill deletes the BENCH stores, which the violations of an earlier run protect: clear those first.
        clear_violations()
        print(f"filling {args.orders:,} orders across {args.stores:,} stores")
        stats = bench_orders.fill(args.stores, args.orders)
        print(f"fill: total {stats['total_s']:.1f} s")
    now = timezone.now()
    started = time.perf_counter()
    scene = prepare(
        overdue=args.overdue, awaiting_pickup=args.awaiting_pickup, anomalies=args.anomalies, now=now
    )
    print(
        f"scene ({time.perf_counter() - started:.1f} s): {scene['orders']:,} orders in {scene['stores']:,} stores; "
        f"{scene['overdue']:,} awaiting dispatch past the deadline; "
        f"{scene['awaiting_pickup']:,} shipments without a pickup scan 24 h after the tracking number; "
        f"{scene['anomalies']:,} with a consignee who is not the recipient"
    )
    before = written()
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
    first_s, first = run_checks(now)
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    after_first = written()
    second_s, second = run_checks(now)
    after_second = written()
    made = {key: after_first[key] - before[key] for key in before}
    again = {key: after_second[key] - after_first[key] for key in before}
    print(f"\nfirst run:  {first_s:6.2f} s  {first}")
    print(
        "            wrote "
        + ", ".join(f"{n:,} {what}" for what, n in made.items())
        + f"  — {'ok' if first_s <= FIRST_TARGET_S else 'MISSED'} (≤ {FIRST_TARGET_S} s)"
    )
    print(f"second run: {second_s:6.2f} s  {second}")
    print(
        "            wrote "
        + ", ".join(f"{n:,} {what}" for what, n in again.items())
        + f"  — {'ok' if second_s <= SECOND_TARGET_S and not any(again.values()) else 'MISSED'}"
        f" (≤ {SECOND_TARGET_S} s, nothing written)"
    )
    if args.explain:
        explain(now)
    if first_s > FIRST_TARGET_S or second_s > SECOND_TARGET_S or any(again.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
