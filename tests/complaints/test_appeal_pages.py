"""Appeals on the seller's pages (form, list, detail, evidence) and in the reviewer's admin queue."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from complaints.models import Appeal, AppealEvidence
from complaints.services import appeal_reject, appeal_review_start
from merchants.models import PointEntry, Violation
from merchants.staff import FINANCE
from tests.complaints.factories import HTML_BYTES, JPEG_BYTES, jpeg, upload
from tests.merchants.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def violation(funded_store, violation_factory):
    return violation_factory(funded_store, "lost_contact", occurred_at=timezone.now() - timedelta(days=1))


def create_url(violation):
    return reverse("appeal-create", args=[violation.store.code, violation.pk])


def detail_url(appeal):
    return reverse("appeal-detail", args=[appeal.store.code, appeal.pk])


# --- Seller pages ---------------------------------------------------------------------------------


def test_the_violations_page_offers_the_appeal_to_owners_only(client, owner, funded_store, violation):
    client.force_login(owner)
    page = client.get(reverse("violations", args=[funded_store.code])).content.decode()
    assert f'href="{create_url(violation)}"' in page
    assert f'href="{reverse("appeal-list", args=[funded_store.code])}"' in page  # the navigation
    operator = MembershipFactory(store=funded_store, role="operator").user
    client.force_login(operator)
    page = client.get(reverse("violations", args=[funded_store.code])).content.decode()
    assert create_url(violation) not in page


def test_the_owner_files_an_appeal_with_a_photo(client, owner, funded_store, violation, media_files):
    client.force_login(owner)
    form = client.get(create_url(violation))
    assert form.status_code == 200
    assert "You may appeal until" in form.content.decode()
    response = client.post(
        create_url(violation),
        {"statement": "The buyer never answered: call log attached.", "evidence": [jpeg("call-log.jpg")]},
    )
    appeal = Appeal.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(appeal)
    assert (appeal.number, appeal.statement, appeal.submitted_by) == (
        1,
        "The buyer never answered: call log attached.",
        owner,
    )
    assert Violation.objects.get(pk=violation.pk).status == "appealed"
    detail = client.get(detail_url(appeal))
    content = detail.content.decode()
    evidence = appeal.evidence.get()
    assert reverse("appeal-evidence", args=[funded_store.code, appeal.pk, evidence.pk]) in content
    assert (
        timezone.localtime(appeal.decide_by, ZoneInfo(funded_store.time_zone)).strftime("%Y-%m-%d %H:%M")
        in content
    )
    assert "appeal filed" in content
    download = client.get(reverse("appeal-evidence", args=[funded_store.code, appeal.pk, evidence.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == JPEG_BYTES
    assert download["X-Content-Type-Options"] == "nosniff"
    assert media_files() == [evidence.file.name]


def test_a_refused_upload_shows_the_message_and_stores_nothing(
    client, owner, funded_store, violation, media_files
):
    client.force_login(owner)
    response = client.post(
        create_url(violation),
        {
            "statement": "See the photo",
            "evidence": [upload("photo.jpg", HTML_BYTES, content_type="image/jpeg")],
        },
    )
    assert response.status_code == 400
    assert "“photo.jpg” is a web page (HTML)." in response.content.decode()
    assert (Appeal.objects.count(), AppealEvidence.objects.count(), media_files()) == (0, 0, [])
    assert Violation.objects.get(pk=violation.pk).status == "active"


@pytest.mark.parametrize("name", ["../../static/evil.jpg", "..\\..\\static\\evil.jpg"])
def test_a_path_in_the_file_name_never_reaches_the_disk(
    client, owner, funded_store, violation, media_files, name
):
    """Django's parser keeps only the last part of a / path; a \\ path is refused by name."""
    client.force_login(owner)
    response = client.post(create_url(violation), {"statement": "s", "evidence": [jpeg(name)]})
    files = media_files()
    if response.status_code == 302:
        assert Appeal.objects.get().evidence.get().original_name == "evil.jpg"
        assert len(files) == 1 and files[0].startswith("appeals/") and "static" not in files[0]
    else:
        assert response.status_code == 400
        assert "may not contain folders" in response.content.decode()
        assert (Appeal.objects.count(), files) == (0, [])


