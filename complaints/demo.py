"""Demo complaints and buyer contacts for `seed_demo`: on DEMO-001 and DEMO-002, complaints in every state
(open ones, one from a regulator, one awaiting the seller, one upheld, one dismissed) and three unconnected
calls that the lost-contact check turns into a violation; a rejected appeal on DEMO-001 and a pending one on
DEMO-002. Idempotent: each demo complaint is found again by its statement, each call by its call-system id,
each appeal by its violation."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q

from complaints.checks import lost_contact_check
from complaints.models import Appeal, CallAttempt, Complaint, ComplaintKind, ComplaintSource, NotAsDescribed
from complaints.selectors import appeal_chance_for
from complaints.services import (
    appeal_reject,
    appeal_review_start,
    appeal_submit,
    call_attempt_record,
    complaint_dismiss,
    complaint_open,
    complaint_request_info,
    complaint_seller_reply,
    complaint_start_review,
    complaint_uphold,
)
from merchants.models import Membership, Store, Violation, ViolationStatus
from orders.models import Order, OrderStatus

# store, kind, sub-kind, source, which delivered order (newest first; None: no order), hours ago, what
# happens next, statement
DEMO_COMPLAINTS = [
    (
        "DEMO-001",
        ComplaintKind.COUNTERFEIT,
        "",
        ComplaintSource.REGULATOR_12315,
        0,
        5,
        "open",
        "12315 hotline: a buyer reports the towel's brand label is fake and asks for the supplier's invoice.",
    ),
    (
        "DEMO-001",
        ComplaintKind.PRODUCT_QUALITY,
        "",
        ComplaintSource.BUYER,
        1,
        3,
        "open",
        "The towel sheds fibres after the first wash.",
    ),
    (
        "DEMO-001",
        ComplaintKind.NOT_AS_DESCRIBED,
        NotAsDescribed.DIFFERENT_ITEM,
        ComplaintSource.BUYER,
        4,
        20,
        "awaiting_seller",
        "Ordered a blue bath towel, received a grey hand towel.",
    ),
    (
        "DEMO-001",
        ComplaintKind.NOT_AS_DESCRIBED,
        NotAsDescribed.MISSING_PARTS,
        ComplaintSource.BUYER,
        6,
        96,
        "upheld",
        "The gift set came without the two face cloths shown in the listing.",
    ),
    (
        "DEMO-002",
        ComplaintKind.CUSTOMER_SERVICE,
        "",
        ComplaintSource.BUYER,
        2,
        72,
        "dismissed",
        "Customer service did not answer my question about the serum's ingredients.",
    ),
    (
        "DEMO-002",
        ComplaintKind.COUNTERFEIT,
        "",
        ComplaintSource.BRAND_OWNER,
        None,
        8,
        "open",
        "Lumi's brand office: the serum's batch code does not match our production records.",
    ),
]

# A tiny JPEG so the seller sees how evidence looks.
DEMO_PHOTO = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
)


class _DemoUpload:
    """The shape of an uploaded file for the services, from bytes in memory."""

    def __init__(self, name: str, data: bytes):
        self.name, self._data, self.size = name, data, len(data)

    def seek(self, position):
        pass

    def read(self, size=-1):
        return self._data if size < 0 else self._data[:size]


def _delivered(store: Store, nth: int | None, *, before: datetime) -> Order | None:
    """The nth newest order shipped (and, if delivered, delivered) before the complaint was opened: a
    complaint, and the refund its uphold makes, come after what the buyer complains about."""
    if nth is None:
        return None
    return (
        Order.objects.filter(
            store=store, status__in=[OrderStatus.SHIPPED, OrderStatus.DELIVERED], dispatched_at__lt=before
        )
        .filter(Q(delivered_at__isnull=True) | Q(delivered_at__lt=before))
        .order_by("-paid_at", "-pk")[nth : nth + 1]
        .first()
    )


def _store_member(store: Store, role: str):
    membership = Membership.objects.filter(store=store, role=role).select_related("user").first()
    return membership.user if membership else None


def seed_complaints(*, stores: dict[str, Store], now: datetime, reviewer) -> dict[str, str]:
    """Leave the demo complaints and calls on the demo stores (call inside seed_demo's transaction, after the
    orders). Returns a summary per part, for the command's output."""
    made = 0
    for code, kind, sub_kind, source, nth, hours_ago, outcome, statement in DEMO_COMPLAINTS:
        store = stores.get(code)
        if store is None or Complaint.objects.filter(store=store, buyer_statement=statement).exists():
            continue
        opened = now - timedelta(hours=hours_ago)
        complaint = complaint_open(
            store=store,
            kind=kind,
            sub_kind=sub_kind,
            source=source,
            statement=statement,
            order=_delivered(store, nth, before=opened),
            evidence=[_DemoUpload("buyer-photo.jpg", DEMO_PHOTO)] if outcome != "open" else [],
            actor=reviewer,
            now=opened,
        )
        made += 1
        if outcome == "open":
            continue
        asked = opened + timedelta(hours=1)
        if outcome == "awaiting_seller":
            complaint_request_info(
                complaint=complaint,
                actor=reviewer,
                reason="Send the packing photo and the waybill.",
                now=asked,
            )
            continue
        if outcome == "upheld":
            complaint_request_info(
                complaint=complaint, actor=reviewer, reason="Show what was in the parcel.", now=asked
            )
            complaint_seller_reply(
                complaint=complaint,
                statement="We packed the full set; the carrier may have opened the parcel.",
                actor=_store_member(store, "customer_service") or _store_member(store, "owner"),
                now=asked + timedelta(hours=6),
            )
            complaint_uphold(
                complaint=complaint,
                actor=reviewer,
                reason="The parcel weight at pickup matches a set without the face cloths.",
                now=asked + timedelta(hours=20),
            )
        elif outcome == "dismissed":
            complaint_start_review(
                complaint=complaint, actor=reviewer, reason="Chat log attached by the buyer"
            )
            complaint_dismiss(
                complaint=complaint,
                actor=reviewer,
                reason="The chat log shows a reply within 2 minutes with the ingredient list.",
                now=asked,
            )

    # Lost contact: three calls about one DEMO-001 order, none connected, within 24 hours.
    calls = 0
    store = stores.get("DEMO-001")
    order = (
        Order.objects.filter(
            store=store,
            status__in=[OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED],
            complaints__isnull=True,
        )
        .order_by("-paid_at", "-pk")
        .first()
        if store
        else None
    )
    if order is not None:
        for index, hours_ago in enumerate((20, 9, 2), start=1):
            call_id = f"demo-{store.code}-{index}"
            if CallAttempt.objects.filter(external_id=call_id).exists():
                continue
            call_attempt_record(
                order=order,
                called_at=now - timedelta(hours=hours_ago),
                connected=False,
                source=CallAttempt.Source.CALL_SYSTEM,
                external_id=call_id,
                now=now,
            )
            calls += 1
    lost_contact = str(lost_contact_check(now=now))
    return {
        "complaints": f"complaints={made}",
        "calls": f"calls={calls}",
        "lost_contact": lost_contact,
        "appeals": f"appeals={_seed_appeals(stores=stores, now=now, reviewer=reviewer)}",
    }


