"""The reviewer desk in the admin: the queue, its filters, and the buttons that call the services."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from complaints.models import Complaint, ComplaintEvidence, ComplaintKind, ComplaintStatus
from complaints.services import complaint_assign, complaint_request_info, complaint_seller_reply
from merchants.models import Violation
from merchants.staff import FINANCE
from tests.complaints.factories import PDF_BYTES, jpeg, open_complaint, shipped_order, upload

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:complaints_complaint_changelist"


def action_url(complaint, name):
    return reverse(f"admin:complaints_complaint_{name}", args=[complaint.pk])


def test_the_queue_puts_regulators_first_and_hides_decided(client, reviewer, funded_store):
    now = timezone.now()
    buyer = open_complaint(funded_store, actor=reviewer, now=now - timedelta(hours=3))
    complaint_request_info(complaint=buyer, actor=reviewer, reason="r")
    regulator = open_complaint(funded_store, source="regulator_12315", actor=reviewer, now=now)
    client.force_login(reviewer)
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [regulator, buyer]
    assert list(client.get(reverse(CHANGELIST), {"regulator": "no"}).context["cl"].result_list) == [buyer]


def shown(client, **filters):
    return list(client.get(reverse(CHANGELIST), filters).context["cl"].result_list)


def test_overdue_means_the_reply_deadline_passed_without_a_reply_whatever_the_state(
    client, reviewer, funded_store, owner
):
    from complaints.checks import complaint_reply_deadline_check

    asked = timezone.now() - timedelta(hours=50)
    # given a complaint the 5-minute check moved to review after its deadline passed,
    moved = open_complaint(funded_store, actor=reviewer, now=asked)
    complaint_request_info(complaint=moved, actor=reviewer, reason="r", now=asked)
    complaint_reply_deadline_check(now=timezone.now() - timedelta(hours=1))
    # one still awaiting the seller past its deadline (the check has not run since),
    waiting_overdue = open_complaint(funded_store, actor=reviewer, now=asked)
    complaint_request_info(complaint=waiting_overdue, actor=reviewer, reason="r", now=asked)
    # one the seller answered in time, one still within its deadline, and one never sent to the seller
    answered = open_complaint(funded_store, actor=reviewer)
    complaint_request_info(complaint=answered, actor=reviewer, reason="r")
    complaint_seller_reply(complaint=answered, statement="ours", evidence=[jpeg()], actor=owner)
    in_time = open_complaint(funded_store, actor=reviewer)
    complaint_request_info(complaint=in_time, actor=reviewer, reason="r")
    never_asked = open_complaint(funded_store, actor=reviewer)
    client.force_login(reviewer)

    # then "overdue" lists the two whose deadline passed without a reply, and "waiting" the one in time
    assert Complaint.objects.get(pk=moved.pk).status == ComplaintStatus.UNDER_REVIEW
    assert Complaint.objects.get(pk=waiting_overdue.pk).status == ComplaintStatus.AWAITING_SELLER
    assert {c.pk for c in shown(client, reply="overdue")} == {waiting_overdue.pk, moved.pk}
    assert shown(client, reply="waiting") == [in_time]
    assert never_asked not in shown(client, reply="overdue")
    page = client.get(reverse(CHANGELIST), {"reply": "overdue"}).content.decode()
    assert page.count("(overdue)") == 2


def test_the_assigned_to_me_filter(client, reviewer, funded_store):
    open_complaint(funded_store, actor=reviewer)
    mine = open_complaint(funded_store, actor=reviewer)
    complaint_assign(complaint=mine, assignee=reviewer, actor=reviewer)
    client.force_login(reviewer)
    assert shown(client, assigned="me") == [mine]


def test_the_kind_and_source_filters_show_only_matching_rows(client, reviewer, funded_store):
    # given complaints of different kinds and sources
    buyer_fake = open_complaint(funded_store, kind=ComplaintKind.COUNTERFEIT, source="buyer", actor=reviewer)
    brand_fake = open_complaint(
        funded_store, kind=ComplaintKind.COUNTERFEIT, source="brand_owner", actor=reviewer
    )
    buyer_wrong = open_complaint(
        funded_store, kind=ComplaintKind.NOT_AS_DESCRIBED, source="buyer", actor=reviewer
    )
    hotline_quality = open_complaint(
        funded_store, kind=ComplaintKind.PRODUCT_QUALITY, source="regulator_12315", actor=reviewer
    )
    client.force_login(reviewer)

    # then each filter shows exactly its rows, in queue order (regulator first, then oldest)
    assert shown(client, kind=ComplaintKind.COUNTERFEIT) == [buyer_fake, brand_fake]
    assert shown(client, source="buyer") == [buyer_fake, buyer_wrong]
    assert shown(client, kind=ComplaintKind.COUNTERFEIT, source="buyer") == [buyer_fake]
    assert shown(client, source="regulator_12315") == [hotline_quality]
    assert shown(client, kind=ComplaintKind.LOGISTICS) == []


def test_the_change_page_offers_the_buttons_the_state_allows(client, reviewer, funded_store):
    complaint = open_complaint(funded_store, actor=reviewer)
    client.force_login(reviewer)
    response = client.get(reverse("admin:complaints_complaint_change", args=[complaint.pk]))
    names = [b["name"] for b in response.context["object_action_buttons"]]
    assert names == ["assign_to_me", "request_info", "start_review"]


def test_reviewer_upholds_through_the_button(client, reviewer, funded_store, owner):
    order = shipped_order(funded_store)
    complaint = open_complaint(funded_store, order=order, actor=reviewer)
    complaint_request_info(complaint=complaint, actor=reviewer, reason="Your side?")
    complaint_seller_reply(complaint=complaint, statement="ours", evidence=[jpeg()], actor=owner)
    client.force_login(reviewer)
    evidence = complaint.evidence.get()
    download = client.get(reverse("admin:complaints_complaint_evidence", args=[complaint.pk, evidence.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "image/jpeg"
    assert client.get(action_url(complaint, "uphold")).status_code == 200  # the form; nothing changes
    assert Complaint.objects.get(pk=complaint.pk).status == ComplaintStatus.UNDER_REVIEW
    response = client.post(
        action_url(complaint, "uphold"),
        {
            "reason": "Fake goods: brand's report",
            "refund": "on",
            "refer_to_authorities": "on",
            "compensation": "",
        },
    )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert (complaint.status, complaint.referred_to_authorities, complaint.order_refunded) == (
        ComplaintStatus.UPHELD,
        True,
        True,
    )
    assert complaint.violation.violation_type.code == "counterfeit"


def test_a_refused_button_shows_the_reason_and_changes_nothing(client, reviewer, funded_store):
    complaint = open_complaint(funded_store, kind=ComplaintKind.OTHER, actor=reviewer)
    client.force_login(reviewer)
    client.post(action_url(complaint, "start_review"), {"reason": ""})
    response = client.post(action_url(complaint, "uphold"), {"reason": "x", "refer_to_authorities": "on"})
    assert response.status_code == 200
    assert "Only a counterfeit complaint can be referred to the authorities." in response.content.decode()
    assert Complaint.objects.get(pk=complaint.pk).status == ComplaintStatus.UNDER_REVIEW
    assert Violation.objects.count() == 0


def test_staff_without_the_permission_cannot_decide(client, staff_user, reviewer, funded_store):
    complaint = open_complaint(funded_store, actor=reviewer)
    finance = staff_user(FINANCE)
    client.force_login(finance)
    assert client.post(action_url(complaint, "dismiss"), {"reason": "no"}).status_code == 403
    assert Complaint.objects.get(pk=complaint.pk).status == ComplaintStatus.OPEN


def test_sellers_are_not_let_into_the_admin(client, owner, reviewer, funded_store):
    complaint = open_complaint(funded_store, actor=reviewer)
    client.force_login(owner)
    response = client.post(action_url(complaint, "dismiss"), {"reason": "mine"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert Complaint.objects.get(pk=complaint.pk).status == ComplaintStatus.OPEN


def test_the_queue_page_has_a_fixed_query_count(
    client, reviewer, funded_store, django_assert_max_num_queries, django_assert_num_queries
):
    open_complaint(funded_store, order=shipped_order(funded_store), actor=reviewer)
    client.force_login(reviewer)
    client.get(reverse(CHANGELIST))
    with django_assert_max_num_queries(20) as small:
        client.get(reverse(CHANGELIST))
    for _ in range(10):
        complaint = open_complaint(funded_store, order=shipped_order(funded_store), actor=reviewer)
        complaint_assign(complaint=complaint, assignee=reviewer, actor=reviewer)
    with django_assert_num_queries(len(small.captured_queries)):
        client.get(reverse(CHANGELIST))


def test_a_reviewer_sees_the_evidence_rows_on_the_complaint_page(client, reviewer, funded_store, owner):
    # given a complaint with the complainant's photo and the seller's reply with a PDF
    complaint = open_complaint(funded_store, evidence=[jpeg("buyer-photo.jpg")], actor=reviewer)
    complaint_request_info(complaint=complaint, actor=reviewer, reason="Your side?")
    complaint_seller_reply(
        complaint=complaint,
        statement="ours",
        evidence=[upload("waybill.pdf", PDF_BYTES, "application/pdf")],
        actor=owner,
    )
    buyer_file, seller_file = complaint.evidence.order_by("id")
    assert not reviewer.is_superuser

    # when a compliance reviewer (not a superuser) opens the complaint
    client.force_login(reviewer)
    response = client.get(reverse("admin:complaints_complaint_change", args=[complaint.pk]))

    # then the evidence inline lists both files, each linked to its download
    (evidence_inline,) = [
        f for f in response.context["inline_admin_formsets"] if f.opts.model is ComplaintEvidence
    ]
    assert [form.original for form in evidence_inline] == [buyer_file, seller_file]
    page = response.content.decode()
    for evidence, name in ((buyer_file, "buyer-photo.jpg"), (seller_file, "waybill.pdf")):
        url = reverse("admin:complaints_complaint_evidence", args=[complaint.pk, evidence.pk])
        assert f'<a href="{url}">{name}</a>' in page
    assert client.get(url).status_code == 200


def test_existing_reviewer_groups_get_the_evidence_permission_on_migrate(staff_user):
    from django.contrib.auth.models import Group, Permission

    from merchants.staff import COMPLIANCE_REVIEWER, ensure_staff_groups

    # given a reviewer group from before the permission was listed
    group = Group.objects.get(name=COMPLIANCE_REVIEWER)
    permission = Permission.objects.get(
        content_type__app_label="complaints", codename="view_complaintevidence"
    )
    group.permissions.remove(permission)

    # when migrate runs its post_migrate hook
    ensure_staff_groups()

    # then the group has it again, and its reviewers with it
    assert group.permissions.filter(pk=permission.pk).exists()
    assert staff_user(COMPLIANCE_REVIEWER).has_perm("complaints.view_complaintevidence")


def test_upholding_on_a_completed_order_tells_the_reviewer_the_refund_came_from_the_deposit(
    client, reviewer, funded_store
):
    from tests.complaints.factories import completed_order

    # given a complaint under review about a completed ¥100 order
    order = completed_order(funded_store)
    complaint = open_complaint(funded_store, kind=ComplaintKind.OTHER, order=order, actor=reviewer)
    client.force_login(reviewer)
    client.post(action_url(complaint, "start_review"), {"reason": ""})

    # when the reviewer upholds it with a refund
    response = client.post(
        action_url(complaint, "uphold"), {"reason": "Broken on arrival", "refund": "on"}, follow=True
    )

    # then the page says the order could not be refunded and the deposit paid the buyer instead
    shown = [str(m) for m in response.context["messages"]]
    assert shown == [
        f"Complaint #{complaint.pk} is under review.",
        f"Complaint #{complaint.pk} upheld. Violation recorded.",
        f"Order {order.order_no} is completed and can no longer be refunded: the buyer's ¥100.00 were paid "
        "from the store's deposit as consumer compensation instead.",
    ]


def test_upholding_on_an_unshipped_order_tells_the_reviewer_nothing_was_refunded(
    client, reviewer, funded_store
):
    from tests.orders.factories import make_order

    order = make_order(funded_store)
    complaint = open_complaint(funded_store, kind=ComplaintKind.OTHER, order=order, actor=reviewer)
    client.force_login(reviewer)
    client.post(action_url(complaint, "start_review"), {"reason": ""})

    response = client.post(
        action_url(complaint, "uphold"), {"reason": "Never sent", "refund": "on"}, follow=True
    )

    assert [str(m) for m in response.context["messages"]][2:] == [
        f"Order {order.order_no} is awaiting dispatch: it was not refunded."
    ]


# --- Opening a complaint in the admin (a regulator's or brand owner's) -------------------------------

ADD = "admin:complaints_complaint_add"


def test_a_reviewer_opens_a_12315_complaint_through_the_service(client, reviewer, funded_store, media_files):
    from complaints.models import ComplaintEvent, Notification

    # given an order of the store and the hotline's transfer with a photo
    order = shipped_order(funded_store)
    client.force_login(reviewer)
    assert client.get(reverse(ADD)).status_code == 200

    # when the reviewer adds the complaint
    response = client.post(
        reverse(ADD),
        {
            "store": funded_store.pk,
            "kind": ComplaintKind.NOT_AS_DESCRIBED,
            "sub_kind": "missing_parts",
            "source": "regulator_12315",
            "order": order.pk,
            "buyer_statement": "12315 transfer: the box arrived empty.",
            "evidence": [jpeg("hotline.jpg")],
        },
    )

    # then it is opened by complaint_open: a regulator complaint with its event, evidence and notification
    complaint = Complaint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:complaints_complaint_change", args=[complaint.pk])
    assert (complaint.status, complaint.from_regulator, complaint.order, complaint.opened_by) == (
        ComplaintStatus.OPEN,
        True,
        order,
        reviewer,
    )
    assert list(ComplaintEvent.objects.values_list("kind", "actor")) == [("opened", reviewer.pk)]
    assert list(complaint.evidence.values_list("party", "original_name")) == [("complainant", "hotline.jpg")]
    assert len(media_files()) == 1
    assert Notification.objects.get(store=funded_store).kind == "complaint_opened"


def test_adding_a_complaint_about_another_stores_order_is_refused_and_stores_nothing(
    client, reviewer, funded_store, other_store, media_files
):
    order = shipped_order(other_store)
    client.force_login(reviewer)

    response = client.post(
        reverse(ADD),
        {
            "store": funded_store.pk,
            "kind": ComplaintKind.COUNTERFEIT,
            "source": "brand_owner",
            "order": order.pk,
            "buyer_statement": "The brand's test purchase is fake.",
            "evidence": [jpeg()],
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        f"Order {order} is not an order of store {funded_store.code}."
    ]
    assert Complaint.objects.count() == 0 and media_files() == []


def test_a_not_as_described_complaint_needs_its_sub_kind(client, reviewer, funded_store):
    client.force_login(reviewer)

    response = client.post(
        reverse(ADD),
        {
            "store": funded_store.pk,
            "kind": ComplaintKind.NOT_AS_DESCRIBED,
            "source": "regulator_local_office",
            "buyer_statement": "Wrong goods.",
        },
    )

    assert response.context["adminform"].form.non_field_errors() == [
        "Say what was not as described (a different item, a lower-value item, or missing parts); only a "
        "not-as-described complaint has a sub-kind."
    ]
    assert Complaint.objects.count() == 0


def test_staff_who_may_not_handle_complaints_cannot_add_one(client, staff_user, funded_store):
    client.force_login(staff_user(FINANCE))

    assert client.get(reverse(ADD)).status_code == 403
    assert (
        client.post(
            reverse(ADD),
            {"store": funded_store.pk, "kind": "other", "source": "platform", "buyer_statement": "x"},
        ).status_code
        == 403
    )
    assert Complaint.objects.count() == 0
