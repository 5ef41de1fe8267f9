from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inspections.checks import sampling_check
from inspections.models import Inspection, InspectionEvent, InspectionStatus, SamplingRound
from inspections.services import inspection_cancel, sampling_round_draw
from merchants.errors import ActionForbidden, DomainError
from merchants.models import Category, ListingStatus, StoreScore, StoreStatus
from merchants.services import violation_record
from tests.inspections.factories import to_failed
from tests.merchants.factories import ListingFactory, StoreFactory

pytestmark = pytest.mark.django_db


def scored(store, *, complaint_rate, days_ago=1, paid_orders=100):
    """The store's experience-score row of a past day, with the complaint rate it found."""
    return StoreScore.objects.create(
        store=store,
        day=timezone.localdate() - timedelta(days=days_ago),
        score=Decimal("80"),
        product=Decimal("80"),
        logistics=Decimal("80"),
        service=Decimal("80"),
        paid_orders=paid_orders,
        metrics={"complaint_rate": complaint_rate},
    )


def test_a_round_records_why_each_listing_was_drawn(inspector):
    today = timezone.localdate()
    new_store = StoreFactory(opened_on=today - timedelta(days=10))
    food = ListingFactory(store=new_store, category=Category.objects.get(code="food"))
    scored(new_store, days_ago=2, complaint_rate="0.0300")  # an older score: not the one that counts
    scored(new_store, days_ago=1, complaint_rate="0.0125")

    sampling_round = sampling_round_draw(actor=inspector, sample_size=5, seed="fixed")

    inspection = Inspection.objects.get(round=sampling_round)
    assert (inspection.listing, inspection.store, inspection.status, inspection.draw_rank) == (
        food,
        new_store,
        InspectionStatus.SELECTED,
        1,
    )
    assert inspection.weight == Decimal("6.250")
    assert inspection.risk_factors == {
        "store_age_days": 10,
        "complaint_rate": "0.0125",
        "risky_category": True,
        "earlier_failures": 0,
        "contributions": {"base": "1", "new_store": "2", "complaint_rate": "1.25", "risky_category": "2"},
    }
    assert (
        sampling_round.seed,
        sampling_round.sample_size,
        sampling_round.drawn_count,
        sampling_round.candidate_count,
        sampling_round.trigger,
        sampling_round.drawn_by,
    ) == ("fixed", 5, 1, 1, SamplingRound.Trigger.INSPECTOR, inspector)
    assert sampling_round.weights["new_store_days"] == "90"
    assert list(InspectionEvent.objects.filter(inspection=inspection).values_list("kind", "actor")) == [
        ("selected", inspector.pk)
    ]


def test_earlier_failures_of_the_store_raise_its_weight(inspector, inspection_factory):
    store = StoreFactory()
    to_failed(inspection_factory(listing=ListingFactory(store=store)), actor=inspector)
    listing = ListingFactory(store=store)

    sampling_round = sampling_round_draw(actor=inspector, sample_size=1, seed="s")

    inspection = sampling_round.inspections.get()
    assert inspection.listing == listing
    # The failure counts once, as a failure (its violation is no complaint): 1 + 3.
    assert inspection.weight == Decimal("4.000")
    assert inspection.risk_factors["earlier_failures"] == 1
    assert inspection.risk_factors["contributions"] == {"base": "1", "earlier_failures": "3"}


def test_violations_that_are_not_complaints_and_store_size_do_not_weigh(inspector):
    # given a big store with many late-dispatch violations and a low complaint rate, and a small store with
    # a high one
    big, small = StoreFactory(), StoreFactory()
    big_listing, small_listing = ListingFactory(store=big), ListingFactory(store=small)
    for n in range(5):
        violation_record(store=big, type_code="late_dispatch", cause_kind="manual", cause_id=f"late-{n}")
    scored(big, complaint_rate="0.0020", paid_orders=5000)
    scored(small, complaint_rate="0.0400", paid_orders=50)

    # when a round draws both
    sampling_round = sampling_round_draw(actor=inspector, sample_size=2, seed="s")

    # then each weighs by its complaint rate alone
    weights = dict(sampling_round.inspections.values_list("listing", "weight"))
    assert weights == {big_listing.pk: Decimal("1.200"), small_listing.pk: Decimal("5.000")}


def test_the_round_shows_the_complaint_rate_in_why_it_was_drawn(client, inspector):
    store = StoreFactory()
    ListingFactory(store=store)
    scored(store, complaint_rate="0.0125")
    sampling_round = sampling_round_draw(actor=inspector, sample_size=1, seed="s")
    client.force_login(inspector)

    page = client.get(f"/admin/inspections/samplinground/{sampling_round.pk}/change/").content.decode()

    assert "base +1, complaint_rate 1.25% +1.25" in page
    assert sampling_round.weights["per_complaint_point"] == "1"
    assert sampling_round.weights["complaint_rate_cap"] == "0.05"


