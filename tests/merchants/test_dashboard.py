"""The seller dashboard: score and parts, the watched rates with 30/90-day SVG charts from the score history,
and the to-do list with countdowns; scoped to the member's store, at a fixed number of queries."""

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from complaints.models import Complaint, ComplaintKind, ComplaintStatus, Notification
from inspections.models import InspectionStatus
from merchants.dashboard import seller_dashboard, trend_days
from merchants.models import StoreScore
from merchants.services import violation_record
from merchants.todos import duration_text, store_todos
from tests.inspections.factories import InspectionFactory
from tests.merchants.factories import ListingFactory, MembershipFactory
from tests.orders.factories import make_order

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


def yesterday():
    return timezone.localdate(timezone.now(), timezone.get_default_timezone()) - timedelta(days=1)


def fill_history(store, days=90, *, skip=()):
    """One score row a day for `days` days up to yesterday (skipping the days `skip` back), varying."""
    rows = []
    for back in range(days):
        if back in skip:
            continue
        rows.append(
            StoreScore(
                store=store,
                day=yesterday() - timedelta(days=back),
                score=Decimal("80") + back % 10,
                product=Decimal("90.00"),
                logistics=Decimal("85.50"),
                service=Decimal("70.25"),
                deductions=Decimal("3.00") if back == 0 else Decimal("0"),
                paid_orders=120,
                metrics={
                    "late_dispatch_rate": str(Decimal("0.0100") + Decimal(back % 5) / 1000),
                    "valid_tracking_rate": "0.9800",
                    "complaint_rate": "0.0050",
                    "reply_3min_rate": "0.9100",
                    "spot_check_pass_rate": "1.0000",
                },
            )
        )
    StoreScore.objects.bulk_create(rows)


def complaint_awaiting(store, due_in):
    return Complaint.objects.create(
        store=store,
        kind=ComplaintKind.COUNTERFEIT,
        source="buyer",
        buyer_statement="Not the towel in the listing.",
        status=ComplaintStatus.AWAITING_SELLER,
        reply_due_at=timezone.now() + due_in,
    )


def busy_store(store, *, orders=3, now=None):
    """A store with something in every to-do: orders to ship (and one overdue), complaints awaiting a reply,
    a re-test window open and a violation still appealable (it occurred 2 days before `now`)."""
    now = now or timezone.now()
    for i in range(orders):
        make_order(store, paid_at=now - timedelta(hours=10 + i), promise="48h")  # deadlines ahead
    make_order(store, paid_at=now - timedelta(hours=60), promise="48h")  # 12 h overdue
    complaint_awaiting(store, timedelta(hours=5))
    complaint_awaiting(store, timedelta(hours=30))
    complaint_awaiting(store, -timedelta(hours=1))  # deadline passed: no longer a to-do
    InspectionFactory(
        listing=ListingFactory(store=store),
        status=InspectionStatus.FAILED,
        result_at=now - timedelta(days=1),
        retest_deadline=now + timedelta(days=2, hours=3),
    )
    violation_record(
        store=store,
        type_code="negative_service",
        cause_kind="manual",
        cause_id=f"dash-{store.pk}",
        occurred_at=now - timedelta(days=2),
    )
    Notification.objects.bulk_create(
        Notification(
            store=store,
            kind=Notification.Kind.COMPLAINT_OPENED,
            text="New complaint #%(id)s: %(kind)s.",
            params={"id": i, "kind": "counterfeit"},
            created_at=now - timedelta(minutes=i),
            read_at=now if i % 2 else None,
        )
        for i in range(orders * 4)
    )


@pytest.fixture
def seller_client(client, owner):
    client.force_login(owner)
    return client


def charts(page: str) -> dict[str, ET.Element]:
    found = {}
    for svg in re.findall(r"<svg .*?</svg>", page, flags=re.S):
        root = ET.fromstring(svg)
        found[root.get("id")] = root
    return found


def points(root: ET.Element) -> int:
    return sum(len(p.get("points").split()) for p in root.iter(f"{SVG}polyline"))


