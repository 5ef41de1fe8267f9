"""The complaints app's experience-score figures: complaint rate and service timeliness, set-based."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from complaints.models import BuyerMessage, Complaint, ComplaintKind, ComplaintStatus
from complaints.scoring import complaint_score_figures, service_score_figures
from complaints.selectors import service_figures_for_store
from merchants.models import StoreScore
from merchants.scoring import SCORE_SOURCES
from merchants.services import experience_score_check
from tests.orders.factories import make_order

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def complaint(store, *, status=ComplaintStatus.OPEN, carrier_desk=False, opened_at=None):
    return Complaint.objects.create(
        store=store,
        kind=ComplaintKind.COUNTERFEIT,
        source="buyer",
        buyer_statement="Not the towel in the listing.",
        status=status,
        carrier_desk=carrier_desk,
        opened_at=opened_at or timezone.now() - timedelta(days=1),
    )


def message(order, sent_at, *, after=None, human=True):
    return BuyerMessage.objects.create(
        store=order.store,
        order=order,
        sent_at=sent_at,
        answered_at=sent_at + timedelta(seconds=after) if after is not None else None,
        answered_by_human=human and after is not None,
    )


def test_complaints_and_inspections_register_their_sources():
    assert {"orders", "complaints", "inspections"} <= set(SCORE_SOURCES)


def test_complaint_rate_counts_the_sellers_undismissed_complaints_per_paid_order(store_factory):
    given, quiet, no_orders = store_factory(), store_factory(), store_factory()
    for _ in range(8):
        make_order(given, paid_at=timezone.now() - timedelta(days=3))
    make_order(quiet, paid_at=timezone.now() - timedelta(days=3))
    complaint(given)
    complaint(given, status=ComplaintStatus.UPHELD)
    complaint(given, status=ComplaintStatus.DISMISSED)  # not the seller's fault: not counted
    complaint(given, carrier_desk=True)  # the platform carrier desk's: not counted
    complaint(given, opened_at=timezone.now() - timedelta(days=40))  # before the window
    complaint(no_orders)
    end = timezone.now()

    figures = complaint_score_figures(start=end - timedelta(days=30), end=end)

    assert figures[given.pk]["complaints"] == 2
    assert figures[given.pk]["complaint_rate"] == Decimal("0.2500")
    assert (figures[quiet.pk]["complaints"], figures[quiet.pk]["complaint_rate"]) == (0, Decimal("0.0000"))
    # complaints but no paid order: nothing to divide by, nothing to judge
    assert (figures[no_orders.pk]["complaints"], figures[no_orders.pk]["complaint_rate"]) == (1, None)


def test_service_figures_in_the_database_match_the_rule_arithmetic(store_factory):
    """The same messages through the pure `service_figures` (store by store) and through the grouped query
    give the same two figures: on time, late, by a bot, unanswered, out of session, not judged yet."""
    store, other = store_factory(), store_factory(time_zone="Europe/Paris")
    order, other_order = make_order(store), make_order(other)
    now = datetime(2026, 3, 10, 12, 0, tzinfo=SHANGHAI)
    day = datetime(2026, 3, 9, tzinfo=SHANGHAI)
    message(order, day.replace(hour=9), after=60)  # on time
    message(order, day.replace(hour=10), after=180)  # on time, at the limit
    message(order, day.replace(hour=11), after=181)  # late
    message(order, day.replace(hour=12), after=20, human=False)  # a bot: counts as unanswered (600 s)
    message(order, day.replace(hour=13))  # unanswered: 600 s
    message(order, day.replace(hour=22, minute=59, second=59), after=30)  # last second of the session
    message(order, day.replace(hour=23), after=5000)  # after the session: not counted
    message(order, day.replace(hour=7, minute=59), after=5000)  # before the session: not counted
    message(order, now - timedelta(minutes=2))  # unanswered, but may still be answered: not judged yet
    # 09:30 in Paris is in its session (16:30 in Shanghai); 03:00 in Paris is not (10:00 in Shanghai).
    paris = ZoneInfo("Europe/Paris")
    message(other_order, datetime(2026, 3, 9, 9, 30, tzinfo=paris), after=100)
    message(other_order, datetime(2026, 3, 9, 3, 0, tzinfo=paris), after=5000)

    figures = service_score_figures(start=now - timedelta(days=30), end=now, now=now)

    pure = service_figures_for_store(store=store, days=30, now=now)
    assert figures[store.pk] == {
        "messages_judged": pure.messages,
        "reply_3min_rate": pure.reply_rate,
        "avg_response_seconds": pure.average_response_seconds,
    }
    # 3 of 6 on time; (60 + 180 + 181 + 600 + 600 + 30) / 6 = 275.2 s
    assert figures[store.pk] == {
        "messages_judged": 6,
        "reply_3min_rate": Decimal("0.5000"),
        "avg_response_seconds": Decimal("275.2"),
    }
    pure_paris = service_figures_for_store(store=other, days=30, now=now)
    assert figures[other.pk] == {
        "messages_judged": 1,
        "reply_3min_rate": Decimal("1.0000"),
        "avg_response_seconds": Decimal("100.0"),
    }
    assert (pure_paris.messages, pure_paris.reply_rate) == (1, Decimal("1.0000"))


def test_the_daily_score_takes_the_service_and_complaint_figures(funded_store):
    end_of_yesterday = datetime.combine(timezone.localdate(), datetime.min.time(), tzinfo=SHANGHAI)
    order = make_order(funded_store, paid_at=end_of_yesterday - timedelta(days=2))
    complaint(funded_store, opened_at=end_of_yesterday - timedelta(days=1))
    message(order, (end_of_yesterday - timedelta(days=1)).replace(hour=10), after=30)

    experience_score_check()

    metrics = StoreScore.objects.get(store=funded_store).metrics
    assert {k: metrics[k] for k in ("complaint_rate", "reply_3min_rate", "avg_response_seconds")} == {
        "complaint_rate": "1.0000",
        "reply_3min_rate": "1.0000",
        "avg_response_seconds": "30.0",
    }