def _seed_appeals(*, stores: dict[str, Store], now: datetime, reviewer) -> int:
    """A rejected appeal on DEMO-001 (against the violation of its upheld complaint: the owner may still file
    the second) and a pending one on DEMO-002 (against its newest violation still open to appeal). A
    violation that already has an appeal is left alone. Returns how many appeals were filed."""
    made = 0
    store = stores.get("DEMO-001")
    violation = (
        Violation.objects.filter(store=store, cause_kind="complaint", status=ViolationStatus.ACTIVE)
        .select_related("store")
        .order_by("-occurred_at", "-pk")
        .first()
        if store
        else None
    )
    owner = _store_member(store, "owner") if store else None
    if violation is not None and owner is not None and not violation.appeals.exists():
        filed_at = violation.created_at + timedelta(hours=24)
        if (
            appeal_chance_for(violation=violation, now=filed_at).allowed
            and filed_at + timedelta(hours=48) < now
        ):
            appeal = appeal_submit(
                violation=violation,
                actor=owner,
                statement="Our packing station photographs every gift set before sealing: the photo shows both "
                "face cloths in the box.",
                files=[_DemoUpload("packing-station.jpg", DEMO_PHOTO)],
                now=filed_at,
            )
            appeal_review_start(appeal=appeal, actor=reviewer, now=filed_at + timedelta(hours=22))
            appeal_reject(
                appeal=appeal,
                actor=reviewer,
                reason="The photo has no date or order number; the pickup weight still matches an incomplete set.",
                now=filed_at + timedelta(hours=46),
            )
            made += 1

    store = stores.get("DEMO-002")
    owner = _store_member(store, "owner") if store else None
    if store is not None and owner is not None and not Appeal.objects.filter(store=store).exists():
        candidates = Violation.objects.filter(store=store, status=ViolationStatus.ACTIVE).select_related(
            "store", "violation_type"
        )
        # The serum violation of seed_compliance first (the statement is about it), else the newest.
        for violation in [
            *candidates.filter(violation_type__code="not_as_described").order_by("-occurred_at", "-pk")[:5],
            *candidates.order_by("-occurred_at", "-pk")[:5],
        ]:
            filed_at = max(violation.created_at + (now - violation.created_at) / 2, now - timedelta(days=1))
            if not appeal_chance_for(violation=violation, now=filed_at).allowed:
                continue
            appeal_submit(
                violation=violation,
                actor=owner,
                statement="The buyer's photo shows a 15 ml trial bottle from a gift bundle, not the 30 ml serum "
                "we shipped; our waybill lists the 30 ml item and its weight.",
                files=[_DemoUpload("waybill.jpg", DEMO_PHOTO)],
                now=filed_at,
            )
            made += 1
            break
    return made


