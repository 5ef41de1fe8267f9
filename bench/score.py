"""Benchmark: the daily experience score of 1,000 stores over 1,000,000 orders (PostgreSQL only).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_orders .venv/bin/python bench/score.py
    DATABASE_URL=... .venv/bin/python bench/score.py --skip-fill      # the data already there
    DATABASE_URL=... .venv/bin/python bench/score.py --skip-fill --days 3 --explain
    DATABASE_URL=... .venv/bin/python bench/score.py --stores 5 --orders 2000   # a smoke run

Fills the database (unless --skip-fill): first removes the score sources of earlier runs (complaints, buyer
messages, inspections, violations and what the checks' violations caused, so a database bench/checks.py ran
on is reused), then bench/orders.py's fill (a million orders over 180 days in every state, 1,000 stores),
then the other figures the score reads, set-based (one INSERT … SELECT per table from the orders just
written, pseudo-random but fixed by hashing each row's id):

- complaints: 0.2–2 % of the paid orders by store (a tenth of the stores at each step), opened 2–10 days
  after payment, in every status (a fifth dismissed, which the complaint rate leaves out), logistics ones on
  platform-shipped orders at the carrier desk;
- buyer messages: 40 % of the orders have one or two, sent in the 2 days after payment; 85 % answered by a
  person after 10 s to 10 min (slower in some stores), 10 % by the bot, 5 % never;
- spot checks: one inspection for two listings in five (one lab, one round), results over the 180 days:
  passed, failed, failed after the re-test, re-test pending;
- violations: late dispatch on the orders shipped after their deadline, about one negative-service violation
  per store a month, a fraudulent dispatch in one store of twenty; one in twenty revoked. (Only the
  violation rows: the score reads no points or ledgers, so none are written.)

Then removes earlier score rows, runs `experience_score_check` for each of the last `--days` days (each run
scores every trading store from one grouped query per figure source) and prints the time of each run and its
stores (target: ≤ 10 s a day), then the score distribution of the last day and what the sources held.
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
from django.db import connection, transaction  # noqa: E402

TARGET_S = 10.0
SOURCE_TABLES = [
    "complaints_complaint",
    "complaints_buyermessage",
    "inspections_inspection",
    "merchants_violation",
]
BENCH_LAB = "CNAS L99999"


def _h(expression: str, salt: str, modulus: str) -> str:
    """SQL for a pseudo-random integer in [0, modulus) fixed by the row (its expression) and a salt. (mod(),
    not the % operator: the statements also carry %s parameters.)"""
    return f"mod(hashtext(({expression})::text || '{salt}')::bigint & 2147483647, {modulus})"


def _check_source_columns() -> None:
    """The INSERTs below name every column: a column added since this script was written must be filled."""
    from complaints.models import BuyerMessage, Complaint
    from inspections.models import Inspection
    from merchants.models import Violation

    for model, columns in (
        (Complaint, COMPLAINT_COLUMNS),
        (BuyerMessage, MESSAGE_COLUMNS),
        (Inspection, INSPECTION_COLUMNS),
        (Violation, VIOLATION_COLUMNS),
    ):
        missing = {f.column for f in model._meta.concrete_fields} - set(columns) - {"id"}
        if missing:
            bench_orders.refuse(
                f"{model._meta.db_table} has columns this benchmark does not fill: {sorted(missing)}"
            )


COMPLAINT_COLUMNS = (
    "store_id", "order_id", "listing_id", "kind", "sub_kind", "source", "from_regulator", "buyer_statement",
    "carrier_desk", "status", "opened_at", "opened_by_id", "assigned_to_id", "reply_due_at",
    "seller_statement", "seller_replied_at", "decided_at", "decided_by_id", "decision_reason", "violation_id",
    "order_refunded", "deposit_refund", "compensation", "referred_to_authorities",
)  # fmt: skip
MESSAGE_COLUMNS = (
    "store_id", "order_id", "sent_at", "answered_at", "answered_by_human", "source", "recorded_by_id",
    "created_at",
)  # fmt: skip
INSPECTION_COLUMNS = (
    "round_id", "listing_id", "store_id", "status", "draw_rank", "weight", "risk_factors", "order_id",
    "purchased_at", "lab_id", "sample_number", "sent_to_lab_at", "result_at", "defects", "result_notes",
    "violation_id", "listing_removal_id", "retest_deadline", "retest_requested_at", "retest_requested_by_id",
    "retest_fee", "retest_result_at", "retest_defects", "retest_notes", "cancel_reason", "created_at",
    "updated_at",
)  # fmt: skip
VIOLATION_COLUMNS = (
    "store_id", "violation_type_id", "cause_kind", "cause_id", "cause_label", "occurred_at", "points",
    "ledger", "point_year", "status", "reason", "recorded_by_id", "revoked_at", "created_at",
)  # fmt: skip


def clear_sources() -> None:
    """The score sources of earlier runs, and what bench/checks.py's violations caused (points, deductions,
    ladder sanctions, store events): the fill then starts from orders alone."""
    from inspections.models import SamplingRound
    from merchants.models import DepositEntry, Sanction, StoreEvent

    raw = bench_orders._raw
    with transaction.atomic():
        # CASCADE: their events, evidence, reports, appeals and point entries go with them.
        raw(
            "TRUNCATE complaints_complaint, complaints_buyermessage, inspections_inspection, "
            "merchants_pointentry, merchants_occurrenceladderapplication, merchants_violation CASCADE"
        )
        DepositEntry.objects.filter(reverses__cause_key__startswith="violation:").delete()
        DepositEntry.objects.filter(cause_key__startswith="violation:").delete()
        StoreEvent.objects.filter(kind__in=["violation_recorded", "violation_revoked"]).delete()
        StoreEvent.objects.filter(kind__startswith="ladder_").delete()
        Sanction.objects.filter(cause_key__startswith="ladder:").delete()
        SamplingRound.objects.filter(seed="bench", inspections__isnull=True).delete()


def fill_sources(now) -> dict:
    """Complaints, buyer messages, spot checks and violations in realistic shares of the orders (see the
    module's docstring), one INSERT … SELECT each; returns the rows written per table and the time."""
    from inspections.models import Lab, SamplingRound
    from merchants.models import ViolationType

    _check_source_columns()
    started = time.perf_counter()
    raw = bench_orders._raw
    lab, _ = Lab.objects.get_or_create(accreditation_number=BENCH_LAB, defaults={"name": "Bench Lab"})
    sampling_round = SamplingRound.objects.create(
        trigger=SamplingRound.Trigger.INSPECTOR, seed="bench", sample_size=1, drawn_at=now
    )
    types = dict(ViolationType.objects.values_list("code", "pk"))
    ledgers = dict(ViolationType.objects.values_list("code", "severity"))
    points = dict(ViolationType.objects.values_list("code", "points"))
    counts = {}
    with transaction.atomic():
        raw(
            f"""
            INSERT INTO complaints_complaint ({", ".join(COMPLAINT_COLUMNS)})
            SELECT c.store_id, c.order_id, NULL, c.kind,
                   CASE WHEN c.kind = 'not_as_described'
                        THEN (ARRAY['different_item', 'lower_value', 'missing_parts'])[1 + mod(c.r, 3)] ELSE '' END,
                   c.source, c.source LIKE 'regulator%%', '买家投诉：与描述不符，申请处理',
                   c.kind = 'logistics' AND c.fulfilment = 'platform', c.status, c.opened_at, NULL, NULL,
                   c.opened_at + interval '48 hours', '', NULL,
                   CASE WHEN c.status IN ('upheld', 'dismissed') THEN c.opened_at + interval '3 days' END,
                   NULL, '', NULL, FALSE, NULL, NULL, FALSE
            FROM (
                SELECT o.id AS order_id, o.store_id, o.fulfilment,
                       o.paid_at + (2 + {_h("o.id", "co", "8")}) * interval '1 day' AS opened_at,
                       {_h("o.id", "cr", "3")} AS r,
                       (ARRAY['not_as_described', 'not_as_described', 'product_quality', 'logistics',
                              'customer_service', 'counterfeit', 'false_dispatch', 'other'])
                           [1 + {_h("o.id", "ck", "8")}] AS kind,
                       CASE WHEN {_h("o.id", "cs", "100")} < 4 THEN 'regulator_12315'
                            WHEN {_h("o.id", "cs", "100")} < 6 THEN 'regulator_local_office'
                            WHEN {_h("o.id", "cs", "100")} < 9 THEN 'brand_owner'
                            ELSE 'buyer' END AS source,
                       (ARRAY['dismissed', 'dismissed', 'upheld', 'upheld', 'upheld', 'upheld', 'upheld',
                              'under_review', 'awaiting_seller', 'open'])[1 + {_h("o.id", "st", "10")}] AS status
                FROM orders_order o
                WHERE {_h("o.id", "c", "1000")} < 2 + 2 * mod(o.store_id, 10)
            ) c
            WHERE c.opened_at <= %s
            """,
            [now],
        )
        raw(
            f"""
            INSERT INTO complaints_buyermessage ({", ".join(MESSAGE_COLUMNS)})
            SELECT m.store_id, m.order_id, m.sent_at,
                   CASE WHEN m.r < 95 THEN m.sent_at + m.wait END, m.r < 85, 'chat', NULL, m.sent_at
            FROM (
                SELECT o.id AS order_id, o.store_id,
                       -- the first in the day after payment, the second in the day after that: never the same
                       o.paid_at + (n - 1) * interval '1 day'
                           + ({_h("o.id * 3 + n", "ms", "86400")}) * interval '1 second' AS sent_at,
                       {_h("o.id * 3 + n", "mr", "100")} AS r,
                       (10 + {_h("o.id * 3 + n", "mw", "(60 + 540 * (mod(o.store_id, 4) = 0)::int)")})
                           * interval '1 second' AS wait
                FROM orders_order o
                CROSS JOIN LATERAL generate_series(1, 1 + {_h("o.id", "mn", "2")}) AS n
                WHERE {_h("o.id", "m", "100")} < 40
            ) m
            WHERE m.sent_at <= %s
            """,
            [now],
        )
        raw(
            f"""
            INSERT INTO inspections_inspection ({", ".join(INSPECTION_COLUMNS)})
            SELECT %s, i.listing_id, i.store_id, i.status, 1, 1.000, '{{}}'::jsonb, NULL,
                   i.result_at - interval '9 days', %s, 'BENCH-' || i.listing_id, i.result_at - interval '7 days',
                   i.result_at,
                   CASE WHEN i.status = 'passed' THEN '[]'::jsonb ELSE '["material"]'::jsonb END, '', NULL, NULL,
                   CASE WHEN i.status <> 'passed' THEN i.result_at + interval '5 days' END,
                   CASE WHEN i.status IN ('retest_requested', 'failed_final')
                        THEN i.result_at + interval '1 day' END,
                   NULL,
                   CASE WHEN i.status IN ('retest_requested', 'failed_final') THEN 500.00 END,
                   CASE WHEN i.status = 'failed_final' THEN i.result_at + interval '12 days' END,
                   CASE WHEN i.status = 'failed_final' THEN '["material"]'::jsonb ELSE '[]'::jsonb END,
                   '', '', i.result_at - interval '10 days', i.result_at
            FROM (
                SELECT l.id AS listing_id, l.store_id,
                       %s - ({_h("l.id", "ir", "(180 * 86400)")}) * interval '1 second' AS result_at,
                       (ARRAY['passed', 'passed', 'passed', 'passed', 'passed', 'passed', 'passed',
                              'passed', 'passed', 'passed', 'passed', 'passed', 'passed', 'passed',
                              'passed', 'passed', 'passed', 'failed', 'failed_final', 'retest_requested'])
                           [1 + {_h("l.id", "is", "20")}] AS status
                FROM merchants_listing l
                JOIN merchants_store s ON s.id = l.store_id AND s.code LIKE 'BENCH-%%'
                WHERE {_h("l.id", "i", "5")} < 2
            ) i
            """,
            [sampling_round.pk, lab.pk, now],
        )
        late = types["late_dispatch"]
        raw(
            f"""
            INSERT INTO merchants_violation ({", ".join(VIOLATION_COLUMNS)})
            SELECT o.store_id, %s, 'order', o.id::text, o.order_no, o.dispatch_deadline, %s, %s,
                   extract(year FROM o.dispatch_deadline AT TIME ZONE 'Asia/Shanghai')::int,
                   CASE WHEN {_h("o.id", "vr", "20")} = 0 THEN 'revoked' ELSE 'active' END, '', NULL,
                   CASE WHEN {_h("o.id", "vr", "20")} = 0 THEN o.dispatch_deadline + interval '5 days' END,
                   o.dispatch_deadline
            FROM orders_order o
            WHERE o.dispatched_at > o.dispatch_deadline AND o.fulfilment = 'seller'
            """,
            [late, points["late_dispatch"], ledgers["late_dispatch"]],
        )
        for code, per_store, salt in (("negative_service", 6, "ns"), ("fraudulent_dispatch", 1, "fd")):
            raw(
                f"""
                INSERT INTO merchants_violation ({", ".join(VIOLATION_COLUMNS)})
                SELECT s.id, %s, 'bench', s.id || '-' || n, s.code, v.at, %s, %s,
                       extract(year FROM v.at AT TIME ZONE 'Asia/Shanghai')::int,
                       CASE WHEN {_h("s.id * 10 + n", salt + "r", "20")} = 0 THEN 'revoked' ELSE 'active' END,
                       '', NULL,
                       CASE WHEN {_h("s.id * 10 + n", salt + "r", "20")} = 0 THEN v.at + interval '5 days' END,
                       v.at
                FROM merchants_store s
                CROSS JOIN LATERAL generate_series(1, %s) AS n
                CROSS JOIN LATERAL (
                    SELECT %s - ({_h("s.id * 10 + n", salt, "(180 * 86400)")}) * interval '1 second' AS at
                ) v
                WHERE s.code LIKE 'BENCH-%%' AND ({salt!r} <> 'fd' OR {_h("s.id", salt + "s", "20")} = 0)
                """,
                [types[code], points[code], ledgers[code], per_store, now],
            )
    for table in SOURCE_TABLES:
        counts[table] = raw(f"SELECT count(*) FROM {table}")[0][0]
        raw(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )
    bench_orders._raw("VACUUM (ANALYZE) " + ", ".join(SOURCE_TABLES))
    return {"counts": counts, "total_s": time.perf_counter() - started}


def source_counts() -> str:
    raw = bench_orders._raw
    return ", ".join(f"{raw(f'SELECT count(*) FROM {table}')[0][0]:,} {table}" for table in SOURCE_TABLES)


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
    from merchants.models import StoreScore
    from merchants.services import experience_score_check
    from orders.models import Order

    if args.skip_fill:
        if not Order.objects.exists():
            bench_orders.refuse("--skip-fill, but there are no orders: run once without it")
    else:
        StoreScore.objects.all().delete()
        clear_sources()
        print(f"filling {args.orders:,} orders across {args.stores:,} stores")
        stats = bench_orders.fill(args.stores, args.orders)
        print(f"fill: orders {stats['total_s']:.1f} s")
        sources = fill_sources(timezone.now())
        print(f"fill: complaints, buyer messages, spot checks, violations {sources['total_s']:.1f} s")
    StoreScore.objects.all().delete()
    bench_orders._raw("VACUUM ANALYZE merchants_storescore")
    print(f"{Order.objects.count():,} orders; {source_counts()}")
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
