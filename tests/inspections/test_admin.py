"""The inspectors' admin: a button per step, each calling its service, each permission-checked."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inspections.models import Inspection, InspectionStatus
from inspections.services import inspection_request_retest
from merchants.models import Listing, ListingStatus, Violation
from tests.inspections.factories import (
    PDF_BYTES,
    LabFactory,
    mystery_order,
    to_at_lab,
    to_failed,
    to_purchased,
)
from tests.merchants.factories import ListingFactory

pytestmark = pytest.mark.django_db


def change_url(inspection):
    return f"/admin/inspections/inspection/{inspection.pk}/change/"


def buttons(response) -> list[str]:
    return [b["name"] for b in response.context["object_action_buttons"]]


def test_the_buttons_follow_the_state(client, inspector, inspection_factory):
    client.force_login(inspector)
    inspection = inspection_factory()
    assert buttons(client.get(change_url(inspection))) == ["purchase", "cancel"]
    lab_bound = to_at_lab(inspection_factory(), actor=inspector)
    assert buttons(client.get(change_url(lab_bound))) == ["pass", "fail", "cancel"]
    failed = to_failed(inspection_factory(), actor=inspector)
    assert buttons(client.get(change_url(failed))) == []


def test_the_buttons_when_purchased_and_when_a_retest_is_requested(
    client, inspector, inspection_factory, funded_store, owner
):
    # given one inspection purchased and one whose re-test the owner requested
    purchased = to_purchased(inspection_factory(), actor=inspector)
    retest = inspection_request_retest(
        inspection=to_failed(inspection_factory(listing=ListingFactory(store=funded_store)), actor=inspector),
        actor=owner,
    )
    client.force_login(inspector)

    # when the inspector opens each, then the buttons are the state's next steps
    assert buttons(client.get(change_url(purchased))) == ["send-to-lab", "cancel"]
    assert buttons(client.get(change_url(retest))) == ["pass", "fail"]


def test_a_passed_retest_says_the_listing_is_back_as_delisted(
    client, inspector, inspection_factory, funded_store, owner
):
    # given a failure that removed the listing, and the re-test requested
    inspection = to_failed(inspection_factory(listing=ListingFactory(store=funded_store)), actor=inspector)
    inspection = inspection_request_retest(inspection=inspection, actor=owner)
    client.force_login(inspector)

    # when the inspector records the re-test's pass in the admin
    response = client.post(
        f"/admin/inspections/inspection/{inspection.pk}/pass/", {"notes": "Re-test fine"}, follow=True
    )

    # then the listing is back as delisted, and the message says so
    listing = Listing.objects.get(pk=inspection.listing_id)
    assert listing.status == ListingStatus.DELISTED
    assert [str(m) for m in response.context["messages"]][-1] == (
        f"Inspection {inspection.pk} passed the re-test: violation revoked and re-test fee refunded. "
        f"Listing {listing.sku} is back as delisted: nothing is relisted automatically, the seller relists it."
    )


def test_a_reviewer_sees_no_buttons_and_is_refused(
    client, reviewer, inspector, inspection_factory, staff_user
):
    from django.contrib.auth.models import Permission

    reviewer.user_permissions.add(Permission.objects.get(codename="view_inspection"))
    reviewer = type(reviewer).objects.get(pk=reviewer.pk)
    inspection = to_at_lab(inspection_factory(), actor=inspector)
    client.force_login(reviewer)

    assert buttons(client.get(change_url(inspection))) == []
    response = client.post(
        f"/admin/inspections/inspection/{inspection.pk}/fail/",
        {"defects": ["labelling"], "report": SimpleUploadedFile("r.pdf", PDF_BYTES)},
    )

    assert response.status_code == 403
    assert Inspection.objects.get(pk=inspection.pk).status == InspectionStatus.AT_LAB


def test_the_inspector_walks_an_inspection_through_the_admin(
    client, inspector, inspection_factory, funded_store
):
    inspection = inspection_factory(listing=ListingFactory(store=funded_store))
    order = mystery_order(inspection.listing, order_no="MYS-ADMIN")
    lab = LabFactory(name="Shanghai Textile Lab")
    client.force_login(inspector)

    assert client.get(f"/admin/inspections/inspection/{inspection.pk}/purchase/").status_code == 200
    client.post(f"/admin/inspections/inspection/{inspection.pk}/purchase/", {"order_no": "MYS-ADMIN"})
    client.post(
        f"/admin/inspections/inspection/{inspection.pk}/send-to-lab/",
        {"lab": lab.pk, "sample_number": "T-77"},
    )
    response = client.post(
        f"/admin/inspections/inspection/{inspection.pk}/fail/",
        {
            "defects": ["measurement", "labelling"],
            "report": SimpleUploadedFile("SGS-77.pdf", PDF_BYTES),
            "notes": "70×140 cm on the label, 60×120 cm measured",
        },
        follow=True,
    )

    done = Inspection.objects.get(pk=inspection.pk)
    assert (done.status, done.order, done.lab, done.sample_number, done.defects) == (
        InspectionStatus.FAILED,
        order,
        lab,
        "T-77",
        ["measurement", "labelling"],
    )
    assert Listing.objects.get(pk=done.listing_id).status == ListingStatus.REMOVED
    assert Violation.objects.get(store=funded_store).cause_id == str(done.pk)
    message = [str(m) for m in response.context["messages"]][-1]
    assert message.startswith(f"Inspection {done.pk} failed: listing {done.listing.sku} removed")
    assert "/admin/inspections/labreport/" in response.content.decode()


def test_the_list_loads_its_relations_at_once(
    client, inspector, inspection_factory, django_assert_max_num_queries
):
    for _ in range(5):
        inspection_factory()
    client.force_login(inspector)
    with django_assert_max_num_queries(12):
        response = client.get("/admin/inspections/inspection/?status__exact=selected")
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 5
