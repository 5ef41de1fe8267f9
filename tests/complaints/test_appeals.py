"""Appeals against violations (RULES §10): windows, the 2-appeal cap, exact revoke on approval, penalties kept
on rejection, who may do what, and evidence that is refused before anything is stored."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db.models import Sum

from complaints.models import Appeal, AppealEvent, AppealEvidence, Notification
from complaints.services import appeal_approve, appeal_reject, appeal_review_start
from complaints.uploads import EvidenceRefused
from merchants.errors import ActionForbidden, DomainError, TransitionRefused
from merchants.models import (
    DepositAccount,
    DepositEntry,
    PointEntry,
    RulesExamRequirement,
    Sanction,
    SettlementEntry,
    Store,
    StoreEvent,
    Violation,
)
from merchants.selectors import compensation_paid, deposit_balance, settlement_position, withdrawal_refusal
from merchants.services import settlement_record, settlement_release_check
from tests.complaints.factories import EXE_BYTES, HTML_BYTES, JPEG_BYTES, PNG_BYTES, RawUpload, jpeg, upload
from tests.merchants.factories import MembershipFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Monday morning in Shanghai; the appeal tests pass `now` explicitly.
OCCURRED = datetime(2026, 11, 16, 10, 0, tzinfo=SHANGHAI)


def state(violation):
    """Everything a refused appeal action must leave as it was."""
    violation = Violation.objects.get(pk=violation.pk)
    return {
        "violation": violation.status,
        "appeals": list(Appeal.objects.filter(violation=violation).values_list("number", "status")),
        "appeal_events": AppealEvent.objects.filter(appeal__violation=violation).count(),
        "evidence": AppealEvidence.objects.filter(appeal__violation=violation).count(),
        "store_events": StoreEvent.objects.filter(store=violation.store_id).count(),
        "deposit_entries": DepositEntry.objects.filter(account__store=violation.store_id).count(),
        "points": PointEntry.objects.filter(store=violation.store_id).count(),
        "notifications": Notification.objects.filter(store=violation.store_id).count(),
    }


def decided(appeal, reviewer, *, approve=False, now=None):
    appeal_review_start(appeal=appeal, actor=reviewer, now=now)
    decide = appeal_approve if approve else appeal_reject
    return decide(appeal=appeal, actor=reviewer, reason="Waybill scan shows pickup in time", now=now)


# --- Filing: windows, the cap, one at a time ------------------------------------------------------


def test_the_decision_deadline_skips_national_day_and_counts_the_make_up_saturday(
    funded_store, owner, violation_factory, appeal_factory, media_files
):
    # given a violation on Monday 28 September 2026, appealed on Tuesday 29 September, two days before the
    # National Day week (1-7 October off; Saturday 10 October a make-up working day, in the seeded calendar)
    violation = violation_factory(
        funded_store, "lost_contact", occurred_at=datetime(2026, 9, 28, 10, tzinfo=SHANGHAI)
    )

    # when the owner appeals
    appeal = appeal_factory(violation, owner, now=datetime(2026, 9, 29, 10, 0, tzinfo=SHANGHAI))

    # then the 5 working days are 30 September, 8, 9, 10 (Saturday, worked) and 12 October, to its end
    appeal.refresh_from_db()
    assert appeal.decide_by == datetime(2026, 10, 13, 0, 0, tzinfo=SHANGHAI)


def test_an_owner_appeals_within_the_window_and_the_penalties_stay(
    funded_store, owner, violation_factory, appeal_factory, media_files
):
    violation = violation_factory(funded_store, "lost_contact", occurred_at=OCCURRED)
    balance = deposit_balance(store=funded_store)
    now = OCCURRED + timedelta(days=2)  # Wednesday

    appeal = appeal_factory(violation, owner, now=now)

    appeal.refresh_from_db()
    assert (appeal.number, appeal.status, appeal.store_id, appeal.submitted_by) == (
        1,
        "submitted",
        funded_store.pk,
        owner,
    )
    # 5 working days after Wednesday 18 November: Thursday to Wednesday 25 November, to its end.
    assert appeal.decide_by == datetime(2026, 11, 26, 0, 0, tzinfo=SHANGHAI)
    assert Violation.objects.get(pk=violation.pk).status == "appealed"
    assert list(appeal.events.values_list("kind", "from_status", "to_status", "actor")) == [
        ("submitted", "", "submitted", owner.pk)
    ]
    event = StoreEvent.objects.get(store=funded_store, kind="violation_appealed")
    assert (event.from_status, event.to_status, event.actor, event.data) == (
        "active",
        "appealed",
        owner,
        {"violation": violation.pk},
    )
    evidence = appeal.evidence.get()
    assert (evidence.original_name, evidence.content_type, evidence.size) == (
        "parcel.jpg",
        "image/jpeg",
        len(JPEG_BYTES),
    )
    assert evidence.file.name.startswith(f"appeals/{appeal.pk}/") and evidence.file.name.endswith(".jpg")
    assert media_files() == [evidence.file.name]
    # An appeal does not pause the penalty.
    assert deposit_balance(store=funded_store) == balance == Decimal("1500.00")
    assert PointEntry.objects.filter(store=funded_store).aggregate(total=Sum("points"))["total"] == 2


@pytest.mark.parametrize(
    ("after", "allowed"),
    [
        (timedelta(0), True),
        (timedelta(days=7) - timedelta(seconds=1), True),
        (timedelta(days=7), False),
        (timedelta(days=30), False),
    ],
)
def test_the_first_appeal_window_is_7_days(
    after, allowed, funded_store, owner, violation_factory, appeal_factory
):
    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    before = state(violation)
    if allowed:
        assert appeal_factory(violation, owner, now=OCCURRED + after).number == 1
        return
    with pytest.raises(TransitionRefused) as refusal:
        appeal_factory(violation, owner, now=OCCURRED + after)
    assert refusal.value.messages == [
        "The appeal window closed on 2026-11-23 10:00 (7 days after the violation)."
    ]
    assert state(violation) == before


def test_no_second_appeal_while_the_first_is_open(
    funded_store, owner, reviewer, violation_factory, appeal_factory, media_files
):
    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    first = appeal_factory(violation, owner, now=OCCURRED + timedelta(days=1))
    for step in ("submitted", "under_review"):
        if step == "under_review":
            appeal_review_start(appeal=first, actor=reviewer, now=OCCURRED + timedelta(days=2))
        before, files = state(violation), media_files()
        with pytest.raises(TransitionRefused) as refusal:
            appeal_factory(violation, owner, now=OCCURRED + timedelta(days=2))
        assert refusal.value.messages == [
            "Appeal 1 against this violation is still being decided; wait for its decision."
        ]
        assert (state(violation), media_files()) == (before, files)


@pytest.mark.parametrize(
    ("after", "allowed"),
    [
        (timedelta(days=15) - timedelta(seconds=1), True),
        (timedelta(days=15), False),
    ],
)
def test_a_second_appeal_within_15_days_of_the_rejection(
    after, allowed, funded_store, owner, reviewer, violation_factory, appeal_factory
):
    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    first = appeal_factory(violation, owner, now=OCCURRED + timedelta(days=6))
    rejected_at = OCCURRED + timedelta(days=10)  # the first window is long closed by then
    decided(first, reviewer, now=rejected_at)
    assert Violation.objects.get(pk=violation.pk).status == "active"
    before = state(violation)
    if allowed:
        second = appeal_factory(violation, owner, now=rejected_at + after)
        assert (second.number, second.status) == (2, "submitted")
        assert Violation.objects.get(pk=violation.pk).status == "appealed"
        return
    with pytest.raises(TransitionRefused) as refusal:
        appeal_factory(violation, owner, now=rejected_at + after)
    assert refusal.value.messages == [
        "The second appeal had to be filed by 2026-12-11 10:00 (15 days after the first was rejected)."
    ]
    assert state(violation) == before


def test_never_more_than_two_appeals_and_the_second_decision_is_final(
    funded_store, owner, reviewer, violation_factory, appeal_factory, media_files
):
    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    decided(
        appeal_factory(violation, owner, now=OCCURRED + timedelta(days=1)),
        reviewer,
        now=OCCURRED + timedelta(days=2),
    )
    second = appeal_factory(violation, owner, now=OCCURRED + timedelta(days=3))
    decided(second, reviewer, now=OCCURRED + timedelta(days=4))
    assert AppealEvent.objects.get(appeal=second, kind="rejected").data == {
        "violation": violation.pk,
        "final": True,
    }
    before, files = state(violation), media_files()
    with pytest.raises(TransitionRefused) as refusal:
        appeal_factory(violation, owner, now=OCCURRED + timedelta(days=5))
    assert refusal.value.messages == [
        "This violation was appealed 2 times; the decision on the last appeal is final."
    ]
    assert (state(violation), media_files()) == (before, files)
    assert list(
        Appeal.objects.filter(violation=violation).order_by("number").values_list("number", "status")
    ) == [
        (1, "rejected"),
        (2, "rejected"),
    ]


def test_a_revoked_violation_cannot_be_appealed(
    funded_store, owner, reviewer, violation_factory, appeal_factory
):
    from merchants.services import violation_revoke

    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    violation_revoke(violation=violation, actor=reviewer, reason="Recorded by mistake")
    before = state(violation)
    with pytest.raises(TransitionRefused) as refusal:
        appeal_factory(violation, owner, now=OCCURRED + timedelta(days=1))
    assert refusal.value.messages == ["This violation was revoked; there is nothing left to appeal."]
    assert state(violation) == before


def test_an_approved_appeal_leaves_nothing_to_appeal(
    funded_store, owner, reviewer, violation_factory, appeal_factory
):
    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    decided(appeal_factory(violation, owner, now=OCCURRED + timedelta(days=1)), reviewer, approve=True)
    with pytest.raises(TransitionRefused):
        appeal_factory(violation, owner, now=OCCURRED + timedelta(days=2))
    assert Appeal.objects.filter(violation=violation).count() == 1


def test_the_database_allows_one_open_appeal_and_numbers_1_and_2_once(
    funded_store, owner, violation_factory, appeal_factory
):
    from django.db import IntegrityError, transaction

    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    first = appeal_factory(violation, owner, now=OCCURRED + timedelta(days=1))
    fields = dict(violation=violation, store=funded_store, statement="x", decide_by=first.decide_by)
    for number in (1, 2, 3):  # 1 taken; 2 while 1 is open; 3 never
        with pytest.raises(IntegrityError), transaction.atomic():
            Appeal.objects.create(number=number, **fields)


def test_a_statement_and_evidence_are_required(
    funded_store, owner, violation_factory, appeal_factory, media_files
):
    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    before = state(violation)
    with pytest.raises(DomainError) as refusal:
        appeal_factory(violation, owner, statement="  ", now=OCCURRED)
    assert refusal.value.messages == ["Write your statement: why the violation should be revoked."]
    with pytest.raises(EvidenceRefused) as refusal:
        appeal_factory(violation, owner, files=[], now=OCCURRED)
    assert refusal.value.messages == [
        "Attach at least one piece of evidence (photos, video, listing screenshots, waybills, invoices)."
    ]
    assert (state(violation), media_files()) == (before, [])


# --- Upload attacks: a clear message, nothing stored ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "photo.jpg",
            HTML_BYTES,
            "“photo.jpg” is a web page (HTML). Upload photos, videos or PDF documents "
            "(JPEG, PNG, GIF, WebP, PDF, MP4, MOV).",
        ),
        (
            "invoice.jpg",
            EXE_BYTES,
            "“invoice.jpg” is a program (executable). Upload photos, videos or PDF documents "
            "(JPEG, PNG, GIF, WebP, PDF, MP4, MOV).",
        ),
        (
            "../../etc/cron.d/x.jpg",
            JPEG_BYTES,
            "The file name “../../etc/cron.d/x.jpg” may not contain folders or the characters "
            '/ \\ : * ? " < > | ..; rename the file.',
        ),
        (
            "..\\..\\web\\index.jpg",
            JPEG_BYTES,
            "The file name “..\\..\\web\\index.jpg” may not contain folders or the characters "
            '/ \\ : * ? " < > | ..; rename the file.',
        ),
        (
            "parcel.jpg\x00.html",
            JPEG_BYTES,
            "The file name “parcel.jpg\\x00.html” contains control characters; rename the file.",
        ),
        (
            "waybill.png",
            JPEG_BYTES,
            "“waybill.png” is a JPEG file but its name ends in “.png”; rename it to end in “.jpg”.",
        ),
    ],
)
def test_evidence_attacks_are_refused_and_nothing_is_stored(
    name, data, message, funded_store, owner, violation_factory, appeal_factory, media_files
):
    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    before = state(violation)
    with pytest.raises(EvidenceRefused) as refusal:
        # a good file first: the bad one stops them all
        appeal_factory(violation, owner, files=[jpeg("ok.jpg"), RawUpload(name, data)], now=OCCURRED)
    assert refusal.value.messages == [message]
    assert (state(violation), media_files(), Appeal.objects.count()) == (before, [], 0)


def test_oversize_evidence_is_refused_unread(
    funded_store, owner, violation_factory, appeal_factory, media_files, settings
):
    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    before = state(violation)
    big = upload("scan.png", PNG_BYTES + b"\x00" * (10 * 1024 * 1024), content_type="image/png")
    with pytest.raises(EvidenceRefused) as refusal:
        appeal_factory(violation, owner, files=[big], now=OCCURRED)
    assert refusal.value.messages == ["“scan.png” is 10.0 MB; the limit is 10 MB per file."]
    assert (state(violation), media_files(), Appeal.objects.count()) == (before, [], 0)


def test_a_refusal_inside_the_transaction_removes_the_files_written(
    funded_store, owner, violation_factory, appeal_factory, media_files, monkeypatch
):
    """The file is written before the violation moves; if that move fails, the file goes with the rows."""
    import complaints.services

    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    before = state(violation)

    def refuse(**kwargs):
        raise TransitionRefused("refused late")

    monkeypatch.setattr(complaints.services, "violation_appeal_open", refuse)
    with pytest.raises(TransitionRefused):
        appeal_factory(violation, owner, now=OCCURRED)
    assert (state(violation), media_files(), Appeal.objects.count()) == (before, [], 0)


# --- Who may do what ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "customer_service"])
def test_only_the_owner_may_appeal(role, funded_store, violation_factory, appeal_factory, media_files):
    member = MembershipFactory(store=funded_store, role=role).user
    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    before = state(violation)
    with pytest.raises(ActionForbidden) as refusal:
        appeal_factory(violation, member, now=OCCURRED)
    assert refusal.value.messages == ["Only the store's owner may appeal against a violation."]
    assert (state(violation), media_files()) == (before, [])


def test_another_stores_owner_may_not_appeal(funded_store, other_store, violation_factory, appeal_factory):
    stranger = MembershipFactory(store=other_store, role="owner").user
    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    before = state(violation)
    with pytest.raises(ActionForbidden):
        appeal_factory(violation, stranger, now=OCCURRED)
    assert state(violation) == before


@pytest.mark.parametrize(
    "decider", ["owner", "operator", "finance", "quality inspector", "reviewer without the permission"]
)
def test_only_reviewers_with_the_permission_decide(
    decider, funded_store, owner, reviewer, staff_user, violation_factory, appeal_factory
):
    from django.contrib.auth.models import Permission

    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    appeal = appeal_factory(violation, owner, now=OCCURRED)
    if decider == "owner":
        actor = owner
    elif decider == "operator":
        actor = MembershipFactory(store=funded_store, role="operator").user
    elif decider == "reviewer without the permission":
        actor = staff_user("compliance reviewer", username="junior-reviewer")
        actor.user_permissions.add(Permission.objects.get(codename="record_violation"))
        actor.groups.clear()
        actor = type(actor).objects.get(pk=actor.pk)
    else:
        actor = staff_user(decider)
    before = state(violation)
    for decide in (appeal_review_start, appeal_approve, appeal_reject):
        with pytest.raises(ActionForbidden) as refusal:
            decide(appeal=appeal, actor=actor, reason="x")
        assert refusal.value.messages == [
            "You do not have the permission for this action (complaints.decide_appeal)."
        ]
    appeal_review_start(appeal=appeal, actor=reviewer)  # so approve and reject are possible by state
    before = state(violation)
    for decide in (appeal_approve, appeal_reject):
        with pytest.raises(ActionForbidden):
            decide(appeal=appeal, actor=actor, reason="x")
    assert state(violation) == before


def test_a_decision_needs_the_review_first_and_a_reason(
    funded_store, owner, reviewer, violation_factory, appeal_factory
):
    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    appeal = appeal_factory(violation, owner, now=OCCURRED)
    before = state(violation)
    with pytest.raises(TransitionRefused) as refusal:
        appeal_approve(appeal=appeal, actor=reviewer, reason="Fine")
    assert refusal.value.messages == [f"Appeal #{appeal.pk} is submitted; it cannot be approved."]
    appeal_review_start(appeal=appeal, actor=reviewer, now=OCCURRED + timedelta(hours=1))
    with pytest.raises(DomainError) as refusal:
        appeal_reject(appeal=appeal, actor=reviewer, reason=" ")
    assert refusal.value.messages == ["Give a reason: it is recorded and shown to the seller."]
    assert Appeal.objects.get(pk=appeal.pk).status == "under_review"
    assert state(violation)["appeal_events"] == before["appeal_events"] + 1
    appeal = Appeal.objects.get(pk=appeal.pk)
    assert (appeal.reviewer, appeal.review_started_at) == (reviewer, OCCURRED + timedelta(hours=1))


# --- Decisions: approval revokes exactly, rejection keeps every penalty ---------------------------


def ledgers(store):
    """Every ledger and restriction a violation can touch, as the seller and the platform see them."""
    store = Store.objects.get(pk=store.pk)
    points = dict(
        PointEntry.objects.filter(store=store).values_list("ledger").annotate(total=Sum("points")).order_by()
    )
    return {
        "deposit": deposit_balance(store=store),
        "shortfall_since": DepositAccount.objects.get(store=store).shortfall_since,
        "compensation_paid": compensation_paid(store=store, since=datetime(2000, 1, 1, tzinfo=UTC)),
        "general_points": points.get("general", 0),
        "serious_points": points.get("serious", 0),
        "sanctions": sorted(Sanction.objects.live().filter(store=store).values_list("kind", flat=True)),
        "store_status": store.status,
        "suspended_until": store.suspended_until,
        "can": (store.can_list, store.can_take_orders, store.can_withdraw),
        "settlement": settlement_position(store=store),
        "withdrawal_refusal": withdrawal_refusal(store=store),
        "exam_required": RulesExamRequirement.objects.open().filter(store=store).count(),
    }


@pytest.fixture
def with_proceeds(funded_store):
    """Order income due for release: a settlement freeze holds it back."""
    from django.utils import timezone

    settlement_record(
        store=funded_store,
        kind=SettlementEntry.Kind.ORDER_INCOME,
        amount=Decimal("300.00"),
        available_at=timezone.now() - timedelta(hours=1),
        cause_key="test:proceeds",
    )
    return funded_store


@pytest.mark.parametrize(
    ("code", "extra", "caused"),
    [
        # 12 serious points: suspended 7 days; a 10,000 deduction puts the deposit short.
        ("counterfeit", {}, {"store_status": "suspended", "deposit": Decimal("-8000.00")}),
        # Occurrence ladder: a settlement freeze holds the proceeds; 30% of 100 to the buyer puts the deposit
        # short of its 2,000, so withdrawals are held.
        (
            "fraudulent_dispatch",
            {"amount_paid": Decimal("100.00")},
            {"sanctions": ["settlement_freeze", "withdrawal_hold"], "compensation_paid": Decimal("30.00")},
        ),
        # 6 general points on top of 8 (12 or more: a warning and the rules exam), and a 2,000 deduction.
        ("spot_check_failed", {}, {"general_points": 14, "exam_required": 1, "deposit": Decimal("0.00")}),
    ],
)
def test_an_approved_appeal_returns_everything_exactly(
    code,
    extra,
    caused,
    with_proceeds,
    owner,
    reviewer,
    violation_factory,
    appeal_factory,
    django_capture_on_commit_callbacks,
):
    from django.utils import timezone

    store = with_proceeds
    owner.email = "owner@example.com"
    owner.save()
    # Earlier, unappealed violations bring the store near a ladder step: the revoke must take back only its own.
    violation_factory(store, "not_as_described")
    violation_factory(store, "not_as_described")
    before = ledgers(store)

    violation = violation_factory(store, code, occurred_at=timezone.now() - timedelta(hours=2), **extra)
    after_violation = ledgers(store)
    for key, value in caused.items():
        assert after_violation[key] == value, key
    assert after_violation != before
    appeal = appeal_factory(violation, owner)
    assert ledgers(store) == after_violation  # appeals do not pause penalties
    settlement_release_check()
    if "settlement_freeze" in caused.get("sanctions", []):
        assert settlement_position(store=store).available == Decimal("0.00")  # frozen: nothing released

    appeal_review_start(appeal=appeal, actor=reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        appeal_approve(appeal=appeal, actor=reviewer, reason="The tracking shows real delivery")

    assert {**ledgers(store), "settlement": None} == {**before, "settlement": None}
    settlement_release_check()
    assert settlement_position(store=store).available == Decimal("300.00")  # the proceeds are released
    appeal.refresh_from_db()
    violation.refresh_from_db()
    assert (appeal.status, appeal.decided_by, appeal.decision_reason) == (
        "approved",
        reviewer,
        "The tracking shows real delivery",
    )
    assert violation.status == "revoked"
    assert list(appeal.events.values_list("kind", "from_status", "to_status")) == [
        ("submitted", "", "submitted"),
        ("review_started", "submitted", "under_review"),
        ("approved", "under_review", "approved"),
    ]
    revoked = StoreEvent.objects.get(store=store, kind="violation_revoked")
    assert (revoked.actor, revoked.reason) == (
        reviewer,
        "Appeal 1 approved: The tracking shows real delivery",
    )
    notification = Notification.objects.get(store=store, kind="appeal_decided")
    assert notification.message == (
        f"Appeal #{appeal.pk} was approved: the violation is revoked and its penalties returned."
    )
    assert notification.link == f"/s/{store.code}/appeals/{appeal.pk}/"
    assert [(m.subject, m.to) for m in mail.outbox] == [
        (f"[{store.code}] appeal decided", ["owner@example.com"])
    ]


def test_a_rejected_appeal_leaves_every_penalty_in_place(
    funded_store, owner, reviewer, violation_factory, appeal_factory, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    violation = violation_factory(
        funded_store, "counterfeit", occurred_at=timezone.now() - timedelta(hours=1)
    )
    penalties = ledgers(funded_store)
    appeal = appeal_factory(violation, owner)
    appeal_review_start(appeal=appeal, actor=reviewer)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        appeal_reject(appeal=appeal, actor=reviewer, reason="The label photo shows the fake logo", now=now)
    assert len(callbacks) == 1  # the e-mail, after the commit
    assert ledgers(funded_store) == penalties
    violation.refresh_from_db()
    appeal.refresh_from_db()
    assert (violation.status, violation.revoked_at) == ("active", None)
    assert (appeal.status, appeal.decided_at, appeal.decided_by) == ("rejected", now, reviewer)
    event = StoreEvent.objects.get(store=funded_store, kind="violation_appeal_rejected")
    assert (event.from_status, event.to_status, event.actor) == ("appealed", "active", reviewer)
    assert AppealEvent.objects.get(appeal=appeal, kind="rejected").data == {
        "violation": violation.pk,
        "final": False,
    }
    until = (now + timedelta(days=15)).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    assert Notification.objects.get(kind="appeal_decided").message == (
        f"Appeal #{appeal.pk} was rejected: The label photo shows the fake logo. "
        f"You may appeal once more by {until}."
    )


def test_a_refused_decision_queues_nothing(
    funded_store, owner, violation_factory, appeal_factory, django_capture_on_commit_callbacks
):
    violation = violation_factory(funded_store, occurred_at=OCCURRED)
    appeal = appeal_factory(violation, owner, now=OCCURRED)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ActionForbidden):
        appeal_approve(appeal=appeal, actor=owner, reason="mine")
    assert callbacks == []


def test_a_violation_revoked_directly_meanwhile_is_not_revoked_twice(
    funded_store, owner, reviewer, violation_factory, appeal_factory
):
    from merchants.services import violation_revoke

    violation = violation_factory(funded_store, "lost_contact", occurred_at=OCCURRED)
    appeal = appeal_factory(violation, owner, now=OCCURRED)
    appeal_review_start(appeal=appeal, actor=reviewer)
    violation_revoke(violation=violation, actor=reviewer, reason="Recorded by mistake")
    with pytest.raises(TransitionRefused) as refusal:
        appeal_reject(appeal=appeal, actor=reviewer, reason="No")
    assert refusal.value.messages == ["The violation was revoked meanwhile; approve the appeal to close it."]
    appeal_approve(appeal=appeal, actor=reviewer, reason="Revoked already")
    assert Appeal.objects.get(pk=appeal.pk).status == "approved"
    assert DepositEntry.objects.filter(account__store=funded_store, kind="reversal").count() == 1
    assert deposit_balance(store=funded_store) == Decimal("2000.00")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_owners_filing_at_once_make_one_appeal(media_files):
    """The violation's row lock serialises them: the second finds the first open and is refused."""
    import threading

    from django.db import close_old_connections, connection

    from tests.complaints.factories import file_appeal, record_violation
    from tests.merchants.factories import StoreFactory

    store = StoreFactory()
    owners = [MembershipFactory(store=store, role="owner").user for _ in range(2)]
    violation = record_violation(store, occurred_at=OCCURRED)
    barrier = threading.Barrier(2)
    outcomes = []

    def file(owner):
        try:
            barrier.wait(timeout=10)
            file_appeal(violation, owner, now=OCCURRED + timedelta(days=1))
            outcomes.append("filed")
        except TransitionRefused as refusal:
            outcomes.append(refusal.messages[0])
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=file, args=(owner,)) for owner in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [
        "Appeal 1 against this violation is still being decided; wait for its decision.",
        "filed",
    ]
    assert Appeal.objects.count() == 1 and AppealEvidence.objects.count() == 1
    assert media_files() == [Appeal.objects.get().evidence.get().file.name]


