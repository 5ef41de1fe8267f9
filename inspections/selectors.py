"""Reads of the inspections app. Seller reads take a store already resolved through the membership selector
(`merchants.selectors.membership_for_store`), so another store's inspection is a 404."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from inspections.models import (
    INSPECTION_FAILED_STATUSES,
    INSPECTION_OPEN_STATUSES,
    Inspection,
    InspectionStatus,
    LabReport,
)
from inspections.rules import RiskFactors, RiskWeights, risk_weight
from merchants.models import Listing, ListingStatus, Store, StoreScore, StoreStatus
from merchants.rules import decimal_or_none
from merchants.selectors import rule_decimals

# The seller does not see a listing was picked until the sample is at the lab: before that, knowing the next
# order is a test purchase would let a store ship a hand-picked sample.
SELLER_VISIBLE_STATUSES = [
    InspectionStatus.AT_LAB,
    InspectionStatus.PASSED,
    InspectionStatus.FAILED,
    InspectionStatus.RETEST_REQUESTED,
    InspectionStatus.FAILED_FINAL,
]


# --- Sampling -------------------------------------------------------------------------------------


def risk_weights() -> RiskWeights:
    params = rule_decimals(
        "spot_check_weight_base",
        "spot_check_weight_new_store",
        "spot_check_new_store_days",
        "spot_check_weight_per_complaint_point",
        "spot_check_complaint_rate_cap",
        "spot_check_weight_risky_category",
        "spot_check_weight_per_failure",
        "spot_check_failure_cap",
    )
    return RiskWeights(
        base=params["spot_check_weight_base"],
        new_store=params["spot_check_weight_new_store"],
        new_store_days=int(params["spot_check_new_store_days"]),
        per_complaint_point=params["spot_check_weight_per_complaint_point"],
        complaint_rate_cap=params["spot_check_complaint_rate_cap"],
        risky_category=params["spot_check_weight_risky_category"],
        per_failure=params["spot_check_weight_per_failure"],
        failure_cap=int(params["spot_check_failure_cap"]),
    )


@dataclass(frozen=True)
class StoreRisk:
    """What sampling knows of each active store: opening date, complaint rate, standing failures."""

    opened_on: dict[int, date | None]
    complaint_rates: dict[int, Decimal]
    failures: dict[int, int]

    def factors(self, *, store_id: int, risky_category: bool, today: date) -> RiskFactors:
        opened = self.opened_on.get(store_id)
        return RiskFactors(
            store_age_days=(today - opened).days if opened else None,
            complaint_rate=self.complaint_rates.get(store_id),
            risky_category=risky_category,
            earlier_failures=self.failures.get(store_id, 0),
        )


def store_risk(*, now: datetime) -> StoreRisk:
    """Two queries, one row per store: the per-store half of every listing's factors. The complaint rate is
    the one the daily experience score worked out (complaints not dismissed per paid order over its window,
    merchants.StoreScore.metrics), from each store's latest score row on or before `now`'s day."""
    active = Store.objects.filter(status=StoreStatus.ACTIVE)
    latest_metrics = (
        StoreScore.objects.filter(store=OuterRef("pk"), day__lte=timezone.localdate(now))
        .order_by("-day")
        .values("metrics")[:1]
    )
    opened_on, complaint_rates = {}, {}
    for store_id, opened, metrics in active.annotate(latest_metrics=Subquery(latest_metrics)).values_list(
        "pk", "opened_on", "latest_metrics"
    ):
        opened_on[store_id] = opened
        if isinstance(metrics, str):  # a JSON value from a subquery comes back as text on some backends
            metrics = json.loads(metrics)
        rate = decimal_or_none((metrics or {}).get("complaint_rate"))
        if rate is not None:
            complaint_rates[store_id] = rate
    return StoreRisk(
        opened_on=opened_on,
        complaint_rates=complaint_rates,
        failures=dict(
            Inspection.objects.filter(status__in=INSPECTION_FAILED_STATUSES, store__status=StoreStatus.ACTIVE)
            .values("store_id")
            .annotate(n=Count("pk"))
            .values_list("store_id", "n")
        ),
    )


def sampling_candidates(*, now: datetime, weights: RiskWeights, risk: StoreRisk) -> Iterator[tuple]:
    """(listing id, store id, weight, factors) of every live listing of an active store that has no open
    inspection, in ascending id order, streamed (a million listings are never held at once)."""
    today = timezone.localdate(now)
    open_inspection = Inspection.objects.filter(listing=OuterRef("pk"), status__in=INSPECTION_OPEN_STATUSES)
    rows = (
        Listing.objects.filter(status=ListingStatus.LIVE, store__status=StoreStatus.ACTIVE)
        .exclude(Exists(open_inspection))
        .order_by("pk")
        .values_list("pk", "store_id", "category__is_risky")
        .iterator(chunk_size=5000)
    )
    for listing_id, store_id, risky in rows:
        factors = risk.factors(store_id=store_id, risky_category=risky, today=today)
        yield listing_id, store_id, risk_weight(factors, weights), factors


# --- Seller pages ---------------------------------------------------------------------------------


def inspections_for_store(*, store: Store) -> QuerySet[Inspection]:
    return (
        Inspection.objects.filter(store=store, status__in=SELLER_VISIBLE_STATUSES)
        .select_related("listing", "lab")
        .order_by("-created_at", "-id")
    )


def inspection_for_store(*, store: Store, inspection_id: int) -> Inspection:
    inspection = (
        inspections_for_store(store=store)
        .select_related("order", "violation", "violation__violation_type")
        .prefetch_related("reports")
        .filter(pk=inspection_id)
        .first()
    )
    if inspection is None:
        raise Http404(_("No such inspection."))
    return inspection


def report_for_store(*, store: Store, inspection_id: int, report_id: int) -> LabReport:
    report = (
        LabReport.objects.filter(
            pk=report_id,
            inspection_id=inspection_id,
            inspection__store=store,
            inspection__status__in=SELLER_VISIBLE_STATUSES,
        )
        .select_related("inspection")
        .first()
    )
    if report is None:
        raise Http404(_("No such report."))
    return report


def retest_windows_open(*, store: Store, now: datetime | None = None) -> QuerySet[Inspection]:
    """Failed inspections whose re-test may still be requested (for the dashboard's to-do list)."""
    now = now or timezone.now()
    return (
        Inspection.objects.filter(store=store, status=InspectionStatus.FAILED, retest_deadline__gt=now)
        .select_related("listing")
        .order_by("retest_deadline")
    )


# --- Violation causes (registered with merchants.causes in InspectionsConfig.ready) ---------------------


def inspection_cause_links(store_code: str, cause_ids: list[str]) -> dict[str, str]:
    """A failed spot check's violation links to the inspection (cause id: the inspection's id), if the
    seller may see it; another store's inspection gets no link."""
    from django.urls import reverse

    ids = [int(cause_id) for cause_id in cause_ids if cause_id.isdigit()]
    found = Inspection.objects.filter(
        pk__in=ids, store__code=store_code, status__in=SELLER_VISIBLE_STATUSES
    ).values_list("pk", flat=True)
    return {str(pk): reverse("inspection-detail", args=[store_code, pk]) for pk in found}
