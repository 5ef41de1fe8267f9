"""A failed spot check's violation links to the inspection on the violations page; another store's, or an
inspection the seller may not see yet, does not (given / when / then)."""

import pytest
from django.urls import reverse

from merchants.services import violation_record
from tests.inspections.factories import to_at_lab, to_failed
from tests.merchants.factories import ListingFactory, MembershipFactory, StoreFactory

pytestmark = pytest.mark.django_db


def test_a_failed_spot_check_links_to_its_inspection(client, inspection_factory, inspector):
    # given a store whose spot check failed (the violation names the inspection), and violations naming
    # another store's inspection (at the lab: its seller sees it) and this store's one still `selected`
    # (not shown to sellers)
    store = StoreFactory()
    owner = MembershipFactory(store=store, role="owner").user
    failed = to_failed(
        inspection_factory(listing=ListingFactory(store=store, sku="TOWEL-1")), actor=inspector
    )
    strangers = to_at_lab(inspection_factory(listing=ListingFactory(store=StoreFactory())), actor=inspector)
    hidden = inspection_factory(listing=ListingFactory(store=store, sku="TOWEL-2"))
    for inspection, label in ((strangers, "someone else's"), (hidden, "not yet shown")):
        violation_record(
            store=store,
            type_code="spot_check_failed",
            cause_kind="inspection",
            cause_id=str(inspection.pk),
            cause_label=label,
        )
    # when the owner opens the violations page
    client.force_login(owner)
    page = client.get(reverse("violations", args=[store.code])).content.decode()
    # then the failed inspection's cause links to its detail page; the other two are plain text
    url = f"/s/{store.code}/inspections/{failed.pk}/"
    assert url == reverse("inspection-detail", args=[store.code, failed.pk])
    assert f'<a href="{url}">TOWEL-1</a>' in page
    assert f"/inspections/{strangers.pk}/" not in page
    assert f"/inspections/{hidden.pk}/" not in page
    assert "<td>someone else&#x27;s</td>" in page
    assert "<td>not yet shown</td>" in page