# --- The window runs from when the violation was recorded -------------------------------------------


def test_a_complaint_upheld_a_week_after_it_was_opened_can_still_be_appealed(
    funded_store, owner, reviewer, appeal_factory
):
    from complaints.services import complaint_start_review, complaint_uphold
    from tests.complaints.factories import open_complaint

    # given a complaint opened on Monday and upheld ten days later
    complaint = open_complaint(funded_store, actor=reviewer, now=OCCURRED)
    complaint_start_review(complaint=complaint, actor=reviewer, now=OCCURRED + timedelta(days=1))
    upheld_at = OCCURRED + timedelta(days=10)
    complaint = complaint_uphold(complaint=complaint, actor=reviewer, reason="Fake", now=upheld_at)
    violation = complaint.violation

    # then the violation is dated when the complaint was opened, but recorded when it was upheld
    assert (violation.occurred_at, violation.created_at) == (OCCURRED, upheld_at)

    # when the owner appeals six days after the decision (16 days after the complaint was opened)
    appeal = appeal_factory(violation, owner, now=upheld_at + timedelta(days=6, hours=23))

    # then the appeal is filed: the window is the seven days after the violation was recorded
    assert (appeal.number, appeal.status) == (1, "submitted")


def test_the_window_closes_seven_days_after_the_violation_was_recorded(
    funded_store, owner, violation_factory, appeal_factory
):
    # given a late-dispatch-like violation whose check recorded it three days after it occurred
    recorded = OCCURRED + timedelta(days=3)
    violation = violation_factory(funded_store, occurred_at=OCCURRED, recorded_at=recorded)
    before = state(violation)

    # when the owner appeals exactly seven days after it was recorded
    with pytest.raises(TransitionRefused) as refused:
        appeal_factory(violation, owner, now=recorded + timedelta(days=7))

    # then it is refused with the closing time, and nothing changed
    assert refused.value.messages == [
        "The appeal window closed on 2026-11-26 10:00 (7 days after the violation)."
    ]
    assert state(violation) == before
    # a moment earlier (ten days after it occurred) it is accepted
    assert (
        appeal_factory(violation, owner, now=recorded + timedelta(days=7) - timedelta(minutes=1)).number == 1
    )


