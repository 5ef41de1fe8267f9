"""Factories and step helpers for inspections: rows for set-up, services for the steps under test."""

import itertools
from decimal import Decimal

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from inspections.models import Inspection, InspectionStatus, Lab, SamplingRound
from inspections.services import (
    inspection_record_fail,
    inspection_record_purchase,
    inspection_send_to_lab,
)
from orders.services import LineData, RecipientData, order_create
from tests.merchants.factories import ListingFactory

_numbers = itertools.count(1000)

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00" + b"\x00" * 16
)


def pdf_upload(name: str = "report.pdf", data: bytes = PDF_BYTES) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/pdf")


class LabFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lab

    name = factory.Sequence(lambda n: f"Test lab {n}")
    accreditation_number = factory.LazyFunction(lambda: f"CNAS L{next(_numbers)}")
    is_active = True


class SamplingRoundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SamplingRound

    trigger = SamplingRound.Trigger.INSPECTOR
    seed = factory.Sequence(lambda n: f"seed-{n}")
    sample_size = 1
    drawn_count = 1
    candidate_count = 1


class InspectionFactory(factory.django.DjangoModelFactory):
    """A drawn inspection in `selected` (the state the draw leaves it in)."""

    class Meta:
        model = Inspection

    round = factory.SubFactory(SamplingRoundFactory)
    listing = factory.SubFactory(ListingFactory)
    store = factory.LazyAttribute(lambda o: o.listing.store)
    status = InspectionStatus.SELECTED
    draw_rank = 1
    weight = Decimal("1.000")


RECIPIENT = RecipientData(name="李四", phone="13912345678", region="上海市 浦东新区", address="世纪大道 1 号")


def mystery_order(listing, *, order_no=None):
    """The order a mystery shopper placed: one line of the listing, paid an hour ago."""
    return order_create(
        store=listing.store,
        order_no=order_no or f"MYS{next(_numbers)}",
        paid_at=timezone.now() - timezone.timedelta(hours=1),
        amount_paid=listing.price,
        lines=[
            LineData(
                sku=listing.sku,
                title=listing.title,
                quantity=1,
                unit_price=listing.price,
                promised_dispatch=listing.promised_dispatch,
                listing=listing,
            )
        ],
        recipient=RECIPIENT,
        check_store=False,
    )


def to_purchased(inspection, *, actor=None):
    order = mystery_order(inspection.listing)
    return inspection_record_purchase(inspection=inspection, order_no=order.order_no, actor=actor)


def to_at_lab(inspection, *, actor=None, lab=None):
    inspection = to_purchased(inspection, actor=actor)
    return inspection_send_to_lab(
        inspection=inspection,
        lab=lab or LabFactory(),
        sample_number=f"S-{next(_numbers)}",
        actor=actor,
    )


def to_failed(inspection, *, actor=None, now=None):
    inspection = to_at_lab(inspection, actor=actor)
    return inspection_record_fail(
        inspection=inspection,
        defects=["material", "labelling"],
        report=pdf_upload(),
        notes="Cotton content 62% where the label says 100%",
        actor=actor,
        now=now,
    )
