"""Complaint test assets: complaints opened through the service, shipped orders, evidence bytes."""

import itertools
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from complaints.models import ComplaintKind, NotAsDescribed
from complaints.services import complaint_open
from orders.services import order_ship
from tests.merchants.factories import UserFactory
from tests.orders.factories import carrier, make_order

# The smallest files that start like the real thing: the checks read the first bytes.
JPEG_BYTES = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 200 + b"\xff\xd9"
)
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 100
PDF_BYTES = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"
HTML_BYTES = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200

_tracking = itertools.count(1)


def jpeg(name="photo.jpg", data=JPEG_BYTES):
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def upload(name, data, content_type="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def shipped_order(store, **kwargs):
    """A seller-shipped (or platform-shipped) order that has gone out: refundable."""
    order = make_order(store, paid_at=timezone.now() - timedelta(days=2), **kwargs)
    # The platform's warehouse ships its own orders (a staff actor); the engine stands in for the seller.
    warehouse = None
    if order.fulfilment == "platform":
        warehouse = UserFactory(username="warehouse", is_staff=True, is_superuser=True)
    return order_ship(
        order=order, carrier=carrier("sf"), tracking_no=f"SF{next(_tracking):013d}", actor=warehouse
    )


def completed_order(store, **kwargs):
    """A shipped order the buyer received and confirmed: settled, no longer refundable."""
    from orders.models import Shipment
    from orders.services import order_confirm_receipt, tracking_event_record

    order = shipped_order(store, **kwargs)
    shipment = Shipment.objects.get(order=order)
    tracking_event_record(
        shipment=shipment, kind="delivered", occurred_at=timezone.now() - timedelta(hours=2)
    )
    return order_confirm_receipt(order=order, now=timezone.now() - timedelta(hours=1))


SUB_KIND_FOR = {ComplaintKind.NOT_AS_DESCRIBED: NotAsDescribed.DIFFERENT_ITEM}


def open_complaint(
    store, *, kind=ComplaintKind.COUNTERFEIT, source="buyer", order=None, actor=None, **kwargs
):
    kwargs.setdefault("sub_kind", SUB_KIND_FOR.get(kind, ""))
    kwargs.setdefault("statement", "The towel I received is not the one in the listing.")
    return complaint_open(store=store, kind=kind, source=source, order=order, actor=actor, **kwargs)


# --- Appeals --------------------------------------------------------------------------------------

_causes = itertools.count(1)


def record_violation(
    store, code="not_as_described", *, occurred_at=None, recorded_at=None, cause_id=None, **kwargs
):
    """A violation recorded by the platform (the engine), with its points, deduction and ladder; recorded
    when it occurred unless `recorded_at` says otherwise (the appeal window runs from the recorded time)."""
    from merchants.services import violation_record

    violation, _created = violation_record(
        store=store,
        type_code=code,
        cause_kind="manual",
        cause_id=cause_id or f"appeal-test-{next(_causes)}",
        occurred_at=occurred_at,
        now=recorded_at or occurred_at,
        **kwargs,
    )
    return violation


def file_appeal(
    violation, actor, *, statement="The buyer's photo shows another seller's parcel.", files=None, now=None
):
    from complaints.services import appeal_submit

    return appeal_submit(
        violation=violation,
        actor=actor,
        statement=statement,
        files=[jpeg("parcel.jpg")] if files is None else files,
        now=now,
    )


class RawUpload:
    """An upload whose name reaches the service as sent: Django's parser keeps only the last path part, but
    the service must not rely on every caller going through it."""

    def __init__(self, name, data):
        self.name, self._data, self.size = name, data, len(data)

    def seek(self, position):
        pass

    def read(self, size=-1):
        return self._data if size < 0 else self._data[:size]
