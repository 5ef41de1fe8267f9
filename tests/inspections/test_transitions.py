"""Every inspection transition, what it does elsewhere, and who may make it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from inspections.models import Inspection, InspectionEvent, InspectionStatus, LabReport
from inspections.services import (
    inspection_cancel,
    inspection_record_fail,
    inspection_record_pass,
    inspection_record_purchase,
    inspection_request_retest,
    inspection_send_to_lab,
)
from merchants.errors import ActionForbidden, DomainError, TransitionRefused
from merchants.models import (
    DepositEntry,
    Listing,
    ListingStatus,
    SettlementEntry,
    Violation,
    ViolationStatus,
)
from merchants.selectors import deposit_balance, point_totals, settlement_position
from tests.inspections.conftest import stored_files
from tests.inspections.factories import (
    LabFactory,
    mystery_order,
    pdf_upload,
    to_at_lab,
    to_failed,
    to_purchased,
)
from tests.merchants.factories import ListingFactory, MembershipFactory, StoreFactory

pytestmark = pytest.mark.django_db


def fresh(inspection) -> Inspection:
    return Inspection.objects.get(pk=inspection.pk)


def events(inspection) -> list[tuple]:
    return list(
        InspectionEvent.objects.filter(inspection=inspection)
        .order_by("id")
        .values_list("kind", "from_status", "to_status", "actor__username")
    )


@pytest.fixture
def inspection(inspection_factory, funded_store):
    return inspection_factory(listing=ListingFactory(store=funded_store))


def snapshot(inspection):
    """Everything a refused step must leave as it was."""
    inspection = fresh(inspection)
    store = inspection.store
    year = timezone.localdate().year
    return (
        inspection.status,
        inspection.updated_at,
        InspectionEvent.objects.filter(inspection=inspection).count(),
        LabReport.objects.count(),
        Listing.objects.get(pk=inspection.listing_id).status,
        Violation.objects.filter(store=store).count(),
        deposit_balance(store=store),
        point_totals(store=store, year=year),
        SettlementEntry.objects.filter(store=store).count(),
    )


# --- Purchase -------------------------------------------------------------------------------------


def test_the_purchase_links_the_mystery_order(inspection, inspector):
    order = mystery_order(inspection.listing, order_no="MYS-1")

    done = inspection_record_purchase(inspection=inspection, order_no=" MYS-1 ", actor=inspector)

    assert (done.status, done.order, done.purchased_at is not None) == (
        InspectionStatus.PURCHASED,
        order,
        True,
    )
    assert events(done) == [("purchased", "selected", "purchased", "inspector")]


@pytest.mark.parametrize("problem", ["unknown", "other_store", "without_the_listing", "used"])
def test_a_purchase_needs_an_order_of_the_store_with_the_listing(
    inspection, inspector, inspection_factory, problem
):
    if problem == "other_store":
        mystery_order(ListingFactory(), order_no="MYS-2")
    elif problem == "without_the_listing":
        mystery_order(ListingFactory(store=inspection.store), order_no="MYS-2")
    elif problem == "used":
        mystery_order(inspection.listing, order_no="MYS-2")
        other = inspection_factory(listing=ListingFactory(store=inspection.store))
        Inspection.objects.filter(pk=other.pk).update(order=inspection.store.orders.get(order_no="MYS-2"))
    before = snapshot(inspection)
    message = {
        "unknown": f"Store {inspection.store.code} has no order MYS-2.",
        "other_store": f"Store {inspection.store.code} has no order MYS-2.",
        "without_the_listing": f"Order MYS-2 does not contain listing {inspection.listing.sku}.",
        "used": "Order MYS-2 is already linked to another inspection.",
    }[problem]

    with pytest.raises(DomainError) as refused:
        inspection_record_purchase(inspection=inspection, order_no="MYS-2", actor=inspector)

    assert refused.value.messages == [message]
    assert snapshot(inspection) == before


# --- Lab ------------------------------------------------------------------------------------------


def test_the_sample_goes_to_an_accredited_lab(inspection, inspector):
    inspection = to_purchased(inspection, actor=inspector)
    lab = LabFactory(accreditation_number="CNAS L0815")

    done = inspection_send_to_lab(inspection=inspection, lab=lab, sample_number="2026-S-001", actor=inspector)

    assert (done.status, done.lab, done.sample_number) == (InspectionStatus.AT_LAB, lab, "2026-S-001")
    assert events(done)[-1] == ("sent_to_lab", "purchased", "at_lab", "inspector")
    assert InspectionEvent.objects.filter(inspection=done).last().data == {
        "lab": "CNAS L0815",
        "sample": "2026-S-001",
    }


def test_a_sample_number_is_used_once_per_lab(inspection, inspector, inspection_factory):
    lab = LabFactory()
    inspection_send_to_lab(
        inspection=to_purchased(inspection, actor=inspector), lab=lab, sample_number="S-1", actor=inspector
    )
    other = to_purchased(inspection_factory(listing=ListingFactory()), actor=inspector)
    before = snapshot(other)

    with pytest.raises(DomainError, match="Sample number S-1 is already used"):
        inspection_send_to_lab(inspection=other, lab=lab, sample_number="S-1", actor=inspector)
    assert snapshot(other) == before


def test_an_inactive_lab_is_refused(inspection, inspector):
    inspection = to_purchased(inspection, actor=inspector)
    before = snapshot(inspection)
    with pytest.raises(DomainError, match="no longer active"):
        inspection_send_to_lab(
            inspection=inspection, lab=LabFactory(is_active=False), sample_number="S-9", actor=inspector
        )
    assert snapshot(inspection) == before


# --- Results --------------------------------------------------------------------------------------


def test_a_pass_changes_nothing_else(inspection, inspector):
    inspection = to_at_lab(inspection, actor=inspector)
    before = snapshot(inspection)

    done = inspection_record_pass(
        inspection=inspection, report=pdf_upload(), notes="All fine", actor=inspector
    )

    assert (done.status, done.result_notes, done.violation, done.retest_deadline) == (
        InspectionStatus.PASSED,
        "All fine",
        None,
        None,
    )
    assert events(done)[-1] == ("passed", "at_lab", "passed", "inspector")
    assert snapshot(done)[4:] == before[4:]  # listing, violations, deposit, points, settlement
    assert LabReport.objects.get().phase == "first"


def test_a_failure_removes_the_listing_deducts_the_deposit_and_records_a_violation(
    inspection, inspector, media_root
):
    store = inspection.store
    year = timezone.localdate().year
    assert deposit_balance(store=store) == Decimal("2000.00")
    inspection = to_at_lab(inspection, actor=inspector)
    now = timezone.make_aware(timezone.datetime(2026, 11, 20, 15, 0))  # a Friday in Shanghai

    done = inspection_record_fail(
        inspection=inspection,
        defects=["material", "labelling", "material"],
        report=pdf_upload("SGS report.pdf"),
        notes="Cotton 62%",
        actor=inspector,
        now=now,
    )

    assert (done.status, done.defects, done.result_at) == (
        InspectionStatus.FAILED,
        ["material", "labelling"],
        now,
    )
    assert done.retest_deadline == timezone.make_aware(timezone.datetime(2026, 11, 26, 0, 0))  # Mon–Wed
    listing = Listing.objects.get(pk=done.listing_id)
    assert listing.status == ListingStatus.REMOVED
    assert listing.removal_reason == f"Failed spot check: inspection {done.pk}, material, labelling"
    assert done.listing_removal == listing.events.get(kind="removed")
    violation = Violation.objects.get(store=store)
    assert (violation, violation.violation_type.code, violation.cause_kind, violation.cause_id) == (
        done.violation,
        "spot_check_failed",
        "inspection",
        str(done.pk),
    )
    assert (violation.points, violation.occurred_at, violation.status) == (6, now, ViolationStatus.ACTIVE)
    assert deposit_balance(store=store) == Decimal("0.00")
    assert point_totals(store=store, year=year) == {"general": 6, "serious": 0}
    assert events(done)[-1] == ("failed", "at_lab", "failed", "inspector")
    report = LabReport.objects.get()
    assert (report.phase, report.content_type, report.original_name, report.uploaded_by) == (
        "first",
        "application/pdf",
        "SGS_report.pdf",
        inspector,
    )
    assert stored_files(media_root) == [report.file.name]
    assert report.file.name.startswith("inspections/reports/") and report.file.name.endswith(".pdf")


def test_a_failure_needs_defects(inspection, inspector):
    inspection = to_at_lab(inspection, actor=inspector)
    before = snapshot(inspection)
    with pytest.raises(DomainError, match="at least one defect"):
        inspection_record_fail(inspection=inspection, defects=[], report=pdf_upload(), actor=inspector)
    with pytest.raises(DomainError, match="Unknown defects: colour"):
        inspection_record_fail(
            inspection=inspection, defects=["colour"], report=pdf_upload(), actor=inspector
        )
    assert snapshot(inspection) == before


@pytest.mark.parametrize("step", ["purchase", "send_to_lab", "pass", "fail", "cancel"])
def test_every_step_needs_its_permission(inspection, reviewer, inspector, step):
    if step == "send_to_lab":
        inspection = to_purchased(inspection, actor=inspector)
    elif step in ("pass", "fail"):
        inspection = to_at_lab(inspection, actor=inspector)
    if step == "purchase":
        mystery_order(inspection.listing, order_no="MYS-P")
    before = snapshot(inspection)
    call = {
        "purchase": lambda: inspection_record_purchase(
            inspection=inspection, order_no="MYS-P", actor=reviewer
        ),
        "send_to_lab": lambda: inspection_send_to_lab(
            inspection=inspection, lab=LabFactory(), sample_number="S-P", actor=reviewer
        ),
        "pass": lambda: inspection_record_pass(inspection=inspection, actor=reviewer),
        "fail": lambda: inspection_record_fail(
            inspection=inspection, defects=["function"], report=pdf_upload(), actor=reviewer
        ),
        "cancel": lambda: inspection_cancel(inspection=inspection, reason="no", actor=reviewer),
    }[step]

    with pytest.raises(ActionForbidden):
        call()
    assert snapshot(inspection) == before


@pytest.mark.parametrize("step", ["pass_retest", "fail_retest"])
def test_a_retest_result_needs_its_permission(inspection, reviewer, inspector, owner, step):
    # given a re-test the owner asked for in the window
    inspection = failed_on_friday(inspection, inspector)
    inspection = inspection_request_retest(
        inspection=inspection, actor=owner, now=timezone.make_aware(timezone.datetime(2026, 11, 23, 10))
    )
    before = snapshot(inspection)
    reports_before = stored_files(settings.MEDIA_ROOT)
    call = {
        "pass_retest": lambda: inspection_record_pass(
            inspection=inspection, report=pdf_upload(), actor=reviewer
        ),
        "fail_retest": lambda: inspection_record_fail(
            inspection=inspection, defects=["function"], report=pdf_upload(), actor=reviewer
        ),
    }[step]

    # when a reviewer without record_result records the re-test's result
    with pytest.raises(ActionForbidden):
        call()

    # then nothing changed: state, events, reports and their files, listing, violation, ledgers
    assert snapshot(inspection) == before
    assert stored_files(settings.MEDIA_ROOT) == reports_before
    assert Violation.objects.get(pk=fresh(inspection).violation_id).status == ViolationStatus.ACTIVE


def test_a_purchase_out_of_turn_is_refused_and_changes_nothing(inspection, inspector):
    # given an inspection already purchased, and a second order of the listing
    inspection = to_purchased(inspection, actor=inspector)
    first_order = fresh(inspection).order
    mystery_order(inspection.listing, order_no="MYS-AGAIN")
    before = snapshot(inspection)

    # when its purchase is recorded again
    with pytest.raises(TransitionRefused) as refused:
        inspection_record_purchase(inspection=inspection, order_no="MYS-AGAIN", actor=inspector)

    # then it is refused and the first order stays linked
    assert refused.value.messages == [
        f"Inspection {inspection.pk} is purchased: its purchase cannot be recorded now."
    ]
    assert snapshot(inspection) == before
    assert fresh(inspection).order == first_order
    assert Inspection.objects.filter(order__order_no="MYS-AGAIN").exists() is False


@pytest.mark.parametrize("step", ["send_to_lab", "pass", "fail", "retest"])
def test_a_step_out_of_turn_is_refused(inspection, inspector, owner, step):
    before = snapshot(inspection)
    call = {
        "send_to_lab": lambda: inspection_send_to_lab(
            inspection=inspection, lab=LabFactory(), sample_number="S-T", actor=inspector
        ),
        "pass": lambda: inspection_record_pass(inspection=inspection, actor=inspector),
        "fail": lambda: inspection_record_fail(
            inspection=inspection, defects=["function"], report=pdf_upload(), actor=inspector
        ),
        "retest": lambda: inspection_request_retest(inspection=inspection, actor=owner),
    }[step]
    with pytest.raises(TransitionRefused):
        call()
    assert snapshot(inspection) == before


def test_cancel_before_the_result(inspection, inspector):
    inspection = to_purchased(inspection, actor=inspector)
    done = inspection_cancel(inspection=inspection, reason="Store closed", actor=inspector)
    assert (done.status, done.cancel_reason) == (InspectionStatus.CANCELLED, "Store closed")
    assert events(done)[-1] == ("cancelled", "purchased", "cancelled", "inspector")


def test_cancel_at_the_lab(inspection, inspector):
    # given a sample at the lab
    inspection = to_at_lab(inspection, actor=inspector)
    before = snapshot(inspection)

    # when the inspector cancels it
    done = inspection_cancel(inspection=inspection, reason="Lab lost the sample", actor=inspector)

    # then it is cancelled with its reason and one event, and nothing else changed
    assert (done.status, done.cancel_reason) == (InspectionStatus.CANCELLED, "Lab lost the sample")
    assert events(done)[-1] == ("cancelled", "at_lab", "cancelled", "inspector")
    assert snapshot(done)[2] == before[2] + 1
    assert snapshot(done)[3:] == before[3:]


def test_a_result_cannot_be_cancelled(inspection, inspector):
    inspection = to_failed(inspection, actor=inspector)
    before = snapshot(inspection)
    with pytest.raises(TransitionRefused, match="can no longer be cancelled"):
        inspection_cancel(inspection=inspection, reason="oops", actor=inspector)
    assert snapshot(inspection) == before


# --- Re-test --------------------------------------------------------------------------------------


def failed_on_friday(inspection, inspector):
    friday = timezone.make_aware(timezone.datetime(2026, 11, 20, 15, 0))
    return to_failed(inspection, actor=inspector, now=friday)


def test_the_owner_requests_a_retest_within_the_window_and_pays_the_fee(inspection, inspector, owner):
    inspection = failed_on_friday(inspection, inspector)
    last_moment = timezone.make_aware(timezone.datetime(2026, 11, 25, 23, 59, 59))  # Wednesday

    done = inspection_request_retest(inspection=inspection, actor=owner, now=last_moment)

    assert (done.status, done.retest_fee, done.retest_requested_by, done.retest_requested_at) == (
        InspectionStatus.RETEST_REQUESTED,
        Decimal("500.00"),
        owner,
        last_moment,
    )
    fee = SettlementEntry.objects.get(store=done.store)
    assert (fee.kind, fee.amount, fee.cause_key) == (
        "fee_charge",
        Decimal("-500.00"),
        f"inspection:{done.pk}:retest-fee",
    )
    assert settlement_position(store=done.store).available == Decimal("-500.00")  # fee arrears until paid
    assert events(done)[-1] == ("retest_requested", "failed", "retest_requested", owner.username)


def test_a_retest_after_the_third_working_day_is_refused(inspection, inspector, owner):
    inspection = failed_on_friday(inspection, inspector)
    before = snapshot(inspection)
    thursday = timezone.make_aware(timezone.datetime(2026, 11, 26, 0, 0))

    with pytest.raises(DomainError) as refused:
        inspection_request_retest(inspection=inspection, actor=owner, now=thursday)

    assert refused.value.messages == ["The re-test window closed on 2026-11-26 00:00."]
    assert snapshot(inspection) == before


@pytest.mark.parametrize("who", ["operator", "customer_service", "other_owner", "inspector"])
def test_only_the_owner_may_request_a_retest(inspection, inspector, who):
    inspection = failed_on_friday(inspection, inspector)
    if who == "inspector":
        actor = inspector
    elif who == "other_owner":
        actor = MembershipFactory(store=StoreFactory(), role="owner").user
    else:
        actor = MembershipFactory(store=inspection.store, role=who).user
    before = snapshot(inspection)

    with pytest.raises(ActionForbidden, match="Only the store's owner may request a re-test."):
        inspection_request_retest(
            inspection=inspection, actor=actor, now=timezone.make_aware(timezone.datetime(2026, 11, 23, 9))
        )
    assert snapshot(inspection) == before


def test_a_passed_retest_reverses_the_failure_exactly(inspection, inspector, owner):
    store = inspection.store
    year = 2026
    balance_before, points_before = deposit_balance(store=store), point_totals(store=store, year=year)
    inspection = failed_on_friday(inspection, inspector)
    assert (deposit_balance(store=store), point_totals(store=store, year=year)) == (
        balance_before - Decimal("2000.00"),
        {"general": 6, "serious": 0},
    )
    monday = timezone.make_aware(timezone.datetime(2026, 11, 23, 10, 0))
    inspection = inspection_request_retest(inspection=inspection, actor=owner, now=monday)

    done = inspection_record_pass(
        inspection=inspection,
        report=pdf_upload("retest.pdf"),
        notes="Re-test fine",
        actor=inspector,
        now=monday,
    )

    assert (done.status, done.overturned, done.retest_notes) == (
        InspectionStatus.PASSED,
        True,
        "Re-test fine",
    )
    assert deposit_balance(store=store) == balance_before
    assert point_totals(store=store, year=year) == points_before
    assert Violation.objects.get(pk=done.violation_id).status == ViolationStatus.REVOKED
    reversal = DepositEntry.objects.get(account__store=store, kind="reversal")
    assert reversal.amount == Decimal("2000.00")
    assert list(SettlementEntry.objects.filter(store=store).order_by("id").values_list("kind", "amount")) == [
        ("fee_charge", Decimal("-500.00")),
        ("adjustment", Decimal("500.00")),
    ]
    # The removal is undone but nothing is relisted automatically: the listing is back as delisted, and the
    # seller may relist it.
    assert Listing.objects.get(pk=done.listing_id).status == ListingStatus.DELISTED
    assert Listing.objects.get(pk=done.listing_id).events.filter(kind="restored").count() == 1
    assert [e[0] for e in events(done)] == [
        "purchased",
        "sent_to_lab",
        "failed",
        "retest_requested",
        "retest_passed",
    ]
    assert list(LabReport.objects.filter(inspection=done).values_list("phase", flat=True)) == [
        "first",
        "retest",
    ]


def test_a_failed_retest_is_final_and_the_violation_stands(inspection, inspector, owner):
    store = inspection.store
    inspection = failed_on_friday(inspection, inspector)
    inspection = inspection_request_retest(
        inspection=inspection, actor=owner, now=timezone.make_aware(timezone.datetime(2026, 11, 23, 10))
    )

    done = inspection_record_fail(
        inspection=inspection, defects=["material"], report=pdf_upload(), notes="Still 62%", actor=inspector
    )

    assert (done.status, done.retest_defects, done.retest_notes) == (
        InspectionStatus.FAILED_FINAL,
        ["material"],
        "Still 62%",
    )
    assert Violation.objects.get(pk=done.violation_id).status == ViolationStatus.ACTIVE
    assert deposit_balance(store=store) == Decimal("0.00")
    assert SettlementEntry.objects.filter(store=store).count() == 1  # the fee stays charged
    assert Violation.objects.filter(store=store).count() == 1
    assert events(done)[-1] == ("retest_failed", "retest_requested", "failed_final", "inspector")


def test_a_passed_retest_leaves_a_reviewers_earlier_removal_alone(inspection, inspector, owner):
    from merchants.services import listing_remove

    # given a listing a reviewer removed before the lab's failure came in
    inspection = to_at_lab(inspection, actor=inspector)
    listing_remove(listing=inspection.listing, actor=None, reason="Reviewer found a counterfeit logo")
    inspection = inspection_record_fail(
        inspection=inspection,
        defects=["authenticity"],
        report=pdf_upload(),
        actor=inspector,
        now=timezone.make_aware(timezone.datetime(2026, 11, 20, 15, 0)),
    )
    monday = timezone.make_aware(timezone.datetime(2026, 11, 23, 10, 0))
    inspection = inspection_request_retest(inspection=inspection, actor=owner, now=monday)

    # when the re-test passes
    done = inspection_record_pass(inspection=inspection, actor=inspector, now=monday)

    # then the violation is revoked, but the reviewer's removal stands
    assert (done.status, Violation.objects.get(pk=done.violation_id).status) == (
        InspectionStatus.PASSED,
        ViolationStatus.REVOKED,
    )
    listing = Listing.objects.get(pk=done.listing_id)
    assert (listing.status, listing.removal_reason) == (
        ListingStatus.REMOVED,
        "Reviewer found a counterfeit logo",
    )
    assert list(listing.events.order_by("id").values_list("kind", flat=True)) == ["removed"]
    assert "listing_restored" not in InspectionEvent.objects.get(inspection=done, kind="retest_passed").data


def test_a_passed_retest_leaves_a_removal_made_after_the_failure_alone(inspection, inspector, owner):
    from merchants.services import listing_remove, listing_restore

    # given a failure that removed the listing, then a reviewer who restored it and removed it again for
    # another reason while the re-test was pending
    inspection = failed_on_friday(inspection, inspector)
    monday = timezone.make_aware(timezone.datetime(2026, 11, 23, 10, 0))
    inspection = inspection_request_retest(inspection=inspection, actor=owner, now=monday)
    listing_restore(listing=inspection.listing, actor=None, reason="Mistake")
    listing_remove(listing=inspection.listing, actor=None, reason="Brand authorisation expired")

    # when the re-test passes
    done = inspection_record_pass(inspection=inspection, actor=inspector, now=monday)

    # then the later removal stands
    listing = Listing.objects.get(pk=done.listing_id)
    assert (listing.status, listing.removal_reason) == (ListingStatus.REMOVED, "Brand authorisation expired")
    assert list(listing.events.order_by("id").values_list("kind", flat=True)) == [
        "removed",
        "restored",
        "removed",
    ]


def test_a_failure_of_a_listing_already_removed_still_records_the_violation(inspection, inspector):
    from merchants.services import listing_remove

    inspection = to_at_lab(inspection, actor=inspector)
    listing_remove(listing=inspection.listing, actor=None, reason="Reviewer found a counterfeit logo")

    done = inspection_record_fail(
        inspection=inspection, defects=["authenticity"], report=pdf_upload(), actor=inspector
    )

    assert (done.status, done.listing_removal) == (InspectionStatus.FAILED, None)
    assert Listing.objects.get(pk=done.listing_id).removal_reason == "Reviewer found a counterfeit logo"
    assert Violation.objects.filter(store=done.store, cause_kind="inspection").count() == 1


def test_a_failure_just_before_national_day_gets_its_window_after_the_holiday(inspection, inspector, owner):
    # given a failure on Wednesday 30 September 2026, the eve of the National Day week (1-7 October off,
    # Saturday 10 October a make-up working day, in the seeded calendar)
    failed_at = timezone.make_aware(timezone.datetime(2026, 9, 30, 15, 0))

    # when the result is recorded
    done = to_failed(inspection, actor=inspector, now=failed_at)

    # then the 3 working days are 8, 9 and 10 October: the window closes when Saturday 10 October ends,
    # and a request on that Saturday evening is still in time
    assert done.retest_deadline == timezone.make_aware(timezone.datetime(2026, 10, 11, 0, 0))
    saturday_evening = timezone.make_aware(timezone.datetime(2026, 10, 10, 22, 0))
    assert inspection_request_retest(inspection=done, actor=owner, now=saturday_evening).status == (
        InspectionStatus.RETEST_REQUESTED
    )


def test_a_make_up_saturday_counts_as_a_working_day(inspection, inspector):
    from merchants.models import PublicHoliday

    # given a failure on Friday 8 May 2026, the day before the make-up Saturday of the Labour Day break
    assert PublicHoliday.objects.get(day=timezone.datetime(2026, 5, 9).date()).kind == "working_day"

    # when the result is recorded
    done = to_failed(inspection, actor=inspector, now=timezone.make_aware(timezone.datetime(2026, 5, 8, 15)))

    # then Saturday 9, Monday 11 and Tuesday 12 May are the 3 working days (not Monday to Wednesday)
    assert done.retest_deadline == timezone.make_aware(timezone.datetime(2026, 5, 13, 0, 0))


def test_a_holiday_entered_in_the_calendar_moves_the_window(inspection, inspector):
    from merchants.models import PublicHoliday

    # given an administrator who enters Monday 23 November 2026 as a day off
    PublicHoliday.objects.create(day=timezone.datetime(2026, 11, 23).date(), kind="day_off", name="test day")

    # when a failure is recorded on Friday 20 November
    done = failed_on_friday(inspection, inspector)

    # then the window runs Tuesday to Thursday
    assert done.retest_deadline == timezone.make_aware(timezone.datetime(2026, 11, 27, 0, 0))


def test_the_window_end_is_in_the_store_time_zone(inspection_factory, inspector):
    store = StoreFactory(time_zone="Europe/London")
    inspection = inspection_factory(listing=ListingFactory(store=store))
    # Friday 23:30 in London is Saturday in Shanghai; the store's day decides.
    friday_night = timezone.datetime(2026, 11, 20, 23, 30, tzinfo=timezone.get_fixed_timezone(0))

    done = to_failed(inspection, actor=inspector, now=friday_night)

    assert done.retest_deadline == timezone.datetime(
        2026, 11, 26, 0, 0, tzinfo=timezone.get_fixed_timezone(0)
    )
    assert done.retest_deadline - friday_night == timedelta(days=5, minutes=30)
