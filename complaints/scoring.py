"""The complaints app's experience-score figures (registered with merchants.scoring in ComplaintsConfig.ready):
the complaint rate and the two customer-service timeliness figures of RULES §6, for every store at once.

Set-based: a few grouped queries per call whatever the number of stores or messages (one for paid orders, one
for complaints, one for the rule table, one for the stores' time zones and one per distinct time zone for the
buyer messages, since the service session is counted in each store's local hours)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db.models import Avg, Case, Count, DurationField, F, Q, Value, When
from django.db.models.functions import ExtractHour
from django.utils import timezone

from complaints.models import BuyerMessage, Complaint, ComplaintStatus
from complaints.selectors import service_rules
from merchants.models import Store
from orders.models import Order

RATE = Decimal("0.0001")
TENTH = Decimal("0.1")

Figures = dict[int, dict[str, Decimal | int | None]]


def _share(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(RATE, rounding=ROUND_HALF_UP) if whole else None


def complaint_score_figures(*, start: datetime, end: datetime) -> Figures:
    """Per store, over [start, end): `complaint_rate` (complaints opened in the window that were not
    dismissed and are the seller's — not the platform carrier desk's — per order paid in the window) with
    its count `complaints`; `reply_3min_rate` and `avg_response_seconds` of the buyer messages sent in the
    window (RULES §6: in the service session of the store's time zone, judged once answered by a person or
    once unanswered for the fixed unanswered time) with their count `messages_judged`.

    Negative-service events are not a figure here: the score deducts for the negative_service violations
    themselves (merchants.services._behaviour_counts)."""
    figures: Figures = {}

    def put(store_id: int, **values) -> None:
        figures.setdefault(store_id, {}).update(values)

    paid = dict(
        Order.objects.filter(paid_at__gte=start, paid_at__lt=end)
        .values("store_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("store_id", "n")
    )
    complaints = dict(
        Complaint.objects.filter(opened_at__gte=start, opened_at__lt=end, carrier_desk=False)
        .exclude(status=ComplaintStatus.DISMISSED)
        .values("store_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("store_id", "n")
    )
    for store_id in paid.keys() | complaints.keys():
        count = complaints.get(store_id, 0)
        put(store_id, complaints=count, complaint_rate=_share(count, paid.get(store_id, 0)))

    for store_id, values in service_score_figures(start=start, end=end).items():
        put(store_id, **values)
    return figures


def service_score_figures(*, start: datetime, end: datetime, now: datetime | None = None) -> Figures:
    """The 3-minute reply rate and the average human response time per store, as `service_figures` works
    them out message by message, but in the database (one grouped query per store time zone)."""
    rules = service_rules()
    now = min(end, now or timezone.now())
    target = timedelta(seconds=rules.reply_target_seconds)
    unanswered = timedelta(seconds=rules.unanswered_counts_as_seconds)
    by_person = Q(answered_by_human=True, answered_at__isnull=False, answered_at__lte=now)
    judged = by_person | Q(sent_at__lte=now - unanswered)
    response = Case(
        When(by_person, then=F("answered_at") - F("sent_at")),
        default=Value(unanswered),
        output_field=DurationField(),
    )
    figures: Figures = {}
    zones = (
        Store.objects.values_list("time_zone", flat=True).distinct().order_by("time_zone")
    )  # a handful at most
    for zone_name in list(zones):
        rows = (
            BuyerMessage.objects.filter(store__time_zone=zone_name, sent_at__gte=start, sent_at__lt=end)
            .filter(sent_at__lte=now)
            .filter(judged)
            .annotate(local_hour=ExtractHour("sent_at", tzinfo=ZoneInfo(zone_name)))
            .filter(local_hour__gte=rules.session_start_hour, local_hour__lt=rules.session_end_hour)
            .values("store_id")
            .annotate(
                messages=Count("id"),
                on_time=Count("id", filter=by_person & Q(answered_at__lte=F("sent_at") + target)),
                average=Avg(response),
            )
            .order_by()
        )
        for row in rows:
            seconds = Decimal(str(row["average"].total_seconds()))
            figures[row["store_id"]] = {
                "messages_judged": row["messages"],
                "reply_3min_rate": _share(row["on_time"], row["messages"]),
                "avg_response_seconds": seconds.quantize(TENTH, rounding=ROUND_HALF_UP),
            }
    return figures
