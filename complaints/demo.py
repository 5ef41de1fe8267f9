"""Demo complaints and buyer contacts for `seed_demo`: on DEMO-001 and DEMO-002, complaints in every state
(open ones, one from a regulator, one awaiting the seller, one upheld, one dismissed) and three unconnected
calls that the lost-contact check turns into a violation. Idempotent: each demo complaint is found again by
its statement, each call by its call-system id."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q

from complaints.checks import lost_contact_check
from complaints.models import CallAttempt, Complaint, ComplaintKind, ComplaintSource, NotAsDescribed
from complaints.services import (
    call_attempt_record,
    complaint_dismiss,
    complaint_open,
    complaint_request_info,
    complaint_seller_reply,
    complaint_start_review,
    complaint_uphold,
)
from merchants.models import Membership, Store
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
    return {
        "complaints": f"complaints={made}",
        "calls": f"calls={calls}",
        "lost_contact": str(lost_contact_check(now=now)),
    }
