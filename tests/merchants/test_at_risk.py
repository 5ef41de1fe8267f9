"""The reviewers' page of stores at risk: lowest scores, points near a ladder threshold, deposit shortfalls."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from merchants.models import DepositEntry, StoreScore
from merchants.risk import stores_at_risk, stores_near_threshold
from merchants.services import violation_record
from tests.merchants.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "admin:merchants_store_at_risk"


def funded(store, amount="2000.00"):
    store.deposit_account.entries.create(
        kind=DepositEntry.Kind.TOP_UP, amount=Decimal(amount), reason="top-up"
    )
    return store


def score(store, value, *, days_ago=1):
    return StoreScore.objects.create(
        store=store,
        day=timezone.localdate() - timedelta(days=days_ago),
        score=Decimal(value),
        product=Decimal("80"),
        logistics=Decimal("70"),
        service=Decimal("60"),
    )


def violations(store, *type_codes):
    for n, code in enumerate(type_codes):
        violation_record(
            store=store,
            type_code=code,
            cause_kind="manual",
            cause_id=f"risk-{store.pk}-{n}",
            occurred_at=timezone.now(),
        )


@pytest.fixture
def stores(store_factory):
    low, middling, fine = (funded(store_factory()) for _ in range(3))
    score(low, "55.00")
    score(middling, "62.50")
    score(fine, "95.00")
    score(fine, "51.00", days_ago=2)  # an older day: not the latest scores
    near, nearer, far = (funded(store_factory()) for _ in range(3))
    violations(near, "not_as_described", "not_as_described")  # 8 general points: 4 short of 12
    violations(nearer, "not_as_described", "not_as_described", "negative_service")  # 10: 2 short
    violations(far, "negative_service")  # 2: 10 short, beyond the margin
    short = store_factory()  # nothing paid in: short by the whole 2,000
    partly = funded(store_factory(), "1500.00")
    return {
        "low": low,
        "middling": middling,
        "fine": fine,
        "near": near,
        "nearer": nearer,
        "far": far,
        "short": short,
        "partly": partly,
    }


def test_the_lists_are_worst_first_and_leave_out_the_stores_not_at_risk(stores):
    risk = stores_at_risk()

    assert risk.score_day == timezone.localdate() - timedelta(days=1)
    assert [(r.store, r.score) for r in risk.lowest_scores] == [
        (stores["low"], Decimal("55.00")),
        (stores["middling"], Decimal("62.50")),
        (stores["fine"], Decimal("95.00")),
    ]
    assert [(n.store, n.ledger, n.points, n.next_threshold, n.points_left) for n in risk.near_threshold] == [
        (stores["nearer"], "general", 10, 12, 2),
        (stores["near"], "general", 8, 12, 4),
    ]
    assert [(a.store, a.shortfall) for a in risk.shortfalls] == [
        (stores["short"], Decimal("2000.00")),
        (stores["partly"], Decimal("500.00")),
    ]


def test_the_margin_is_the_rule_tables(stores, client, staff_user):
    from merchants.models import RuleParameter

    # given an administrator who narrowed the margin from 6 to 3 points
    RuleParameter.objects.filter(key="at_risk_near_threshold_points").update(value=Decimal("3"))

    # when the page's lists are read
    risk = stores_at_risk()

    # then only the store 2 points short is near; the one 4 short is not; the page says 3
    assert risk.margin == 3
    assert [(n.store, n.points_left) for n in risk.near_threshold] == [(stores["nearer"], 2)]
    client.force_login(staff_user("compliance reviewer"))
    page = client.get(reverse(URL)).content.decode()
    assert "Within 3 points of the next ladder threshold" in page
    assert stores["near"].code not in page.split('id="near-threshold"')[1].split("</table>")[0]


def test_the_lists_are_capped(stores):
    risk = stores_at_risk(limit=1)
    assert [len(risk.lowest_scores), len(risk.near_threshold), len(risk.shortfalls)] == [1, 1, 1]
    year = timezone.localdate().year
    assert [n.store for n in stores_near_threshold(year=year, margin=10)] == [
        stores["nearer"],
        stores["near"],
        stores["far"],
    ]


def test_staff_who_may_view_stores_see_the_page_with_links(client, staff_user, stores):
    client.force_login(staff_user("compliance reviewer"))

    page = client.get(reverse(URL)).content.decode()

    low = stores["low"]
    assert page.index(low.code) < page.index(stores["middling"].code) < page.index(stores["fine"].code)
    assert reverse("admin:merchants_store_change", args=[low.pk]) in page
    assert f"{reverse('admin:merchants_violation_changelist')}?store__id__exact={low.pk}" in page
    assert (
        f"{reverse('admin:merchants_depositaccount_changelist')}?store__id__exact={stores['short'].pk}"
        in page
    )
    assert "2000.00" in page and "500.00" in page
    for link in (
        f"{reverse('admin:merchants_violation_changelist')}?store__id__exact={stores['near'].pk}",
        f"{reverse('admin:merchants_depositaccount_changelist')}?store__id__exact={stores['short'].pk}",
    ):
        assert client.get(link).status_code == 200, link
    assert stores["far"].code not in page
    changelist = client.get(reverse("admin:merchants_store_changelist")).content.decode()
    assert reverse(URL) in changelist


def test_only_staff_with_a_view_permission_on_stores(client, store):
    client.force_login(UserFactory(username="bare-staff", is_staff=True))
    assert client.get(reverse(URL)).status_code == 403
    client.force_login(UserFactory(username="seller"))
    response = client.get(reverse(URL))
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


def test_the_page_costs_a_fixed_number_of_queries(
    client, staff_user, stores, store_factory, django_assert_num_queries
):
    client.force_login(staff_user("finance"))
    client.get(reverse(URL))
    with django_assert_num_queries(AT_RISK_QUERIES):
        client.get(reverse(URL))
    for _ in range(5):
        extra = store_factory()
        score(extra, "58.00")
        violations(extra, "not_as_described", "not_as_described")
    with django_assert_num_queries(AT_RISK_QUERIES):
        assert client.get(reverse(URL)).status_code == 200


# session and user (2), the user's permissions (groups and own: 2), the latest day and its lowest scores
# (2), the rule table's margin, the point totals, the ladder and the stores near it (4), the shortfalls and
# the default deposit (2).
AT_RISK_QUERIES = 12
