"""Complaint workflows through the services: the round trip of each kind, the queue, the carrier desk, the
permission matrix, and refusals that change nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from complaints.models import (
    Complaint,
    ComplaintEvent,
    ComplaintKind,
    ComplaintStatus,
    NotAsDescribed,
    Notification,
)
from complaints.selectors import complaint_queue, notifications_for
from complaints.services import (
    VIOLATION_TYPE_FOR_KIND,
    complaint_assign,
    complaint_dismiss,
    complaint_request_info,
    complaint_seller_reply,
    complaint_start_review,
    complaint_uphold,
)
from merchants.errors import ActionForbidden, DomainError, TransitionRefused
from merchants.models import DepositEntry, PointEntry, Violation
from merchants.selectors import deposit_balance, point_totals
from orders.models import Fulfilment, OrderStatus
from tests.complaints.factories import jpeg, open_complaint, shipped_order
from tests.merchants.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def events(complaint):
    return list(
        ComplaintEvent.objects.filter(complaint=complaint).values_list("kind", "from_status", "to_status")
    )


# What an upheld complaint about a shipped order of ¥100 costs a store with a ¥2,000 deposit, by kind (and
# sub-kind): the violation type, the points on each ledger, and each deposit entry of the violation. From the
# seeded rule table: counterfeit 12 serious points and a ¥10,000 deduction; not as described (every sub-kind is
# a fraudulent dispatch, RULES §4) 4 general points and 30% compensation (min 10, max 500); false dispatch 2
# points and 25% (min 5, max 100); customer service 2 points; the others a reviewer's manual violation.
ROUND_TRIPS = [
    (ComplaintKind.COUNTERFEIT, "", "counterfeit", (0, 12), [("deduction", "-10000.00")]),
    (
        ComplaintKind.NOT_AS_DESCRIBED,
        "different_item",
        "not_as_described",
        (4, 0),
        [("compensation", "-30.00")],
    ),
    (ComplaintKind.NOT_AS_DESCRIBED, "lower_value", "not_as_described", (4, 0), [("compensation", "-30.00")]),
    (
        ComplaintKind.NOT_AS_DESCRIBED,
        "missing_parts",
        "not_as_described",
        (4, 0),
        [("compensation", "-30.00")],
    ),
    (ComplaintKind.FALSE_DISPATCH, "", "false_dispatch", (2, 0), [("compensation", "-25.00")]),
    (ComplaintKind.LOGISTICS, "", "manual", (0, 0), []),
    (ComplaintKind.CUSTOMER_SERVICE, "", "negative_service", (2, 0), []),
    (ComplaintKind.PRODUCT_QUALITY, "", "manual", (0, 0), []),
    (ComplaintKind.OTHER, "", "manual", (0, 0), []),
]


def test_every_kind_and_sub_kind_has_a_round_trip():
    assert {kind for kind, *_rest in ROUND_TRIPS} == set(ComplaintKind.values)
    assert {sub for kind, sub, *_rest in ROUND_TRIPS if kind == ComplaintKind.NOT_AS_DESCRIBED} == set(
        NotAsDescribed.values
    )


@pytest.mark.parametrize(("kind", "sub_kind", "type_code", "points", "entries"), ROUND_TRIPS)
def test_round_trip_for_each_kind(
    kind,
    sub_kind,
    type_code,
    points,
    entries,
    funded_store,
    owner,
    cs_user,
    reviewer,
    django_capture_on_commit_callbacks,
):
    # given a shipped ¥100 order of a store holding ¥2,000, and its owner's e-mail address
    owner.email = "owner@example.com"
    owner.save()
    order = shipped_order(funded_store)
    assert (order.amount_paid, deposit_balance(store=funded_store)) == (Decimal("100.00"), Decimal("2000.00"))

    # when the complaint is opened, asked about, answered by customer service and upheld
    with django_capture_on_commit_callbacks(execute=True):
        complaint = open_complaint(funded_store, kind=kind, sub_kind=sub_kind, order=order, actor=reviewer)
        complaint_assign(complaint=complaint, assignee=reviewer, actor=reviewer)
        complaint_request_info(
            complaint=complaint, actor=reviewer, reason="Please send the waybill and photos."
        )
        complaint_seller_reply(
            complaint=complaint,
            statement="We sent the right item; photos attached.",
            evidence=[jpeg()],
            actor=cs_user,
        )
        complaint = complaint_uphold(complaint=complaint, actor=reviewer, reason="Photos show another item.")

    # then it is upheld with its history, one violation of the kind's type, and the buyer refunded
    complaint.refresh_from_db()
    assert (complaint.status, complaint.sub_kind) == (ComplaintStatus.UPHELD, sub_kind)
    assert (complaint.decided_by, complaint.decision_reason) == (reviewer, "Photos show another item.")
    assert events(complaint) == [
        ("opened", "", "open"),
        ("assigned", "open", "open"),
        ("information_requested", "open", "awaiting_seller"),
        ("seller_replied", "awaiting_seller", "under_review"),
        ("upheld", "under_review", "upheld"),
    ]
    violation = Violation.objects.get(cause_kind="complaint", cause_id=str(complaint.pk))
    assert complaint.violation == violation
    assert violation.violation_type.code == type_code == VIOLATION_TYPE_FOR_KIND[kind]
    assert violation.recorded_by == reviewer
    assert complaint.evidence.get().party == "seller"
    order.refresh_from_db()
    assert (order.status, complaint.order_refunded, complaint.deposit_refund) == (
        OrderStatus.REFUNDED,
        True,
        None,
    )
    # and the points and deposit entries are exactly the rule table's
    assert point_totals(store=funded_store, year=violation.point_year) == {
        "general": points[0],
        "serious": points[1],
    }
    assert sorted(
        (entry.kind, str(entry.amount))
        for entry in DepositEntry.objects.filter(account__store=funded_store).exclude(kind="top_up")
    ) == sorted(entries)
    assert all(
        entry.cause_key.startswith(f"violation:{violation.pk}:")
        for entry in DepositEntry.objects.filter(account__store=funded_store).exclude(kind="top_up")
    )
    assert deposit_balance(store=funded_store) == Decimal("2000.00") + sum(
        (Decimal(amount) for _kind, amount in entries), Decimal("0")
    )
    # and the owner was told at each step, on the dashboard and by e-mail
    assert list(Notification.objects.filter(store=funded_store).values_list("kind", flat=True)) == [
        "complaint_decided",
        "information_requested",
        "complaint_opened",
    ]
    assert [m.subject for m in mail.outbox] == [
        f"[{funded_store.code}] new complaint",
        f"[{funded_store.code}] information requested",
        f"[{funded_store.code}] complaint decided",
    ]
    assert all(m.to == ["owner@example.com"] for m in mail.outbox)


@pytest.mark.parametrize(
    ("amount", "compensation"),
    [("20.00", "10.00"), ("100.00", "30.00"), ("1001.00", "300.00"), ("2000.00", "500.00")],
)
@pytest.mark.parametrize("sub_kind", NotAsDescribed.values)
def test_not_as_described_carries_the_fraudulent_dispatch_compensation(
    sub_kind, amount, compensation, funded_store, reviewer
):
    # given a shipped order of the amount
    order = shipped_order(funded_store, amount=amount)
    complaint = open_complaint(
        funded_store, kind=ComplaintKind.NOT_AS_DESCRIBED, sub_kind=sub_kind, order=order, actor=reviewer
    )
    complaint_start_review(complaint=complaint, actor=reviewer)

    # when the complaint is upheld, with no hand-typed compensation
    complaint = complaint_uphold(complaint=complaint, actor=reviewer, reason="Empty box on the video")

    # then the buyer gets 30% of the amount paid, at least 10 and at most 500, half up to whole yuan
    entry = DepositEntry.objects.get(kind=DepositEntry.Kind.COMPENSATION, account__store=funded_store)
    assert (entry.amount, entry.cause_key) == (
        -Decimal(compensation),
        f"violation:{complaint.violation_id}:compensation",
    )
    assert complaint.compensation is None  # nothing extra


def test_upholding_twice_is_refused_and_records_one_violation(funded_store, reviewer, order):
    complaint = open_complaint(funded_store, order=order, actor=reviewer)
    complaint_start_review(complaint=complaint, actor=reviewer)
    complaint_uphold(complaint=complaint, actor=reviewer, reason="Fake")
    points = PointEntry.objects.count()
    with pytest.raises(TransitionRefused):
        complaint_uphold(complaint=complaint, actor=reviewer, reason="Fake again")
    assert Violation.objects.filter(cause_kind="complaint").count() == 1
    assert PointEntry.objects.count() == points


def test_dismissed_complaint_records_nothing_against_the_store(funded_store, reviewer, order):
    complaint = open_complaint(funded_store, order=order, actor=reviewer)
    complaint_start_review(complaint=complaint, actor=reviewer, reason="Evidence is clear")
    balance = deposit_balance(store=funded_store)
    complaint = complaint_dismiss(
        complaint=complaint, actor=reviewer, reason="The buyer's photos show our item."
    )
    assert complaint.status == ComplaintStatus.DISMISSED
    assert Violation.objects.count() == 0
    assert deposit_balance(store=funded_store) == balance
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert events(complaint)[-1] == ("dismissed", "under_review", "dismissed")


def test_counterfeit_upheld_can_be_referred_and_pays_extra_compensation(funded_store, reviewer, order):
    complaint = open_complaint(funded_store, order=order, source="brand_owner", actor=reviewer)
    complaint_start_review(complaint=complaint, actor=reviewer)
    complaint = complaint_uphold(
        complaint=complaint,
        actor=reviewer,
        reason="Brand owner's lab report",
        compensation=Decimal("300"),
        refer_to_authorities=True,
    )
    assert complaint.referred_to_authorities is True
    # booked as part of what the violation caused, so a revoke gives it back
    entry = DepositEntry.objects.get(cause_key=f"violation:{complaint.violation_id}:complaint-compensation")
    assert (entry.kind, entry.amount) == (DepositEntry.Kind.COMPENSATION, Decimal("-300.00"))
    assert complaint.compensation == Decimal("300.00")


def test_only_counterfeit_can_be_referred(funded_store, reviewer, order, snapshot):
    complaint = open_complaint(funded_store, kind=ComplaintKind.PRODUCT_QUALITY, order=order, actor=reviewer)
    complaint_start_review(complaint=complaint, actor=reviewer)
    before = snapshot(complaint)
    with pytest.raises(DomainError) as refused:
        complaint_uphold(complaint=complaint, actor=reviewer, reason="x", refer_to_authorities=True)
    assert refused.value.messages == ["Only a counterfeit complaint can be referred to the authorities."]
    assert snapshot(complaint) == before
    assert Violation.objects.count() == 0


def test_an_unshipped_order_is_not_refunded_but_the_violation_stands(funded_store, reviewer):
    from tests.orders.factories import make_order

    order = make_order(funded_store)
    complaint = open_complaint(funded_store, kind=ComplaintKind.CUSTOMER_SERVICE, order=order, actor=reviewer)
    complaint_start_review(complaint=complaint, actor=reviewer)
    complaint = complaint_uphold(complaint=complaint, actor=reviewer, reason="Rude reply")
    order.refresh_from_db()
    assert (order.status, complaint.order_refunded, complaint.deposit_refund) == (
        OrderStatus.PAID,
        False,
        None,
    )
    assert complaint.violation.violation_type.code == "negative_service"
    # the decision says why nothing was refunded
    upheld = ComplaintEvent.objects.get(complaint=complaint, kind="upheld")
    assert (upheld.data["refunded"], upheld.data["not_refunded"], upheld.data["deposit_refund"]) == (
        False,
        "paid",
        None,
    )


def test_a_completed_order_is_refunded_from_the_deposit(funded_store, reviewer):
    from tests.complaints.factories import completed_order

    # given a completed ¥100 order: the order itself can no longer be refunded
    order = completed_order(funded_store)
    assert order.status == OrderStatus.COMPLETED
    complaint = open_complaint(
        funded_store,
        kind=ComplaintKind.NOT_AS_DESCRIBED,
        sub_kind="missing_parts",
        order=order,
        actor=reviewer,
    )
    complaint_start_review(complaint=complaint, actor=reviewer)

    # when it is upheld with a refund
    complaint = complaint_uphold(complaint=complaint, actor=reviewer, reason="Half the set missing")

    # then the buyer's ¥100 comes from the deposit beside the ¥30 compensation, both the violation's
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert (complaint.order_refunded, complaint.deposit_refund) == (False, Decimal("100.00"))
    violation = complaint.violation
    assert sorted(
        DepositEntry.objects.filter(account__store=funded_store)
        .exclude(kind="top_up")
        .values_list("kind", "amount", "cause_key")
    ) == [
        ("compensation", Decimal("-100.00"), f"violation:{violation.pk}:complaint-refund"),
        ("compensation", Decimal("-30.00"), f"violation:{violation.pk}:compensation"),
    ]
    assert deposit_balance(store=funded_store) == Decimal("1870.00")
    upheld = ComplaintEvent.objects.get(complaint=complaint, kind="upheld")
    assert (upheld.data["refunded"], upheld.data["deposit_refund"]) == (False, "100.00")


def test_a_completed_order_is_not_refunded_when_the_reviewer_says_no(funded_store, reviewer):
    from tests.complaints.factories import completed_order

    order = completed_order(funded_store)
    complaint = open_complaint(funded_store, kind=ComplaintKind.CUSTOMER_SERVICE, order=order, actor=reviewer)
    complaint_start_review(complaint=complaint, actor=reviewer)

    complaint = complaint_uphold(complaint=complaint, actor=reviewer, reason="Rude reply", refund=False)

    assert (complaint.order_refunded, complaint.deposit_refund) == (False, None)
    assert deposit_balance(store=funded_store) == Decimal("2000.00")


def test_a_completed_orders_buyer_is_refunded_from_the_deposit_once(funded_store, reviewer):
    from tests.complaints.factories import completed_order

    # given a completed ¥100 order already refunded from the deposit for an upheld complaint
    order = completed_order(funded_store)
    first = open_complaint(funded_store, kind=ComplaintKind.CUSTOMER_SERVICE, order=order, actor=reviewer)
    complaint_start_review(complaint=first, actor=reviewer)
    complaint_uphold(complaint=first, actor=reviewer, reason="Rude reply")
    balance = deposit_balance(store=funded_store)
    # and a second complaint about the same order, forwarded by the 12315 hotline
    second = open_complaint(
        funded_store,
        kind=ComplaintKind.PRODUCT_QUALITY,
        source="regulator_12315",
        order=order,
        actor=reviewer,
    )
    complaint_start_review(complaint=second, actor=reviewer)

    # when that one is upheld with a refund too
    second = complaint_uphold(complaint=second, actor=reviewer, reason="Broken on arrival")

    # then its violation stands, but the buyer is not refunded a second time
    assert second.violation is not None
    assert (second.order_refunded, second.deposit_refund) == (False, None)
    assert deposit_balance(store=funded_store) == balance
    upheld = ComplaintEvent.objects.get(complaint=second, kind="upheld")
    assert upheld.data["not_refunded"] == "refunded_from_deposit"


def test_a_completed_order_of_nothing_paid_is_upheld_without_a_refund(funded_store, reviewer):
    from tests.complaints.factories import completed_order

    order = completed_order(funded_store, amount="0.00")
    complaint = open_complaint(funded_store, kind=ComplaintKind.CUSTOMER_SERVICE, order=order, actor=reviewer)
    complaint_start_review(complaint=complaint, actor=reviewer)

    complaint = complaint_uphold(complaint=complaint, actor=reviewer, reason="Rude reply")

    assert (complaint.status, complaint.order_refunded, complaint.deposit_refund) == ("upheld", False, None)


# --- The reviewer queue -----------------------------------------------------------------------------


def test_regulator_complaints_come_first_then_by_deadline(funded_store, reviewer):
    now = timezone.now()
    late_buyer = open_complaint(funded_store, actor=reviewer, now=now - timedelta(hours=5))
    early_buyer = open_complaint(funded_store, actor=reviewer, now=now - timedelta(hours=4))
    complaint_request_info(complaint=early_buyer, actor=reviewer, reason="r", now=now - timedelta(hours=4))
    complaint_request_info(complaint=late_buyer, actor=reviewer, reason="r", now=now - timedelta(hours=1))
    fresh_buyer = open_complaint(funded_store, actor=reviewer, now=now - timedelta(hours=3))
    local_office = open_complaint(funded_store, source="regulator_local_office", actor=reviewer, now=now)
    hotline = open_complaint(
        funded_store, source="regulator_12315", actor=reviewer, now=now - timedelta(hours=2)
    )
    decided = open_complaint(
        funded_store, source="regulator_12315", actor=reviewer, now=now - timedelta(days=1)
    )
    complaint_start_review(complaint=decided, actor=reviewer)
    complaint_dismiss(complaint=decided, actor=reviewer, reason="done")

    assert list(complaint_queue()) == [hotline, local_office, early_buyer, late_buyer, fresh_buyer]
    assert hotline.from_regulator and local_office.from_regulator and not early_buyer.from_regulator


# --- The carrier desk -------------------------------------------------------------------------------


def test_logistics_on_a_platform_shipped_order_goes_to_the_carrier_desk(funded_store, reviewer, snapshot):
    order = shipped_order(funded_store, fulfilment=Fulfilment.PLATFORM)
    complaint = open_complaint(funded_store, kind=ComplaintKind.LOGISTICS, order=order, actor=reviewer)
    assert complaint.carrier_desk is True
    assert Notification.objects.filter(store=funded_store).count() == 0  # the seller is not told
    before = snapshot(complaint)
    with pytest.raises(TransitionRefused) as refused:
        complaint_request_info(complaint=complaint, actor=reviewer, reason="?")
    assert refused.value.messages == [
        f"Complaint #{complaint.pk} is for the platform's carrier desk (a platform-shipped order); the seller is not asked."
    ]
    assert snapshot(complaint) == before
    complaint_start_review(complaint=complaint, actor=reviewer)
    complaint = complaint_uphold(complaint=complaint, actor=reviewer, reason="Carrier lost the parcel")
    assert complaint.violation is None  # the platform shipped it: nothing against the seller
    assert complaint.order_refunded is True
    assert Violation.objects.count() == 0


def test_logistics_on_a_seller_shipped_order_goes_to_the_seller(funded_store, reviewer, order):
    complaint = open_complaint(funded_store, kind=ComplaintKind.LOGISTICS, order=order, actor=reviewer)
    assert complaint.carrier_desk is False
    assert Notification.objects.get(store=funded_store).kind == "complaint_opened"


# --- Permissions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "operator", "customer_service"])
def test_every_store_role_may_reply(role, funded_store, reviewer):
    user = MembershipFactory(store=funded_store, role=role).user
    complaint = open_complaint(funded_store, actor=reviewer)
    complaint_request_info(complaint=complaint, actor=reviewer, reason="Your side?")
    complaint = complaint_seller_reply(complaint=complaint, statement="Genuine, invoice attached", actor=user)
    assert complaint.status == ComplaintStatus.UNDER_REVIEW


def test_a_member_of_another_store_cannot_reply(funded_store, other_store, reviewer, snapshot):
    stranger = MembershipFactory(store=other_store, role="owner").user
    complaint = open_complaint(funded_store, actor=reviewer)
    complaint_request_info(complaint=complaint, actor=reviewer, reason="Your side?")
    before = snapshot(complaint)
    with pytest.raises(ActionForbidden):
        complaint_seller_reply(complaint=complaint, statement="Not ours", evidence=[jpeg()], actor=stranger)
    assert snapshot(complaint) == before


@pytest.mark.parametrize("decide", [complaint_uphold, complaint_dismiss])
def test_sellers_cannot_decide(decide, funded_store, owner, reviewer, snapshot):
    complaint = open_complaint(funded_store, actor=reviewer)
    complaint_start_review(complaint=complaint, actor=reviewer)
    before = snapshot(complaint)
    with pytest.raises(ActionForbidden) as refused:
        decide(complaint=complaint, actor=owner, reason="I decide")
    assert refused.value.messages == [
        "You do not have the permission for this action (complaints.decide_complaint)."
    ]
    assert snapshot(complaint) == before
    assert Violation.objects.count() == 0


def test_sellers_cannot_handle_the_queue(funded_store, owner, reviewer, snapshot):
    complaint = open_complaint(funded_store, actor=reviewer)
    before = snapshot(complaint)
    for attempt in (
        lambda: complaint_request_info(complaint=complaint, actor=owner, reason="x"),
        lambda: complaint_start_review(complaint=complaint, actor=owner),
        lambda: complaint_assign(complaint=complaint, assignee=owner, actor=owner),
        lambda: open_complaint(funded_store, actor=owner),
    ):
        with pytest.raises(ActionForbidden):
            attempt()
    assert snapshot(complaint) == before
    assert Complaint.objects.count() == 1


def test_a_reviewer_cannot_reply_for_the_seller(funded_store, reviewer, snapshot):
    complaint = open_complaint(funded_store, actor=reviewer)
    complaint_request_info(complaint=complaint, actor=reviewer, reason="Your side?")
    before = snapshot(complaint)
    with pytest.raises(ActionForbidden):
        complaint_seller_reply(complaint=complaint, statement="on their behalf", actor=reviewer)
    assert snapshot(complaint) == before


def test_assignment_only_to_reviewers(funded_store, reviewer, snapshot):
    complaint = open_complaint(funded_store, actor=reviewer)
    before = snapshot(complaint)
    with pytest.raises(DomainError) as refused:
        complaint_assign(complaint=complaint, assignee=UserFactory(is_staff=True), actor=reviewer)
    assert refused.value.messages == ["Complaints can be assigned only to reviewers who may handle them."]
    assert snapshot(complaint) == before


# --- Deadlines and guards ---------------------------------------------------------------------------


def test_the_reply_deadline_comes_from_the_rule_table(funded_store, reviewer):
    from merchants.models import RuleParameter

    RuleParameter.objects.filter(key="complaint_reply_hours").update(value=Decimal("72"))
    now = timezone.now()
    complaint = open_complaint(funded_store, actor=reviewer, now=now)
    complaint = complaint_request_info(complaint=complaint, actor=reviewer, reason="r", now=now)
    assert complaint.reply_due_at == now + timedelta(hours=72)


def test_a_reply_after_the_deadline_is_refused_and_review_may_start(funded_store, owner, reviewer, snapshot):
    asked = timezone.now() - timedelta(hours=49)
    complaint = open_complaint(funded_store, actor=reviewer, now=asked)
    complaint_request_info(complaint=complaint, actor=reviewer, reason="Your side?", now=asked)
    before = snapshot(complaint)
    with pytest.raises(TransitionRefused) as refused:
        complaint_seller_reply(complaint=complaint, statement="Late", evidence=[jpeg()], actor=owner)
    assert refused.value.messages[0].startswith("The reply was due by ")
    assert snapshot(complaint) == before
    complaint = complaint_start_review(complaint=complaint, actor=reviewer, reason="No reply in time")
    assert complaint.status == ComplaintStatus.UNDER_REVIEW


def test_review_cannot_start_while_the_seller_still_has_time(funded_store, reviewer, snapshot):
    complaint = open_complaint(funded_store, actor=reviewer)
    complaint_request_info(complaint=complaint, actor=reviewer, reason="Your side?")
    before = snapshot(complaint)
    with pytest.raises(TransitionRefused):
        complaint_start_review(complaint=complaint, actor=reviewer)
    assert snapshot(complaint) == before


def test_not_as_described_needs_its_sub_kind(funded_store, reviewer):
    with pytest.raises(DomainError) as refused:
        open_complaint(funded_store, kind=ComplaintKind.NOT_AS_DESCRIBED, sub_kind="", actor=reviewer)
    assert refused.value.messages == [
        "Say what was not as described: a different item, a lower-value item, or missing parts."
    ]
    assert Complaint.objects.count() == 0


def test_an_order_of_another_store_is_refused(funded_store, other_store, reviewer):
    with pytest.raises(DomainError):
        open_complaint(funded_store, order=shipped_order(other_store), actor=reviewer)
    assert Complaint.objects.count() == 0


# --- Notifications ----------------------------------------------------------------------------------


def test_notifications_for_members_only_unread_first(funded_store, owner, other_store, reviewer):
    first = open_complaint(funded_store, actor=reviewer)
    complaint_request_info(complaint=first, actor=reviewer, reason="r")
    Notification.objects.filter(kind="complaint_opened").update(read_at=timezone.now())
    stranger = MembershipFactory(store=other_store).user
    shown = notifications_for(owner, funded_store)
    assert [n.kind for n in shown] == ["information_requested", "complaint_opened"]
    assert shown[0].message.startswith(f"Complaint #{first.pk}: the platform asks for your reply by ")
    assert notifications_for(stranger, funded_store) == []


def test_refused_action_queues_no_email(funded_store, owner, reviewer, django_capture_on_commit_callbacks):
    owner.email = "owner@example.com"
    owner.save()
    complaint = open_complaint(funded_store, actor=reviewer)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ActionForbidden):
        complaint_uphold(complaint=complaint, actor=owner, reason="x")
    assert callbacks == []