def test_the_dashboard_shows_the_score_its_parts_and_the_rates_with_30_or_90_day_charts(
    seller_client, funded_store
):
    fill_history(funded_store, skip={3})  # a missing day: a gap in every line
    url = reverse("dashboard", args=[funded_store.code])

    page = seller_client.get(url).content.decode()

    assert "80.00" in page  # yesterday's score
    for part in ("90.00", "85.50", "70.25", "−3.00"):
        assert part in page
    assert "1.0%" in page and "98.0%" in page and "0.5%" in page and "91.0%" in page and "100.0%" in page
    found = charts(page)
    assert set(found) == {
        "chart-score",
        "chart-late_dispatch_rate",
        "chart-valid_tracking_rate",
        "chart-complaint_rate",
        "chart-reply_3min_rate",
        "chart-spot_check_pass_rate",
    }
    assert points(found["chart-score"]) == 29  # 30 days, one missing
    assert len(list(found["chart-score"].iter(f"{SVG}polyline"))) == 2
    assert found["chart-score"].find(f"{SVG}title").text == "Experience score"
    assert '<a href="?days=90">90 days</a>' in page

    page = seller_client.get(url, {"days": "90"}).content.decode()
    assert points(charts(page)["chart-score"]) == 89
    assert '<a href="?days=30">30 days</a>' in page
    # anything but 30 or 90 is 30
    assert points(charts(seller_client.get(url, {"days": "7"}).content.decode())["chart-score"]) == 29


def test_a_store_without_history_shows_empty_charts(seller_client, funded_store):
    page = seller_client.get(reverse("dashboard", args=[funded_store.code])).content.decode()

    assert "No score yet" in page
    found = charts(page)
    assert len(found) == 6 and all(points(root) == 0 for root in found.values())
    assert "Nothing waits for you." in page


def test_the_history_is_the_members_store_only(seller_client, funded_store, store_factory):
    other = store_factory()
    fill_history(other, days=30)
    busy_store(other)

    page = seller_client.get(reverse("dashboard", args=[funded_store.code])).content.decode()

    assert "No score yet" in page and "Nothing waits for you." in page
    assert seller_client.get(reverse("dashboard", args=[other.code])).status_code == 404


def test_the_todos_count_each_kind_with_its_nearest_deadline_and_a_countdown(seller_client, funded_store):
    busy_store(funded_store)
    now = timezone.now()  # after the violation was recorded: its appeal window is open

    todos = {t.key: t for t in store_todos(store=funded_store, now=now)}

    assert {key: todo.count for key, todo in todos.items()} == {
        "orders_overdue": 1,
        "orders_to_ship": 3,
        "complaints_to_answer": 2,
        "retest_windows": 1,
        "appeal_windows": 1,
    }
    assert [t.key for t in store_todos(store=funded_store, now=now)] == [
        "orders_overdue",  # overdue first
        "complaints_to_answer",  # then by the nearest deadline: 5 h
        "orders_to_ship",  # 38 h
        "retest_windows",  # 2 d 3 h
        "appeal_windows",  # 7 d after it was recorded
    ]
    assert todos["orders_overdue"].overdue and todos["orders_overdue"].countdown.startswith("overdue by 12 h")
    assert todos["complaints_to_answer"].countdown in ("due in 5 h", "due in 4 h 59 min")
    assert todos["complaints_to_answer"].due_soon
    assert todos["retest_windows"].countdown in ("due in 2 d 3 h", "due in 2 d 2 h")
    (violation,) = funded_store.violations.all()
    assert todos["appeal_windows"].deadline == violation.created_at + timedelta(days=7)
    page = seller_client.get(reverse("dashboard", args=[funded_store.code])).content.decode()
    assert 'id="todo-orders_to_ship"' in page and "Orders to ship" in page
    assert reverse("order-list", args=[funded_store.code]) + "?status=paid" in page
    assert reverse("violations", args=[funded_store.code]) in page


