"""Demo inspections for `seed_demo`: every state on DEMO-001 and DEMO-002, through the services. Idempotent."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from inspections.models import Inspection, Lab, SamplingRound
from inspections.rules import plain, risk_contributions, risk_weight
from inspections.selectors import risk_weights, store_risk
from inspections.services import (
    inspection_cancel,
    inspection_record_fail,
    inspection_record_pass,
    inspection_record_purchase,
    inspection_request_retest,
    inspection_send_to_lab,
)
from merchants.models import Listing, ListingStatus, Membership, Store
from orders.models import Carrier
from orders.services import LineData, RecipientData, order_create, order_ship, tracking_event_record

DEMO_CAUSE = "demo:inspections"
LABS = [
    ("Huadong Textile & Consumer Goods Testing Centre (demo)", "CNAS L2046"),
    ("Shanghai Cosmetics Quality Lab (demo)", "CNAS L3177"),
]
# store, state to reach, hours ago the last step happened
PLAN = [
    ("DEMO-001", "selected", 0),
    ("DEMO-001", "purchased", 20),
    ("DEMO-001", "at_lab", 30),
    ("DEMO-001", "passed", 72),
    ("DEMO-001", "failed", 2),  # the open re-test window, with a report
    ("DEMO-001", "cancelled", 100),
    ("DEMO-002", "retest_requested", 3),
    ("DEMO-002", "overturned", 6),  # failed, re-tested, passed: the violation revoked
    ("DEMO-002", "failed_final", 8),
]
SHOPPER = RecipientData(
    name="王五", phone="13700001111", region="上海市 徐汇区", address="漕溪北路 88 号 1203 室"
)


def _report(label: str) -> SimpleUploadedFile:
    text = f"Demo lab report: {label}".encode()
    pdf = (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >> endobj\n"
        b"4 0 obj << /Length "
        + str(len(text) + 30).encode()
        + b" >> stream\nBT /F1 18 Tf 50 780 Td ("
        + text
        + b") Tj ET\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    return SimpleUploadedFile(f"{label}.pdf", pdf, content_type="application/pdf")


def _owner(store: Store):
    membership = Membership.objects.filter(store=store, role="owner").select_related("user").first()
    return membership.user if membership else None


def seed_inspections(*, stores: dict[str, Store], now: datetime, inspector) -> dict[str, int]:
    """Leave an inspection in every state on the demo stores (one failed with a report and an open re-test
    window on DEMO-001). Returns {status: count} of the demo round; a second call changes nothing."""
    demo_round = SamplingRound.objects.filter(cause_key=DEMO_CAUSE).first()
    if demo_round is None:
        demo_round = _seed(stores=stores, now=now, inspector=inspector)
    counts: dict[str, int] = {}
    for status in demo_round.inspections.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def _seed(*, stores, now, inspector) -> SamplingRound:
    labs = [
        Lab.objects.get_or_create(accreditation_number=number, defaults={"name": name})[0]
        for name, number in LABS
    ]
    weights = risk_weights()
    risk = store_risk(now=now)
    start = now - timedelta(days=6)
    demo_round = SamplingRound.objects.create(
        trigger=SamplingRound.Trigger.INSPECTOR,
        seed="demo",
        sample_size=len(PLAN),
        cause_key=DEMO_CAUSE,
        drawn_by=inspector,
        drawn_at=start,
        weights=weights.as_dict(),
        note="Demo round (seed_demo)",
    )
    used: set[int] = set()
    drawn = 0
    for rank, (code, goal, hours_ago) in enumerate(PLAN, start=1):
        store = stores.get(code)
        if store is None:
            continue
        listing = (
            Listing.objects.filter(store=store, status=ListingStatus.LIVE)
            .exclude(pk__in=used)
            .exclude(inspections__status__in=["selected", "purchased", "at_lab", "retest_requested"])
            .select_related("category")
            .order_by("sku")
            .first()
        )
        if listing is None:
            continue
        used.add(listing.pk)
        factors = risk.factors(
            store_id=store.pk, risky_category=listing.category.is_risky, today=start.date()
        )
        inspection = Inspection.objects.create(
            round=demo_round,
            listing=listing,
            store=store,
            draw_rank=rank,
            weight=risk_weight(factors, weights),
            risk_factors={
                "store_age_days": factors.store_age_days,
                "complaint_rate": None if factors.complaint_rate is None else plain(factors.complaint_rate),
                "risky_category": factors.risky_category,
                "earlier_failures": factors.earlier_failures,
                "contributions": {
                    k: str(v.normalize()) for k, v in risk_contributions(factors, weights).items()
                },
            },
            created_at=start,
            updated_at=start,
        )
        drawn += 1
        _walk(
            inspection,
            goal=goal,
            at=now - timedelta(hours=hours_ago),
            inspector=inspector,
            lab=labs[rank % 2],
        )
    SamplingRound.objects.filter(pk=demo_round.pk).update(drawn_count=drawn, candidate_count=drawn)
    return demo_round


def _walk(inspection: Inspection, *, goal: str, at: datetime, inspector, lab: Lab) -> None:
    """Take the inspection to `goal`, each step a little before `at` (the last step at `at`)."""
    if goal == "selected":
        return
    if goal == "cancelled":
        inspection_cancel(
            inspection=inspection, reason="The listing's stock ran out before purchase", actor=inspector
        )
        return
    listing = inspection.listing
    order = order_create(
        store=inspection.store,
        order_no=f"MYS-{inspection.store.code}-{inspection.pk:04d}",
        paid_at=at - timedelta(days=4),
        amount_paid=listing.price,
        lines=[
            LineData(
                sku=listing.sku,
                title=listing.title,
                quantity=1,
                unit_price=listing.price,
                promised_dispatch=listing.promised_dispatch,
                listing=listing,
            )
        ],
        recipient=SHOPPER,
        check_store=False,
    )
    # The store ships the mystery order like any other; the sample is picked up and delivered to the buyer.
    shipped_at = order.paid_at + timedelta(hours=6)
    order = order_ship(
        order=order, carrier=Carrier.objects.get(code="sf"), tracking_no=f"SF{order.pk:013d}", now=shipped_at
    )
    tracking_event_record(
        shipment=order.shipment, kind="pickup", occurred_at=shipped_at + timedelta(hours=2), source="demo"
    )
    tracking_event_record(
        shipment=order.shipment, kind="delivered", occurred_at=shipped_at + timedelta(days=1), source="demo"
    )
    inspection = inspection_record_purchase(
        inspection=inspection, order_no=order.order_no, actor=inspector, now=at - timedelta(days=4)
    )
    if goal == "purchased":
        return
    inspection = inspection_send_to_lab(
        inspection=inspection,
        lab=lab,
        sample_number=f"DEMO-{timezone.localdate(at):%Y%m%d}-{inspection.pk:04d}",
        actor=inspector,
        now=at - timedelta(days=2),
    )
    if goal == "at_lab":
        return
    if goal == "passed":
        inspection_record_pass(
            inspection=inspection,
            report=_report("pass"),
            notes="All items within the standard.",
            actor=inspector,
            now=at,
        )
        return
    fail_at = at if goal == "failed" else at - timedelta(hours=2)
    inspection = inspection_record_fail(
        inspection=inspection,
        defects=["material", "labelling"] if inspection.store.code == "DEMO-001" else ["labelling"],
        report=_report("fail"),
        notes="Fibre content 62% cotton where the label says 100% cotton."
        if inspection.store.code == "DEMO-001"
        else "Net content 15 ml where the label says 30 ml.",
        actor=inspector,
        now=fail_at,
    )
    if goal == "failed":
        return
    owner = _owner(inspection.store)
    inspection = inspection_request_retest(
        inspection=inspection, actor=owner, now=fail_at + timedelta(hours=1)
    )
    if goal == "retest_requested":
        return
    if goal == "overturned":
        inspection_record_pass(
            inspection=inspection,
            report=_report("retest-pass"),
            notes="Re-test of the same sample: 30 ml within tolerance.",
            actor=inspector,
            now=at,
        )
        return
    inspection_record_fail(
        inspection=inspection,
        defects=["labelling"],
        report=_report("retest-fail"),
        notes="Re-test of the same sample confirms 15 ml.",
        actor=inspector,
        now=at,
    )