# --- Revoke after an upheld complaint: the refund and compensations come back too ----------------------


@pytest.mark.parametrize("completed", [False, True], ids=["shipped", "completed"])
def test_an_approved_appeal_after_an_upheld_complaint_with_extra_compensation_returns_everything(
    completed, funded_store, owner, reviewer, appeal_factory
):
    from complaints.models import ComplaintKind
    from complaints.services import complaint_start_review, complaint_uphold
    from tests.complaints.factories import completed_order, open_complaint, shipped_order

    # given a ¥100 order (shipped, or completed and settled) and the store's ledgers before any complaint
    order = completed_order(funded_store) if completed else shipped_order(funded_store)
    before = ledgers(funded_store)
    assert (before["deposit"], before["general_points"], before["compensation_paid"]) == (
        Decimal("2000.00"),
        0,
        Decimal("0"),
    )

    # when a wrong-goods complaint is upheld with a refund and ¥50 extra compensation
    complaint = open_complaint(
        funded_store,
        kind=ComplaintKind.NOT_AS_DESCRIBED,
        sub_kind="different_item",
        order=order,
        actor=reviewer,
    )
    complaint_start_review(complaint=complaint, actor=reviewer)
    complaint = complaint_uphold(
        complaint=complaint, actor=reviewer, reason="Towel instead of a phone", compensation=Decimal("50")
    )

    # then it costs 4 points, the ¥30 rule compensation and the ¥50 extra (and the ¥100 refund from the
    # deposit when the order was completed)
    upheld = ledgers(funded_store)
    paid = Decimal("180.00") if completed else Decimal("80.00")
    assert (upheld["deposit"], upheld["general_points"], upheld["compensation_paid"]) == (
        Decimal("2000.00") - paid,
        4,
        paid,
    )

    # when the owner's appeal is approved
    appeal = appeal_factory(complaint.violation, owner)
    decided(appeal, reviewer, approve=True)

    # then every ledger and point total is back where it was
    assert ledgers(funded_store) == before
    assert DepositEntry.objects.filter(account__store=funded_store, kind="reversal").count() == (
        3 if completed else 2
    )