def test_the_appeal_window_closes_seven_days_after_the_violation_was_recorded(funded_store):
    # given a violation that occurred ten days ago and was recorded two days ago (a complaint decided late)
    now = timezone.now()
    recorded = now - timedelta(days=2)
    violation_record(
        store=funded_store,
        type_code="negative_service",
        cause_kind="manual",
        cause_id="w1",
        occurred_at=now - timedelta(days=10),
        now=recorded,
    )

    # when the owner's to-dos are listed
    (todo,) = store_todos(store=funded_store, now=now, role="owner")

    # then the window closes seven days after it was recorded, and not a moment later
    assert (todo.key, todo.count, todo.deadline) == ("appeal_windows", 1, recorded + timedelta(days=7))
    assert store_todos(store=funded_store, now=recorded + timedelta(days=7), role="owner") == []


def test_after_a_rejection_the_second_window_is_a_todo_until_fifteen_days_after_it(funded_store):
    from complaints.services import appeal_reject, appeal_review_start
    from tests.complaints.factories import file_appeal, record_violation
    from tests.merchants.factories import UserFactory

    # given a violation recorded 6 days ago whose first appeal was rejected 5 days ago
    now = timezone.now()
    reviewer = UserFactory(is_staff=True, is_superuser=True)
    owner = MembershipFactory(store=funded_store, role="owner").user
    violation = record_violation(funded_store, occurred_at=now - timedelta(days=6))
    appeal = file_appeal(violation, owner, now=now - timedelta(days=5, hours=12))
    appeal_review_start(appeal=appeal, actor=reviewer, now=now - timedelta(days=5, hours=6))
    rejected_at = now - timedelta(days=5)
    appeal_reject(appeal=appeal, actor=reviewer, reason="No proof.", now=rejected_at)

    # when the to-dos are listed now, and after the first window would have closed
    (todo,) = store_todos(store=funded_store, now=now, role="owner")
    (later,) = store_todos(store=funded_store, now=now + timedelta(days=9), role="owner")

    # then the second window counts, closing 15 days after the rejection, and then it is gone
    assert (todo.key, todo.count, todo.deadline) == ("appeal_windows", 1, rejected_at + timedelta(days=15))
    assert (later.count, later.deadline) == (1, rejected_at + timedelta(days=15))
    assert store_todos(store=funded_store, now=rejected_at + timedelta(days=15), role="owner") == []


def test_a_role_sees_only_the_todos_it_may_act_on(funded_store):
    busy_store(funded_store)
    now = timezone.now()
    everything = {
        "orders_overdue",
        "orders_to_ship",
        "complaints_to_answer",
        "retest_windows",
        "appeal_windows",
    }
    assert {t.key for t in store_todos(store=funded_store, now=now, role="owner")} == everything
    # only owners appeal: operators and customer service do not see the appeal windows
    for role in ("operator", "customer_service"):
        keys = {t.key for t in store_todos(store=funded_store, now=now, role=role)}
        assert keys == everything - {"appeal_windows"}, role
    # a role unknown to the table sees nothing it needs a capability for
    assert store_todos(store=funded_store, now=now, role="nobody") == []


def test_countdown_wording():
    assert [duration_text(s) for s in (30, 60, 3600, 3660, 47 * 3600, 48 * 3600, 50 * 3600)] == [
        "less than 1 min",
        "1 min",
        "1 h",
        "1 h 1 min",
        "47 h",
        "2 d",
        "2 d 2 h",
    ]


def test_trend_days_accepts_30_or_90_only():
    assert [trend_days(v) for v in (None, "", "30", "90", "7", "abc", "-90")] == [30, 30, 30, 90, 30, 30, 30]


def test_the_dashboard_costs_a_fixed_number_of_queries_with_90_days_of_history(
    client, funded_store, store_factory, django_assert_num_queries
):
    """The same queries for a quiet store and for a busy one with 90 days of history."""
    owner = MembershipFactory(store=funded_store, role="owner").user
    client.force_login(owner)
    fill_history(funded_store)
    busy_store(funded_store, orders=3)
    url = reverse("dashboard", args=[funded_store.code])
    client.get(url)  # the session's first write

    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert client.get(url, {"days": "90"}).status_code == 200

    busy_store_more = store_factory()
    MembershipFactory(store=busy_store_more, role="owner", user=owner)
    fill_history(busy_store_more)
    busy_store(busy_store_more, orders=40)
    other_url = reverse("dashboard", args=[busy_store_more.code])
    client.get(other_url)
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert client.get(other_url, {"days": "90"}).status_code == 200