# Buyer chat messages per store: (messages a day, share a person answers within 3 minutes, share a bot
# answers, share left unanswered); the rest a person answers late. Their reply figures feed the score.
DEMO_MESSAGE_DAYS = 90
DEMO_MESSAGES = {
    "DEMO-001": (10, 0.92, 0.02, 0.01),
    "DEMO-002": (6, 0.80, 0.05, 0.03),
    "DEMO-003": (3, 0.95, 0.0, 0.01),
    "DEMO-004": (2, 0.60, 0.1, 0.1),
}


def seed_buyer_messages(*, stores: dict[str, Store], now: datetime) -> str:
    """Buyer chat messages over the last 90 days on the demo stores (each about one of the store's orders
    paid before it, sent in service hours, answered as the store's profile above says), in bulk and
    reproducibly. Idempotent: a store that has chat messages already gets none."""
    import bisect
    import random
    from zoneinfo import ZoneInfo

    from complaints.models import BuyerMessage

    made = 0
    for code, (per_day, on_time, bot, unanswered) in DEMO_MESSAGES.items():
        store = stores.get(code)
        if (
            store is None
            or BuyerMessage.objects.filter(store=store, source=BuyerMessage.Source.CHAT).exists()
        ):
            continue
        orders = list(
            Order.objects.filter(store=store).order_by("paid_at", "pk").values_list("paid_at", "pk")
        )
        if not orders:
            continue
        paid_times = [paid for paid, _ in orders]
        zone = ZoneInfo(store.time_zone)
        rng = random.Random(f"messages-{code}")
        rows, seen = [], set()
        today = now.astimezone(zone).date()
        for back in range(DEMO_MESSAGE_DAYS, 0, -1):
            day = today - timedelta(days=back)
            for _ in range(per_day):
                sent = datetime(
                    day.year, day.month, day.day, rng.randint(8, 22), rng.randint(0, 59), tzinfo=zone
                )
                sent += timedelta(seconds=rng.randint(0, 59))
                placed = bisect.bisect_right(paid_times, sent)
                if placed == 0:
                    continue  # no order yet to ask about
                order_pk = orders[rng.randint(max(0, placed - 200), placed - 1)][1]
                if (order_pk, sent) in seen:
                    continue
                seen.add((order_pk, sent))
                draw = rng.random()
                if draw < on_time:
                    quick = rng.random() < 0.8
                    seconds = rng.randint(5, 60) if quick else rng.randint(61, 175)
                    answered, human = sent + timedelta(seconds=seconds), True
                elif draw < on_time + bot:
                    answered, human = sent + timedelta(seconds=rng.randint(1, 5)), False
                elif draw < on_time + bot + unanswered:
                    answered, human = None, False
                else:
                    answered, human = sent + timedelta(seconds=rng.randint(181, 420)), True
                rows.append(
                    BuyerMessage(
                        store=store,
                        order_id=order_pk,
                        sent_at=sent,
                        answered_at=answered,
                        answered_by_human=human,
                        source=BuyerMessage.Source.CHAT,
                        created_at=now,
                    )
                )
        BuyerMessage.objects.bulk_create(rows, ignore_conflicts=True)
        made += len(rows)
    return f"buyer messages={made}"