def test_only_live_listings_of_active_stores_without_an_open_inspection_are_candidates(
    inspector, inspection_factory
):
    live = ListingFactory()
    ListingFactory(status=ListingStatus.DELISTED)
    ListingFactory(status=ListingStatus.DRAFT)
    ListingFactory(store=StoreFactory(status=StoreStatus.SUSPENDED))
    inspection_factory(listing=ListingFactory())  # already selected

    sampling_round = sampling_round_draw(actor=inspector, sample_size=10, seed="s")

    assert list(sampling_round.inspections.values_list("listing", flat=True)) == [live.pk]
    assert sampling_round.candidate_count == 1


def test_the_same_seed_over_the_same_candidates_draws_the_same_listings(inspector):
    for _ in range(30):
        ListingFactory()
    first = sampling_round_draw(actor=inspector, sample_size=7, seed="repeat-me")
    drawn = list(first.inspections.order_by("draw_rank").values_list("listing", "weight"))
    for inspection in first.inspections.all():
        inspection_cancel(inspection=inspection, reason="re-draw check", actor=inspector)

    again = sampling_round_draw(actor=inspector, sample_size=7, seed="repeat-me")

    assert list(again.inspections.order_by("draw_rank").values_list("listing", "weight")) == drawn
    assert again.candidates_digest == first.candidates_digest
    assert (again.candidate_count, again.drawn_count) == (30, 7)


def test_a_person_without_the_permission_draws_nothing(reviewer):
    ListingFactory()
    with pytest.raises(ActionForbidden):
        sampling_round_draw(actor=reviewer, sample_size=1)
    assert (SamplingRound.objects.count(), Inspection.objects.count()) == (0, 0)


@pytest.mark.parametrize("size", [0, 501])
def test_the_sample_size_is_bounded(inspector, size):
    with pytest.raises(DomainError, match="between 1 and 500"):
        sampling_round_draw(actor=inspector, sample_size=size)
    assert SamplingRound.objects.count() == 0


def test_the_largest_sample_is_the_rule_tables(inspector, client):
    from merchants.models import RuleParameter

    # given an administrator who lowered the largest round to 3 listings
    for _ in range(5):
        ListingFactory()
    RuleParameter.objects.filter(key="spot_check_max_sample_size").update(value=Decimal("3"))

    # when an inspector asks for 4, then for 3
    with pytest.raises(DomainError) as refused:
        sampling_round_draw(actor=inspector, sample_size=4)
    drawn = sampling_round_draw(actor=inspector, sample_size=3)

    # then 4 is refused with the new bound, 3 is drawn, and the admin's form says the bound
    assert refused.value.messages == ["The sample size must be between 1 and 3 listings."]
    assert (SamplingRound.objects.count(), drawn.drawn_count) == (1, 3)
    client.force_login(inspector)
    form = client.get("/admin/inspections/samplinground/add/").context["adminform"].form
    assert form.fields["sample_size"].help_text == "At most 3 listings."


def test_the_weekly_check_draws_once_per_week():
    for _ in range(25):
        ListingFactory()
    monday = timezone.make_aware(timezone.datetime(2026, 11, 23, 9, 0))

    first = sampling_check(now=monday)
    second = sampling_check(now=monday + timedelta(days=3))
    next_week = sampling_check(now=monday + timedelta(days=7))

    assert (first.week, first.drawn, first.candidates) == ("weekly:2026-W48", 20, 25)  # the rule table's 20
    assert str(second) == "weekly:2026-W48: already drawn"
    assert (next_week.week, next_week.drawn, next_week.candidates) == ("weekly:2026-W49", 5, 5)
    rounds = SamplingRound.objects.order_by("drawn_at")
    assert [(r.trigger, r.cause_key, r.drawn_by) for r in rounds] == [
        ("schedule", "weekly:2026-W48", None),
        ("schedule", "weekly:2026-W49", None),
    ]


def test_the_inspector_draws_a_round_in_the_admin(client, inspector):
    ListingFactory()
    client.force_login(inspector)
    response = client.get("/admin/inspections/samplinground/add/")
    assert response.status_code == 200
    assert response.context["adminform"].form.initial["sample_size"] == 20

    response = client.post(
        "/admin/inspections/samplinground/add/", {"sample_size": "3", "seed": "", "note": "extra round"}
    )

    sampling_round = SamplingRound.objects.get()
    assert response.status_code == 302
    assert (sampling_round.drawn_by, sampling_round.note, sampling_round.drawn_count) == (
        inspector,
        "extra round",
        1,
    )
    assert len(sampling_round.seed) == 16
    page = client.get(f"/admin/inspections/samplinground/{sampling_round.pk}/change/")
    assert "base +1" in page.content.decode()


def test_a_reviewer_cannot_draw_in_the_admin(client, reviewer):
    client.force_login(reviewer)
    assert client.post("/admin/inspections/samplinground/add/", {"sample_size": "3"}).status_code == 403
    assert SamplingRound.objects.count() == 0