# session and user (2), membership with its store (1), the store's live restrictions (1), listing counts (1),
# deposit (account, balance, categories, default base deposit: 4), grace hours (1), sanctions (1), rules
# exam (1), the rule table's score numbers (1), score history (1), to-dos (appeal rules and the two windows 3,
# orders 1, complaints 1, inspections 1), notifications (the latest 1, the unread count 1), the base page's
# store switcher (1), the session saved (savepoint, update, release: 3).
DASHBOARD_QUERIES = 26


def test_seller_dashboard_selector_reads_one_history_query(funded_store, django_assert_num_queries):
    fill_history(funded_store)
    # the rule table's score numbers, the history, then the to-do sources (three for the appeal windows)
    with django_assert_num_queries(2 + 6):
        dashboard = seller_dashboard(store=funded_store, role="owner", days=90)
    assert dashboard.score.score == Decimal("80")
    assert (dashboard.start, dashboard.end) == (yesterday() - timedelta(days=89), yesterday())
    assert [r.shown for r in dashboard.rates] == ["1.0%", "98.0%", "0.5%", "91.0%", "100.0%"]


def set_rule(key, value):
    from merchants.models import RuleParameter

    assert RuleParameter.objects.filter(key=key).update(value=Decimal(value)) == 1


def score_figure_class(page: str) -> str:
    return re.search(r'<p class="figure ?([a-z]*)">(\d+\.\d+) <small>on ', page).group(1)


def test_the_colour_bands_of_the_score_are_the_rule_tables(seller_client, funded_store):
    # given yesterday's score of 80, shown neither good nor bad by the seeded bands (90 and 70)
    fill_history(funded_store, days=1)
    url = reverse("dashboard", args=[funded_store.code])
    assert score_figure_class(seller_client.get(url).content.decode()) == ""

    # when an administrator moves the good band down to 80, then the bad band up to 85
    set_rule("score_shown_good_from", "80")
    good = score_figure_class(seller_client.get(url).content.decode())
    set_rule("score_shown_good_from", "95")
    set_rule("score_shown_bad_below", "85")
    bad = score_figure_class(seller_client.get(url).content.decode())

    # then the same score shows good, then bad
    assert (good, bad) == ("good", "bad")


def test_the_chart_range_and_the_texts_follow_the_rule_table(seller_client, funded_store):
    # given a store in its growth stage, and an administrator who moved the floor, growth score and window
    StoreScore.objects.create(
        store=funded_store,
        day=yesterday(),
        score=Decimal("65"),
        product=Decimal("100"),
        logistics=Decimal("100"),
        service=Decimal("100"),
        growth_stage=True,
        paid_orders=4,
    )
    set_rule("score_floor", "40")
    set_rule("score_growth_score", "65")
    set_rule("score_window_days", "28")
    set_rule("score_growth_min_orders", "20")

    # when the seller opens the dashboard
    page = seller_client.get(reverse("dashboard", args=[funded_store.code])).content.decode()

    # then the score chart spans the new floor, and the texts say the new numbers
    chart = charts(page)["chart-score"]
    assert chart.find(f"{SVG}desc").text.startswith("Daily experience score, 40 to 100.")
    assert (
        "Growth stage: 4 paid orders in 28 days, fewer than 20, too few to judge; the score sits at 65."
        in page
    )
    assert (
        charts(page)["chart-late_dispatch_rate"]
        .find(f"{SVG}desc")
        .text.startswith(
            "Share of orders due for dispatch that went out late, over the 28 days before each day."
        )
    )


def test_no_score_yet_names_the_rule_tables_window(seller_client, funded_store):
    set_rule("score_window_days", "14")
    page = seller_client.get(reverse("dashboard", args=[funded_store.code])).content.decode()
    assert "No score yet: it is computed every night from the 14 days before." in page