@pytest.mark.parametrize("role", ["operator", "customer_service"])
def test_operators_and_customer_service_cannot_open_the_form(client, funded_store, violation, role):
    member = MembershipFactory(store=funded_store, role=role).user
    client.force_login(member)
    assert client.get(create_url(violation)).status_code == 403
    assert client.post(create_url(violation), {"statement": "s", "evidence": [jpeg()]}).status_code == 403
    assert Appeal.objects.count() == 0


def test_another_stores_appeal_violation_and_files_are_404(
    client, owner, funded_store, other_store, violation, appeal_factory, violation_factory
):
    appeal = appeal_factory(violation, owner)
    evidence = appeal.evidence.get()
    stranger = MembershipFactory(store=other_store, role="owner").user
    client.force_login(stranger)
    assert client.get(detail_url(appeal)).status_code == 404
    assert client.get(create_url(violation)).status_code == 404
    assert (
        client.get(reverse("appeal-evidence", args=[funded_store.code, appeal.pk, evidence.pk])).status_code
        == 404
    )
    # Through the stranger's own store code: still not theirs.
    assert client.get(reverse("appeal-detail", args=[other_store.code, appeal.pk])).status_code == 404
    assert client.get(reverse("appeal-create", args=[other_store.code, violation.pk])).status_code == 404
    assert (
        client.get(reverse("appeal-evidence", args=[other_store.code, appeal.pk, evidence.pk])).status_code
        == 404
    )


def test_the_list_costs_the_same_queries_for_1_or_12_appeals(
    client,
    owner,
    funded_store,
    violation_factory,
    appeal_factory,
    django_assert_max_num_queries,
    django_assert_num_queries,
):
    url = reverse("appeal-list", args=[funded_store.code])
    occurred = timezone.now() - timedelta(days=1)
    appeal_factory(violation_factory(funded_store, occurred_at=occurred), owner)
    client.force_login(owner)
    client.get(url)
    with django_assert_max_num_queries(12) as small:
        response = client.get(url)
    assert len(response.context["page"]) == 1
    for _ in range(11):
        appeal_factory(violation_factory(funded_store, occurred_at=occurred), owner)
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert len(response.context["page"]) == 12
    assert list(client.get(url, {"status": "approved"}).context["page"]) == []


def test_the_list_paginates(client, owner, funded_store, violation_factory, appeal_factory):
    occurred = timezone.now() - timedelta(days=1)
    for _ in range(26):
        appeal_factory(violation_factory(funded_store, occurred_at=occurred), owner)
    client.force_login(owner)
    url = reverse("appeal-list", args=[funded_store.code])
    assert len(client.get(url).context["page"]) == 25
    assert len(client.get(url, {"page": 2}).context["page"]) == 1


def test_after_a_rejection_the_detail_offers_the_second_appeal(
    client, owner, reviewer, funded_store, violation, appeal_factory
):
    first = appeal_factory(violation, owner)
    appeal_review_start(appeal=first, actor=reviewer)
    appeal_reject(appeal=first, actor=reviewer, reason="The call log is from another order")
    client.force_login(owner)
    content = client.get(detail_url(first)).content.decode()
    assert "The call log is from another order" in content
    assert 'id="appeal-again"' in content and create_url(violation) in content
    form = client.get(create_url(violation)).content.decode()
    assert "This is the second and last appeal against this violation" in form
    client.post(create_url(violation), {"statement": "Second look, please", "evidence": [jpeg()]})
    second = Appeal.objects.get(number=2)
    content = client.get(detail_url(first)).content.decode()
    assert 'id="appeal-again"' not in content  # the second is open now
    assert second.violation_id == violation.pk
    # A customer-service member sees the appeal, not the button.
    member = MembershipFactory(store=funded_store, role="customer_service").user
    client.force_login(member)
    assert client.get(detail_url(first)).status_code == 200


def test_the_violations_page_offers_the_second_window_after_a_rejection(
    client, owner, reviewer, funded_store, violation, appeal_factory
):
    # given a first appeal rejected after the first window (7 days from the violation) has closed

    first = appeal_factory(violation, owner)
    appeal_review_start(appeal=first, actor=reviewer)
    appeal_reject(appeal=first, actor=reviewer, reason="The call log is from another order")
    Violation.objects.filter(pk=violation.pk).update(created_at=timezone.now() - timedelta(days=10))
    first.refresh_from_db()
    client.force_login(owner)

    # when the owner opens the violations page
    page = client.get(reverse("violations", args=[funded_store.code])).content.decode()

    # then the violation is appealable until 15 days after the rejection, with its button
    closes = timezone.localtime(first.decided_at + timedelta(days=15), ZoneInfo(funded_store.time_zone))
    assert closes.strftime("%Y-%m-%d %H:%M") in page
    assert create_url(violation) in page


