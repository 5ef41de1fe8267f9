"""The inspections app's experience-score figure (registered with merchants.scoring in InspectionsConfig.ready):
the spot-check pass rate of every store, from one grouped query."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q

from inspections.models import Inspection, InspectionStatus

# A result recorded in the window: the lab's verdict, whatever came of it since (a re-test asked or decided).
DECIDED_STATUSES = [
    InspectionStatus.PASSED,
    InspectionStatus.FAILED,
    InspectionStatus.RETEST_REQUESTED,
    InspectionStatus.FAILED_FINAL,
]


def inspection_score_figures(*, start: datetime, end: datetime) -> dict[int, dict[str, Decimal | int | None]]:
    """Per store, over [start, end): `spot_check_pass_rate`, the inspections whose lab result was recorded in
    the window and that stand passed now (a passed re-test counts as passed; a failure awaiting its re-test
    does not), over all with a result in the window; with the count `spot_checks_decided`. Stores without a
    result in the window are absent (nothing to judge)."""
    rows = (
        Inspection.objects.filter(result_at__gte=start, result_at__lt=end, status__in=DECIDED_STATUSES)
        .values("store_id")
        .annotate(decided=Count("id"), passed=Count("id", filter=Q(status=InspectionStatus.PASSED)))
        .order_by()
    )
    return {
        row["store_id"]: {
            "spot_checks_decided": row["decided"],
            "spot_check_pass_rate": (Decimal(row["passed"]) / Decimal(row["decided"])).quantize(
                Decimal("0.0001"), rounding=ROUND_HALF_UP
            ),
        }
        for row in rows
    }