def test_a_lowered_floor_can_be_stored(funded_store):
    # given an administrator who lowered the floor below the seeded 50, then a score at the new floor
    set_rule("score_floor", "40")
    row = StoreScore.objects.create(
        store=funded_store,
        day=yesterday(),
        score=Decimal("40"),
        product=Decimal("0"),
        logistics=Decimal("0"),
        service=Decimal("0"),
    )
    assert StoreScore.objects.get(pk=row.pk).score == Decimal("40.00")


def test_the_dashboard_shows_the_stores_notifications_unread_first_and_marks_them_read(
    client, funded_store, store_factory, django_capture_on_commit_callbacks
):
    from complaints.services import (
        complaint_dismiss,
        complaint_open,
        complaint_request_info,
        complaint_start_review,
    )
    from tests.merchants.factories import UserFactory

    # given a new complaint, a request for the seller's reply, and a decision on an earlier one
    reviewer = UserFactory(is_staff=True, is_superuser=True)
    owner = MembershipFactory(store=funded_store, role="owner").user
    now = timezone.now()
    decided = complaint_open(
        store=funded_store,
        kind="other",
        source="buyer",
        statement="Late.",
        actor=reviewer,
        now=now - timedelta(hours=3),
    )
    complaint_start_review(complaint=decided, actor=reviewer, now=now - timedelta(hours=3))
    complaint_dismiss(
        complaint=decided, actor=reviewer, reason="Delivered on time.", now=now - timedelta(hours=2)
    )
    asked = complaint_open(
        store=funded_store,
        kind="counterfeit",
        source="regulator_12315",
        statement="Fake.",
        actor=reviewer,
        now=now - timedelta(hours=1),
    )
    complaint_request_info(
        complaint=asked, actor=reviewer, reason="Send invoices.", now=now - timedelta(minutes=30)
    )
    Notification.objects.filter(
        store=funded_store, created_at__lte=now - timedelta(hours=2, minutes=30)
    ).update(read_at=now - timedelta(hours=2, minutes=30))  # the first complaint's opening was seen already
    # and another store's notification
    other = store_factory()
    complaint_open(store=other, kind="other", source="buyer", statement="Hidden.", actor=reviewer)
    client.force_login(owner)
    url = reverse("dashboard", args=[funded_store.code])

    # when the owner opens the dashboard
    page = client.get(url).content.decode()

    # then the store's notifications show, unread first then newest, with links and the unread count
    (feed,) = client.get(url).context["notice_feeds"]
    assert (feed.key, feed.unread) == ("complaints", 3)
    assert [(n.kind, n.unread) for n in feed.notices] == [
        ("information_requested", True),
        ("complaint_opened", True),
        ("complaint_decided", True),
        ("complaint_opened", False),
    ]
    assert feed.notices[0].message.startswith(f"Complaint #{asked.pk}: the platform asks for your reply by ")
    assert (
        f'<a href="/s/{funded_store.code}/complaints/{asked.pk}/">New complaint #{asked.pk}: counterfeit.</a>'
        in page
    )
    assert "3 unread" in page and "Hidden." not in page
    assert f'action="/s/{funded_store.code}/notifications/read/"' in page

    # when the owner marks them read
    response = client.post(reverse("notifications-read", args=[funded_store.code]))

    # then the dashboard shows them all read, and the other store's stays unread
    assert response.status_code == 302 and response["Location"] == url
    (feed,) = client.get(url).context["notice_feeds"]
    assert feed.unread == 0 and not any(n.unread for n in feed.notices)
    page = client.get(url).content.decode()
    assert "unread" not in page and "/notifications/read/" not in page
    assert Notification.objects.filter(store=other, read_at__isnull=True).count() == 1


def test_the_dashboard_shows_the_latest_ten_notifications_and_counts_every_unread_one(client, funded_store):
    owner = MembershipFactory(store=funded_store, role="customer_service").user
    busy_store(funded_store, orders=5)  # 20 notifications, 10 unread
    client.force_login(owner)

    (feed,) = client.get(reverse("dashboard", args=[funded_store.code])).context["notice_feeds"]

    assert (len(feed.notices), feed.unread) == (10, 10)
    assert all(n.unread for n in feed.notices)