# --- Admin queue ----------------------------------------------------------------------------------

CHANGELIST = "admin:complaints_appeal_changelist"


def action_url(appeal, name):
    return reverse(f"admin:complaints_appeal_{name}", args=[appeal.pk])


def test_the_queue_is_sorted_by_deadline_overdue_first_and_filters(
    client, reviewer, owner, funded_store, violation_factory, appeal_factory
):
    now = timezone.now()
    late = appeal_factory(
        violation_factory(funded_store, occurred_at=now - timedelta(days=12)),
        owner,
        now=now - timedelta(days=10),
    )
    fresh = appeal_factory(violation_factory(funded_store, occurred_at=now - timedelta(days=1)), owner)
    done = appeal_factory(violation_factory(funded_store, occurred_at=now - timedelta(days=1)), owner)
    appeal_review_start(appeal=done, actor=reviewer)
    appeal_reject(appeal=done, actor=reviewer, reason="r")
    client.force_login(reviewer)
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [late, fresh]
    content = response.content.decode()
    assert "overdue" in content
    assert list(client.get(reverse(CHANGELIST), {"deadline": "overdue"}).context["cl"].result_list) == [late]
    assert list(client.get(reverse(CHANGELIST), {"work": "decided"}).context["cl"].result_list) == [done]
    assert list(
        client.get(reverse(CHANGELIST), {"work": "all", "number": "1"}).context["cl"].result_list
    ) == [
        late,
        fresh,
        done,
    ]
    assert client.get(reverse(CHANGELIST), {"status": "submitted"}).status_code == 200


def test_the_change_page_shows_the_violation_evidence_and_the_buttons(
    client, reviewer, owner, funded_store, violation, appeal_factory
):
    appeal = appeal_factory(violation, owner)
    client.force_login(reviewer)
    response = client.get(reverse("admin:complaints_appeal_change", args=[appeal.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert [b["name"] for b in response.context["object_action_buttons"]] == ["start_review"]
    assert "points: 2 (general) · deduction (CNY): 500.00" in content
    evidence = appeal.evidence.get()
    evidence_url = reverse("admin:complaints_appeal_evidence", args=[appeal.pk, evidence.pk])
    assert evidence_url in content
    download = client.get(evidence_url)
    assert download.status_code == 200 and b"".join(download.streaming_content) == JPEG_BYTES


def test_the_reviewer_approves_through_the_buttons(
    client, reviewer, owner, funded_store, violation, appeal_factory
):
    appeal = appeal_factory(violation, owner)
    client.force_login(reviewer)
    assert client.post(action_url(appeal, "start_review"), {"reason": ""}).status_code == 302
    response = client.post(action_url(appeal, "approve"), {"reason": "The calls went to a wrong number"})
    assert response.status_code == 302
    appeal.refresh_from_db()
    assert (appeal.status, appeal.decision_reason) == ("approved", "The calls went to a wrong number")
    assert Violation.objects.get(pk=violation.pk).status == "revoked"
    assert sum(PointEntry.objects.filter(store=funded_store).values_list("points", flat=True)) == 0


def test_approve_without_a_reason_changes_nothing(client, reviewer, owner, violation, appeal_factory):
    appeal = appeal_factory(violation, owner)
    appeal_review_start(appeal=appeal, actor=reviewer)
    client.force_login(reviewer)
    response = client.post(action_url(appeal, "approve"), {"reason": ""})
    assert response.status_code == 200
    assert Appeal.objects.get(pk=appeal.pk).status == "under_review"


def test_staff_without_the_permission_get_403(client, staff_user, owner, violation, appeal_factory):
    appeal = appeal_factory(violation, owner)
    client.force_login(staff_user(FINANCE))
    assert client.get(reverse(CHANGELIST)).status_code == 403
    for name in ("start_review", "approve", "reject"):
        assert client.post(action_url(appeal, name), {"reason": "x"}).status_code == 403
    assert Appeal.objects.get(pk=appeal.pk).status == "submitted"
