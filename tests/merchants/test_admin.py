"""The reviewer back office: pages render, actions call the services with the reviewer as actor, permissions
are enforced by the views, refusals are shown and change nothing, and the listing import previews and
confirms through the services."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from merchants.models import (
    Brand,
    BrandAuthorisation,
    Category,
    CompensationRule,
    DepositAccount,
    DepositEntry,
    Entity,
    Listing,
    ListingEvent,
    ListingStatus,
    Membership,
    PointLadderStep,
    RuleParameter,
    Sanction,
    ScreeningPattern,
    Store,
    StoreEvent,
    StoreStatus,
)
from merchants.selectors import deposit_balance
from merchants.services import listing_remove
from tests.merchants.factories import BrandAuthorisationFactory, EntityFactory, StoreFactory

pytestmark = pytest.mark.django_db

CSV_HEADER = ["sku", "title", "category", "price", "stock", "promised_dispatch_hours", "description", "brand"]


def _csv_upload(rows, header=CSV_HEADER, name="listings.csv"):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode("utf-8"), content_type="text/csv")


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def _pending_store(**kwargs):
    return StoreFactory(status=StoreStatus.PENDING_REVIEW, opened_on=None, **kwargs)


# --- Pages ----------------------------------------------------------------------------------------


@pytest.fixture
def one_of_everything(funded_store, listing_factory, membership_factory, admin_user):
    listing = listing_factory(store=funded_store)
    ListingEvent.objects.create(listing=listing, kind="created", to_status="live")
    StoreEvent.objects.create(store=funded_store, kind="applied", to_status="pending_review")
    sanction = Sanction.objects.create(store=funded_store, kind=Sanction.Kind.LISTING_BLOCK, reason="test")
    membership = membership_factory(store=funded_store)
    authorisation = BrandAuthorisationFactory(store=funded_store)
    return {
        Entity: funded_store.entity,
        Store: funded_store,
        Membership: membership,
        Brand: authorisation.brand,
        BrandAuthorisation: authorisation,
        Listing: listing,
        ListingEvent: listing.events.get(),
        StoreEvent: funded_store.events.get(),
        Sanction: sanction,
        DepositAccount: funded_store.deposit_account,
        DepositEntry: funded_store.deposit_account.entries.get(),
        Category: Category.objects.get(code="general"),
        RuleParameter: RuleParameter.objects.get(key="max_stores_per_entity"),
        ScreeningPattern: ScreeningPattern.objects.first(),
        PointLadderStep: PointLadderStep.objects.first(),
        CompensationRule: CompensationRule.objects.first(),
    }


ADMIN_MODELS = [
    Entity,
    Store,
    Membership,
    Brand,
    BrandAuthorisation,
    Listing,
    ListingEvent,
    StoreEvent,
    Sanction,
    DepositAccount,
    DepositEntry,
    Category,
    RuleParameter,
    ScreeningPattern,
    PointLadderStep,
    CompensationRule,
]


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m.__name__)
def test_changelist_and_change_page_render_for_a_superuser(admin_client, one_of_everything, model):
    obj = one_of_everything[model]
    prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"

    changelist = admin_client.get(reverse(f"{prefix}_changelist"))
    change = admin_client.get(reverse(f"{prefix}_change", args=[obj.pk]))

    assert changelist.status_code == 200
    assert change.status_code == 200
    assert change.context["original"] == obj


@pytest.mark.parametrize(
    "model",
    [
        Entity,
        Store,
        Membership,
        Brand,
        BrandAuthorisation,
        Sanction,
        Category,
        RuleParameter,
        ScreeningPattern,
    ],
    ids=lambda m: m.__name__,
)
def test_add_page_renders_for_a_superuser(admin_client, model):
    response = admin_client.get(reverse(f"admin:merchants_{model._meta.model_name}_add"))

    assert response.status_code == 200


@pytest.mark.parametrize("model", [Listing, StoreEvent, ListingEvent, DepositEntry, DepositAccount])
def test_service_written_rows_cannot_be_added_or_deleted_in_the_admin(admin_client, one_of_everything, model):
    obj = one_of_everything[model]

    add = admin_client.get(reverse(f"admin:merchants_{model._meta.model_name}_add"))
    delete = admin_client.post(reverse(f"admin:merchants_{model._meta.model_name}_delete", args=[obj.pk]))
    change = admin_client.post(reverse(f"admin:merchants_{model._meta.model_name}_change", args=[obj.pk]), {})

    assert (add.status_code, delete.status_code, change.status_code) == (403, 403, 403)
    assert model.objects.filter(pk=obj.pk).exists()


@pytest.mark.parametrize(
    "url_name, make_rows",
    [
        (
            "admin:merchants_listing_changelist",
            lambda store, listing_factory, n: listing_factory.create_batch(n, store=store),
        ),
        (
            "admin:merchants_storeevent_changelist",
            lambda store, listing_factory, n: [
                StoreEvent.objects.create(store=store, kind="applied") for _ in range(n)
            ],
        ),
        (
            "admin:merchants_depositaccount_changelist",
            lambda store, listing_factory, n: StoreFactory.create_batch(n),
        ),
        (
            "admin:merchants_store_changelist",
            lambda store, listing_factory, n: StoreFactory.create_batch(n),
        ),
    ],
)
def test_changelist_costs_the_same_number_of_queries_for_more_rows(
    admin_client, store, listing_factory, django_assert_num_queries, url_name, make_rows
):
    make_rows(store, listing_factory, 2)
    admin_client.get(reverse(url_name))  # warm the session and content types
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(reverse(url_name)).status_code == 200
    make_rows(store, listing_factory, 8)

    with django_assert_num_queries(len(few.captured_queries)):
        assert admin_client.get(reverse(url_name)).status_code == 200


# --- Store admission and sanctions ----------------------------------------------------------------


def test_reviewer_approves_a_pending_store_through_the_admin_view(client, staff_user):
    reviewer = staff_user("compliance reviewer")
    store = _pending_store()
    client.force_login(reviewer)
    url = reverse("admin:merchants_store_approve", args=[store.pk])

    page = client.get(url)
    response = client.post(url, {"reason": "Documents checked"})

    assert page.status_code == 200
    assert response.status_code == 302
    assert response.url == reverse("admin:merchants_store_change", args=[store.pk])
    store.refresh_from_db()
    assert store.status == StoreStatus.ACTIVE
    assert store.opened_on == timezone.localdate()
    event = store.events.get(kind="admission_approved")
    assert (event.actor, event.reason, event.from_status, event.to_status) == (
        reviewer,
        "Documents checked",
        "pending_review",
        "active",
    )


def test_approve_button_shows_on_the_change_page_only_for_a_reviewer(client, staff_user):
    store = _pending_store()
    url = reverse("admin:merchants_store_change", args=[store.pk])
    approve_url = reverse("admin:merchants_store_approve", args=[store.pk])

    client.force_login(staff_user("compliance reviewer"))
    reviewer_page = client.get(url)
    client.force_login(staff_user("finance"))
    finance_page = client.get(url)

    assert [b["name"] for b in reviewer_page.context["object_action_buttons"]] == ["approve", "reject"]
    assert approve_url in reviewer_page.content.decode()
    assert finance_page.status_code == 200
    assert finance_page.context["object_action_buttons"] == []
    assert approve_url not in finance_page.content.decode()


def test_finance_may_not_approve_a_store(client, staff_user):
    store = _pending_store()
    client.force_login(staff_user("finance"))
    url = reverse("admin:merchants_store_approve", args=[store.pk])

    page = client.get(url)
    response = client.post(url, {"reason": "trying"})

    assert (page.status_code, response.status_code) == (403, 403)
    store.refresh_from_db()
    assert store.status == StoreStatus.PENDING_REVIEW
    assert not store.events.exists()


def test_approval_refused_by_admission_shows_the_reason_and_leaves_the_store_pending(client, staff_user):
    entity = EntityFactory()
    StoreFactory.create_batch(3, entity=entity)
    store = _pending_store(entity=entity)
    client.force_login(staff_user("compliance reviewer"))

    response = client.post(reverse("admin:merchants_store_approve", args=[store.pk]), {"reason": ""})

    assert response.status_code == 200
    assert _messages(response) == ["This entity already holds 3 stores; the limit is 3."]
    assert "This entity already holds 3 stores; the limit is 3." in response.content.decode()
    store.refresh_from_db()
    assert store.status == StoreStatus.PENDING_REVIEW
    assert not store.events.exists()


def test_reject_needs_a_reason_and_changes_nothing_without_one(client, staff_user):
    store = _pending_store()
    client.force_login(staff_user("compliance reviewer"))
    url = reverse("admin:merchants_store_reject", args=[store.pk])

    refused = client.post(url, {"reason": ""})
    store.refresh_from_db()
    status_after_refusal = store.status
    done = client.post(url, {"reason": "Licence photo unreadable"})

    assert refused.status_code == 200
    assert refused.context["form"].errors == {"reason": ["This field is required."]}
    assert status_after_refusal == StoreStatus.PENDING_REVIEW
    assert done.status_code == 302
    store.refresh_from_db()
    assert store.status == StoreStatus.REJECTED
    assert store.events.get().reason == "Licence photo unreadable"


def test_get_on_an_action_view_changes_nothing(client, staff_user):
    store = _pending_store()
    client.force_login(staff_user("compliance reviewer"))

    response = client.get(reverse("admin:merchants_store_approve", args=[store.pk]), {"reason": "x"})

    assert response.status_code == 200
    store.refresh_from_db()
    assert store.status == StoreStatus.PENDING_REVIEW


def test_reviewer_suspends_and_reinstates_an_active_store(client, staff_user, store):
    reviewer = staff_user("compliance reviewer")
    client.force_login(reviewer)
    until = timezone.localtime() + timedelta(days=7)

    suspended = client.post(
        reverse("admin:merchants_store_suspend", args=[store.pk]),
        {
            "until_0": until.strftime("%Y-%m-%d"),
            "until_1": until.strftime("%H:%M:%S"),
            "reason": "Fake orders",
        },
    )
    store.refresh_from_db()
    status_while_suspended, suspended_until = store.status, store.suspended_until
    reinstated = client.post(
        reverse("admin:merchants_store_reinstate", args=[store.pk]), {"reason": "Appeal upheld"}
    )

    assert (suspended.status_code, reinstated.status_code) == (302, 302)
    assert status_while_suspended == StoreStatus.SUSPENDED
    assert suspended_until == until.replace(microsecond=0)
    store.refresh_from_db()
    assert store.status == StoreStatus.ACTIVE
    assert list(store.events.order_by("id").values_list("kind", "actor", "reason")) == [
        ("suspended", reviewer.pk, "Fake orders"),
        ("reinstated", reviewer.pk, "Appeal upheld"),
    ]


def test_suspending_a_pending_store_is_refused_with_a_message(client, staff_user):
    store = _pending_store()
    client.force_login(staff_user("compliance reviewer"))
    until = timezone.localtime() + timedelta(days=7)

    response = client.post(
        reverse("admin:merchants_store_suspend", args=[store.pk]),
        {"until_0": until.strftime("%Y-%m-%d"), "until_1": until.strftime("%H:%M:%S"), "reason": "x"},
    )

    assert response.status_code == 200
    assert _messages(response) == ["A store that is pending review cannot be suspended."]
    store.refresh_from_db()
    assert store.status == StoreStatus.PENDING_REVIEW
    assert not store.events.exists()


def test_clear_out_bans_the_entity_when_asked(client, staff_user, store):
    client.force_login(staff_user("compliance reviewer"))

    response = client.post(
        reverse("admin:merchants_store_clear_out", args=[store.pk]),
        {"reason": "Counterfeit goods", "ban_entity": "on"},
    )

    assert response.status_code == 302
    store.refresh_from_db()
    store.entity.refresh_from_db()
    assert store.status == StoreStatus.CLEARED_OUT
    assert (store.entity.banned_for_ever, store.entity.banned_reason) == (True, "Counterfeit goods")


def test_bulk_approve_approves_what_it_can_and_reports_refusals_by_store_code(client, staff_user):
    reviewer = staff_user("compliance reviewer")
    full_entity = EntityFactory()
    StoreFactory.create_batch(3, entity=full_entity)
    refused = _pending_store(entity=full_entity, code="FULL-1")
    admitted = _pending_store(code="OK-1")
    client.force_login(reviewer)

    response = client.post(
        reverse("admin:merchants_store_changelist"),
        {"action": "approve_selected", "_selected_action": [refused.pk, admitted.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert sorted(_messages(response)) == [
        "Approved 1 store: OK-1.",
        "FULL-1: This entity already holds 3 stores; the limit is 3.",
    ]
    refused.refresh_from_db()
    admitted.refresh_from_db()
    assert (refused.status, admitted.status) == (StoreStatus.PENDING_REVIEW, StoreStatus.ACTIVE)
    assert admitted.events.get(kind="admission_approved").actor == reviewer


def test_adding_a_store_in_the_admin_goes_through_store_apply(admin_client, admin_user):
    entity = EntityFactory()
    general = Category.objects.get(code="general")

    response = admin_client.post(
        reverse("admin:merchants_store_add"),
        {
            "code": "NEW-01",
            "name": "New store",
            "entity": entity.pk,
            "store_type": Store.StoreType.ORDINARY,
            "main_category": general.pk,
            "categories": [],
            "brand": "",
            "time_zone": "Asia/Shanghai",
        },
    )

    store = Store.objects.get(code="NEW-01")
    assert response.status_code == 302
    assert response.url == reverse("admin:merchants_store_change", args=[store.pk])
    assert store.status == StoreStatus.PENDING_REVIEW
    assert list(store.categories.all()) == [general]
    assert DepositAccount.objects.filter(store=store).exists()
    assert list(store.events.values_list("kind", "actor")) == [("applied", admin_user.pk)]


def test_adding_a_store_refused_by_admission_shows_form_errors(admin_client):
    entity = EntityFactory(kind=Entity.Kind.NATURAL_PERSON)

    response = admin_client.post(
        reverse("admin:merchants_store_add"),
        {
            "code": "NEW-02",
            "name": "New store",
            "entity": entity.pk,
            "store_type": Store.StoreType.ORDINARY,
            "main_category": Category.objects.get(code="general").pk,
            "time_zone": "Asia/Shanghai",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "Natural persons may no longer open stores; apply as an enterprise or an individual business."
    ]
    assert not Store.objects.filter(code="NEW-02").exists()


def test_reviewer_imposes_and_lifts_a_sanction(client, staff_user, store):
    reviewer = staff_user("compliance reviewer")
    client.force_login(reviewer)
    now = timezone.localtime()
    ends = now + timedelta(days=3)

    added = client.post(
        reverse("admin:merchants_sanction_add"),
        {
            "store": store.pk,
            "kind": Sanction.Kind.LISTING_BLOCK,
            "reason": "Misleading titles",
            "starts_at_0": now.strftime("%Y-%m-%d"),
            "starts_at_1": now.strftime("%H:%M:%S"),
            "ends_at_0": ends.strftime("%Y-%m-%d"),
            "ends_at_1": ends.strftime("%H:%M:%S"),
        },
    )
    sanction = Sanction.objects.get(store=store)
    lifted = client.post(
        reverse("admin:merchants_sanction_changelist"),
        {
            "action": "lift_selected",
            "_selected_action": [sanction.pk],
            "post": "yes",
            "reason": "Titles fixed",
        },
    )

    assert (added.status_code, lifted.status_code) == (302, 302)
    sanction.refresh_from_db()
    assert (sanction.created_by, sanction.reason, sanction.lifted_reason) == (
        reviewer,
        "Misleading titles",
        "Titles fixed",
    )
    assert sanction.lifted_at is not None
    assert list(store.events.order_by("id").values_list("kind", "actor")) == [
        ("sanction_imposed", reviewer.pk),
        ("sanction_lifted", reviewer.pk),
    ]


def test_sanction_live_filter(admin_client, store):
    now = timezone.now()
    live = Sanction.objects.create(store=store, kind=Sanction.Kind.LISTING_BLOCK, reason="live")
    expired = Sanction.objects.create(
        store=store,
        kind=Sanction.Kind.ORDER_RESTRICTION,
        reason="expired",
        starts_at=now - timedelta(days=3),
        ends_at=now - timedelta(days=1),
    )
    lifted = Sanction.objects.create(
        store=store, kind=Sanction.Kind.WITHDRAWAL_HOLD, reason="lifted", lifted_at=now
    )
    url = reverse("admin:merchants_sanction_changelist")

    found = {
        state: list(admin_client.get(url, {"live": state}).context["cl"].result_list)
        for state in ("live", "expired", "lifted")
    }

    assert found == {"live": [live], "expired": [expired], "lifted": [lifted]}


# --- Listings -------------------------------------------------------------------------------------


def test_inspector_removes_a_listing_through_the_admin_view(client, staff_user, listing_factory):
    inspector = staff_user("quality inspector")
    listing = listing_factory()
    client.force_login(inspector)

    response = client.post(
        reverse("admin:merchants_listing_remove", args=[listing.pk]), {"reason": "Failed spot check"}
    )

    assert response.status_code == 302
    listing.refresh_from_db()
    assert (listing.status, listing.removal_reason) == (ListingStatus.REMOVED, "Failed spot check")
    event = listing.events.get()
    assert (event.kind, event.actor, event.reason, event.from_status, event.to_status) == (
        "removed",
        inspector,
        "Failed spot check",
        "live",
        "removed",
    )


def test_inspector_removes_selected_listings_with_the_changelist_action(client, staff_user, listing_factory):
    inspector = staff_user("quality inspector")
    listings = listing_factory.create_batch(2)
    client.force_login(inspector)
    url = reverse("admin:merchants_listing_changelist")
    selected = [listing.pk for listing in listings]

    asked = client.post(url, {"action": "remove_from_platform", "_selected_action": selected})
    done = client.post(
        url,
        {"action": "remove_from_platform", "_selected_action": selected, "post": "yes", "reason": "Recall"},
    )

    assert asked.status_code == 200
    assert "reason" in asked.context["form"].fields
    assert done.status_code == 302
    assert list(Listing.objects.filter(pk__in=selected).values_list("status", flat=True)) == [
        "removed",
        "removed",
    ]
    assert ListingEvent.objects.filter(listing__in=selected, kind="removed", actor=inspector).count() == 2


def test_finance_may_not_remove_a_listing(client, staff_user, listing_factory):
    listing = listing_factory()
    client.force_login(staff_user("finance"))

    response = client.post(reverse("admin:merchants_listing_remove", args=[listing.pk]), {"reason": "x"})

    assert response.status_code == 403
    listing.refresh_from_db()
    assert listing.status == ListingStatus.LIVE
    assert not listing.events.exists()


def _import_preview(admin_client, store, upload):
    return admin_client.post(
        reverse("admin:merchants_listing_import"),
        {"store": store.pk, "format": "0", "import_file": upload},
    )


def test_import_preview_shows_a_row_error_for_an_unknown_category_by_column(admin_client, funded_store):
    upload = _csv_upload(
        [
            ["TW-1", "Bath towel", "general", "29.90", "5", "48", "", ""],
            ["TW-2", "Hand towel", "nosuch", "9.90", "5", "48", "", ""],
        ]
    )

    response = _import_preview(admin_client, funded_store, upload)

    assert response.status_code == 200
    result = response.context["result"]
    assert [(row.number, row.field_specific_errors) for row in result.invalid_rows] == [
        (
            2,
            {
                "category": [
                    "unknown category nosuch (use one of: apparel, beauty, electronics, food, general, health, jewelry)"
                ]
            },
        )
    ]
    assert "confirm_form" not in response.context
    assert "unknown category nosuch" in response.content.decode()
    assert not Listing.objects.exists()


def test_import_preview_then_confirm_creates_live_screened_listings_for_the_chosen_store(
    admin_client, admin_user, funded_store
):
    other_store = StoreFactory()
    upload = _csv_upload(
        [
            ["TW-1", "Bath towel", "general", "¥29.90", "5", "48", "Soft", ""],
            ["TW-2", "Hand towel", "general", "9.90", "12", "same_day", "", ""],
        ]
    )

    preview = _import_preview(admin_client, funded_store, upload)
    confirm_form = preview.context["confirm_form"]
    listings_after_preview = Listing.objects.count()
    confirmed = admin_client.post(
        reverse("admin:merchants_listing_process_import"),
        {
            name: confirm_form.initial[name]
            for name in ("import_file_name", "original_file_name", "format", "store")
        },
    )

    assert preview.status_code == 200
    assert [row.import_type for row in preview.context["result"].rows] == ["new", "new"]
    assert listings_after_preview == 0
    assert confirmed.status_code == 302
    assert confirmed.url == reverse("admin:merchants_listing_changelist")
    assert list(
        Listing.objects.order_by("sku").values_list(
            "store", "sku", "title", "price", "stock", "promised_dispatch", "status", "screening_hits"
        )
    ) == [
        (funded_store.pk, "TW-1", "Bath towel", Decimal("29.90"), 5, "48h", "live", []),
        (funded_store.pk, "TW-2", "Hand towel", Decimal("9.90"), 12, "same_day", "live", []),
    ]
    assert not other_store.listings.exists()
    assert list(ListingEvent.objects.values_list("kind", "actor")) == [
        ("created", admin_user.pk),
        ("created", admin_user.pk),
    ]


def test_import_updates_the_listing_with_the_same_sku_in_the_chosen_store(
    admin_client, funded_store, listing_factory
):
    listing = listing_factory(store=funded_store, sku="TW-1", title="Old title")
    upload = _csv_upload([["TW-1", "New title", "general", "19.90", "7", "24", "", ""]])

    preview = _import_preview(admin_client, funded_store, upload)
    confirm_form = preview.context["confirm_form"]
    admin_client.post(
        reverse("admin:merchants_listing_process_import"),
        {
            name: confirm_form.initial[name]
            for name in ("import_file_name", "original_file_name", "format", "store")
        },
    )

    assert [row.import_type for row in preview.context["result"].rows] == ["update"]
    listing.refresh_from_db()
    assert (listing.title, listing.price, listing.stock, listing.promised_dispatch) == (
        "New title",
        Decimal("19.90"),
        7,
        "24h",
    )
    assert Listing.objects.count() == 1
    assert listing.events.get().kind == "edited"


def test_import_refuses_duplicate_skus_in_the_file(admin_client, funded_store):
    upload = _csv_upload(
        [
            ["TW-1", "Bath towel", "general", "29.90", "5", "48", "", ""],
            ["TW-1", "Bath towel again", "general", "29.90", "5", "48", "", ""],
        ]
    )

    response = _import_preview(admin_client, funded_store, upload)

    assert [(row.number, row.field_specific_errors) for row in response.context["result"].invalid_rows] == [
        (2, {"sku": ["SKU TW-1 appears again (first in row 1)"]})
    ]
    assert "confirm_form" not in response.context
    assert not Listing.objects.exists()


def test_a_file_without_the_required_columns_imports_nothing(admin_client, funded_store):
    upload = _csv_upload([["TW-1", "Bath towel", "29.90"]], header=["sku", "title", "price"])

    response = _import_preview(admin_client, funded_store, upload)

    result = response.context["result"]
    assert [str(error.error) for error in result.base_errors] == [
        "Missing required column(s): category, stock, promised_dispatch_hours. The header row must name: "
        "sku, title, category, price, stock, promised_dispatch_hours, description, brand."
    ]
    assert result.rows == []
    assert "confirm_form" not in response.context
    assert not Listing.objects.exists()


def test_a_file_that_became_invalid_before_confirming_imports_nothing(
    admin_client, admin_user, funded_store, listing_factory
):
    existing = listing_factory(store=funded_store, sku="TW-2")
    upload = _csv_upload(
        [
            ["TW-1", "Bath towel", "general", "29.90", "5", "48", "", ""],
            ["TW-2", "Hand towel", "general", "9.90", "5", "48", "", ""],
        ]
    )
    preview = _import_preview(admin_client, funded_store, upload)
    confirm_form = preview.context["confirm_form"]
    # Between preview and confirm, an inspector removes TW-2 from the platform.
    listing_remove(listing=existing, actor=admin_user, reason="Spot check")

    confirmed = admin_client.post(
        reverse("admin:merchants_listing_process_import"),
        {
            name: confirm_form.initial[name]
            for name in ("import_file_name", "original_file_name", "format", "store")
        },
        follow=True,
    )

    assert [row.import_type for row in preview.context["result"].rows] == ["new", "update"]
    assert _messages(confirmed) == [
        "Nothing was imported: row 2: sku: listing TW-2 was removed by the platform and cannot be changed"
    ]
    assert list(Listing.objects.values_list("sku", "status")) == [("TW-2", "removed")]
    assert list(ListingEvent.objects.values_list("kind", flat=True)) == ["removed"]


def test_import_needs_a_store_that_may_list(admin_client):
    pending = _pending_store()
    upload = _csv_upload([["TW-1", "Bath towel", "general", "29.90", "5", "48", "", ""]])

    response = _import_preview(admin_client, pending, upload)

    assert response.context["form"].errors == {
        "store": [
            f"Store {pending.code} may not list goods now (it is pending review or has a listing block)."
        ]
    }
    assert not Listing.objects.exists()


def test_inspector_may_not_import_listings(client, staff_user, funded_store):
    client.force_login(staff_user("quality inspector"))

    response = client.get(reverse("admin:merchants_listing_import"))

    assert response.status_code == 403


def test_listing_export_has_the_store_and_import_columns_and_formula_safe_text(
    admin_client, funded_store, listing_factory
):
    listing_factory(store=funded_store, sku="=1+1", title="@SUM(A1)", description="-2", price=Decimal("5.00"))

    response = admin_client.post(
        reverse("admin:merchants_listing_export"),
        {
            "format": "0",
            "resource": "0",
            **{f"listingexportresource_{name}": "on" for name in ["store", *CSV_HEADER]},
        },
    )

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    assert rows == [
        ["store", *CSV_HEADER],
        [funded_store.code, "'=1+1", "'@SUM(A1)", "general", "5.00", "10", "48", "'-2", ""],
    ]


# --- Deposits -------------------------------------------------------------------------------------


def test_finance_records_a_deduction_and_the_balance_changes_exactly(client, staff_user, funded_store):
    finance = staff_user("finance")
    account = funded_store.deposit_account
    client.force_login(finance)

    response = client.post(
        reverse("admin:merchants_depositaccount_record", args=[account.pk]),
        {"kind": "deduction", "amount": "150.50", "reason": "Late dispatch penalty", "reference": ""},
    )

    assert response.status_code == 302
    assert response.url == reverse("admin:merchants_depositaccount_change", args=[account.pk])
    assert deposit_balance(store=funded_store) == Decimal("1849.50")
    entry = account.entries.get(kind="deduction")
    assert (entry.amount, entry.actor, entry.reason, entry.cause_key) == (
        Decimal("-150.50"),
        finance,
        "Late dispatch penalty",
        None,
    )
    assert funded_store.events.get(kind="deposit_deduction").actor == finance
    page = client.get(response.url)
    assert (page.context["original"].balance, page.context["original"].required) == (
        Decimal("1849.50"),
        Decimal("2000.00"),
    )


def test_a_top_up_with_a_bank_reference_is_recorded_once(client, staff_user, funded_store):
    client.force_login(staff_user("finance"))
    url = reverse("admin:merchants_depositaccount_record", args=[funded_store.deposit_account.pk])
    data = {"kind": "top_up", "amount": "500.00", "reason": "Bank transfer", "reference": "BANK-77"}

    first = client.post(url, data, follow=True)
    second = client.post(url, data, follow=True)

    assert _messages(first) == [f"Recorded top-up of 500.00 CNY for store {funded_store.code}."]
    [message] = _messages(second)
    assert message.startswith("The top-up with bank reference BANK-77 was already recorded on ")
    assert message.endswith(f"(500.00 CNY, store {funded_store.code}); nothing was added.")
    assert list(DepositEntry.objects.filter(kind="top_up", reference="BANK-77").values_list("cause_key")) == [
        ("top-up:BANK-77",)
    ]
    assert deposit_balance(store=funded_store) == Decimal("2500.00")


def test_a_reviewer_may_not_record_deposit_entries(client, staff_user, funded_store):
    client.force_login(staff_user("compliance reviewer"))
    url = reverse("admin:merchants_depositaccount_record", args=[funded_store.deposit_account.pk])

    page = client.get(url)
    response = client.post(url, {"kind": "deduction", "amount": "100.00", "reason": "x", "reference": ""})

    assert (page.status_code, response.status_code) == (403, 403)
    assert deposit_balance(store=funded_store) == Decimal("2000.00")
    assert funded_store.deposit_account.entries.count() == 1
    assert not funded_store.events.exists()


def test_finance_reverses_a_deduction_once(client, staff_user, funded_store):
    client.force_login(staff_user("finance"))
    client.post(
        reverse("admin:merchants_depositaccount_record", args=[funded_store.deposit_account.pk]),
        {"kind": "deduction", "amount": "300.00", "reason": "Penalty", "reference": ""},
    )
    deduction = DepositEntry.objects.get(kind="deduction")
    url = reverse("admin:merchants_depositentry_reverse", args=[deduction.pk])

    first = client.post(url, {"reason": "Appeal upheld"})
    second = client.post(url, {"reason": "Appeal upheld"}, follow=True)

    assert first.status_code == 302
    assert first.url == reverse(
        "admin:merchants_depositaccount_change", args=[funded_store.deposit_account.pk]
    )
    assert second.status_code == 200
    reversal = DepositEntry.objects.get(kind="reversal")
    assert (reversal.amount, reversal.reverses) == (Decimal("300.00"), deduction)
    assert deposit_balance(store=funded_store) == Decimal("2000.00")
    assert _messages(second)[-1].startswith("This entry was already reversed on ")


def test_a_top_up_cannot_be_reversed(client, staff_user, funded_store):
    client.force_login(staff_user("finance"))
    top_up = funded_store.deposit_account.entries.get()

    response = client.post(reverse("admin:merchants_depositentry_reverse", args=[top_up.pk]), {"reason": "x"})

    assert response.status_code == 200
    assert _messages(response) == ["Only deductions and compensation can be reversed."]
    assert funded_store.deposit_account.entries.count() == 1


# --- Rule table -----------------------------------------------------------------------------------


def test_an_invalid_regular_expression_is_refused_by_the_screening_pattern_form(admin_client):
    response = admin_client.post(
        reverse("admin:merchants_screeningpattern_add"),
        {"kind": "contact", "label": "broken", "pattern": "wechat(", "is_regex": "on", "is_active": "on"},
    )

    assert response.status_code == 200
    assert (
        response.context["adminform"].form.errors["pattern"][0].startswith("Not a valid regular expression:")
    )
    assert not ScreeningPattern.objects.filter(label="broken").exists()


def test_rule_parameter_value_is_editable_in_the_list(admin_client):
    parameter = RuleParameter.objects.get(key="max_stores_per_entity")
    parameters = list(
        admin_client.get(reverse("admin:merchants_ruleparameter_changelist")).context["cl"].result_list
    )
    data = {
        "form-TOTAL_FORMS": str(len(parameters)),
        "form-INITIAL_FORMS": str(len(parameters)),
        "_save": "Save",
    }
    for index, row in enumerate(parameters):
        data[f"form-{index}-id"] = str(row.pk)
        data[f"form-{index}-value"] = "5" if row.pk == parameter.pk else str(row.value)

    response = admin_client.post(reverse("admin:merchants_ruleparameter_changelist"), data)

    assert response.status_code == 302
    parameter.refresh_from_db()
    assert parameter.value == Decimal("5")


def test_a_compliance_reviewer_enters_a_make_up_working_day_in_the_holiday_calendar(client, staff_user):
    from datetime import date

    from merchants.models import PublicHoliday

    # given the seeded calendar (2026's National Day week and its make-up days among it)
    assert PublicHoliday.objects.get(day=date(2026, 10, 10)).kind == "working_day"
    assert PublicHoliday.objects.filter(day__year=2026, kind="day_off", name="国庆节").count() == 7
    client.force_login(staff_user("compliance reviewer"))

    # when a reviewer enters a make-up Sunday of 2027 in the admin
    response = client.post(
        reverse("admin:merchants_publicholiday_add"),
        {"day": "2027-09-26", "kind": "working_day", "name": "国庆节", "note": "State Council notice"},
    )

    # then it is in the calendar, and the list shows it
    assert response.status_code == 302
    assert PublicHoliday.objects.get(day=date(2027, 9, 26)).kind == "working_day"
    changelist = client.get(reverse("admin:merchants_publicholiday_changelist") + "?day__year=2027")
    assert date(2027, 9, 26) in [row.day for row in changelist.context["cl"].result_list]


def test_staff_without_the_import_permission_see_no_import_button(client, staff_user):
    inspector = staff_user("quality inspector")
    client.force_login(inspector)

    response = client.get(reverse("admin:merchants_listing_changelist"))

    assert response.status_code == 200
    assert response.context["has_import_permission"] is False
    assert client.get(reverse("admin:merchants_listing_import")).status_code == 403


def test_compliance_reviewers_may_import_but_not_edit_listings(client, staff_user):
    reviewer = staff_user("compliance reviewer")
    client.force_login(reviewer)

    response = client.get(reverse("admin:merchants_listing_changelist"))

    assert response.context["has_import_permission"] is True
    assert response.context["has_add_permission"] is False


def _change_form_data(response):
    """The POST data of an admin change page as rendered: the form's and every inline's current values."""
    data = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        if value is not None:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = value
        for inline_form in formset.forms:
            for name in inline_form.fields:
                value = inline_form[name].value()
                if value is not None:
                    data[inline_form.add_prefix(name)] = value
    return data


def test_adding_a_category_to_a_store_in_the_admin_starts_a_deposit_shortfall(admin_client, funded_store):
    StoreEvent.objects.bulk_create(StoreEvent(store=funded_store, kind="applied") for _ in range(25))
    url = reverse("admin:merchants_store_change", args=[funded_store.pk])
    data = _change_form_data(admin_client.get(url))
    food = Category.objects.get(code="food")
    data["categories"] = [*data["categories"], food.pk]

    response = admin_client.post(url, data)

    assert response.status_code == 302
    assert set(funded_store.categories.values_list("code", flat=True)) == {"general", "food"}
    funded_store.deposit_account.refresh_from_db()
    assert funded_store.deposit_account.shortfall_since is not None
    assert list(Sanction.objects.live().filter(store=funded_store).values_list("kind", flat=True)) == [
        Sanction.Kind.WITHDRAWAL_HOLD
    ]
    # More events than the inline shows (20): the limited inline still posts back cleanly.
    assert list(
        funded_store.events.exclude(kind="applied").order_by("id").values_list("kind", flat=True)
    ) == [
        "deposit_shortfall_started",
        "sanction_imposed",
    ]


@pytest.mark.postgres
def test_an_unfiltered_big_changelist_is_counted_from_the_planner_estimate(
    admin_client, store, listing_factory, monkeypatch
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    import merchants.admin

    listing_factory.create_batch(3, store=store)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE merchants_listing")
    monkeypatch.setattr(merchants.admin, "EXACT_COUNT_BELOW_ROWS", 1)
    url = reverse("admin:merchants_listing_changelist")

    with CaptureQueriesContext(connection) as unfiltered:
        unfiltered_page = admin_client.get(url)
    with CaptureQueriesContext(connection) as filtered:
        filtered_page = admin_client.get(url, {"status__exact": "live"})

    assert unfiltered_page.context["cl"].result_count == 3
    assert filtered_page.context["cl"].result_count == 3
    assert not [
        q for q in unfiltered.captured_queries if "COUNT(*)" in q["sql"] and "merchants_listing" in q["sql"]
    ]
    assert [
        q for q in filtered.captured_queries if "COUNT(*)" in q["sql"] and "merchants_listing" in q["sql"]
    ]


def test_state_changes_need_the_csrf_token(staff_user):
    from django.test import Client

    reviewer = staff_user("compliance reviewer")
    store = _pending_store()
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)

    response = client.post(reverse("admin:merchants_store_approve", args=[store.pk]), {"reason": "x"})

    assert response.status_code == 403
    store.refresh_from_db()
    assert store.status == StoreStatus.PENDING_REVIEW
    assert not store.events.exists()


def test_xlsx_import_reads_numbers_typed_by_excel(admin_client, funded_store):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["SKU", "Title", "Category", "Price", "Stock", "Promised_Dispatch_Hours"])
    sheet.append(["TW-9", "Beach towel", "general", 39.9, 3, 24])
    buffer = io.BytesIO()
    workbook.save(buffer)
    upload = SimpleUploadedFile("listings.xlsx", buffer.getvalue())

    preview = admin_client.post(
        reverse("admin:merchants_listing_import"),
        {"store": funded_store.pk, "format": "1", "import_file": upload},
    )
    confirm_form = preview.context["confirm_form"]
    admin_client.post(
        reverse("admin:merchants_listing_process_import"),
        {
            name: confirm_form.initial[name]
            for name in ("import_file_name", "original_file_name", "format", "store")
        },
    )

    assert list(Listing.objects.values_list("sku", "price", "stock", "promised_dispatch", "status")) == [
        ("TW-9", Decimal("39.90"), 3, "24h", "live")
    ]


def test_store_page_links_to_its_records(admin_client, funded_store, listing_factory):
    listing = listing_factory(store=funded_store)
    listing_factory()  # another store's
    page = admin_client.get(reverse("admin:merchants_store_change", args=[funded_store.pk]))
    links = re.findall(r'href="(/admin/merchants/[a-z]+/\?[a-z_]+__id__exact=[^"]+)"', page.content.decode())

    listed = {url.split("/")[3]: admin_client.get(url.replace("&amp;", "&")) for url in links}

    assert sorted(listed) == ["depositaccount", "listing", "sanction", "storeevent"]
    assert all(response.status_code == 200 for response in listed.values())
    assert list(listed["listing"].context["cl"].result_list) == [listing]
    assert list(listed["depositaccount"].context["cl"].result_list) == [funded_store.deposit_account]


def test_a_ban_cannot_be_lifted_by_editing_the_entity(client, staff_user):
    entity = EntityFactory(banned_for_ever=True, banned_reason="counterfeit")
    client.force_login(staff_user("compliance reviewer"))
    url = reverse("admin:merchants_entity_change", args=[entity.pk])
    data = _change_form_data(client.get(url))
    data["banned_for_ever"] = ""
    data["name"] = "Renamed Co."

    response = client.post(url, data)

    assert response.status_code == 302
    entity.refresh_from_db()
    assert (entity.name, entity.banned_for_ever) == ("Renamed Co.", True)


def test_voluntary_exit_through_the_admin_buttons(client, staff_user, funded_store):
    client.force_login(staff_user("compliance reviewer"))
    begin = reverse("admin:merchants_store_begin_exit", args=[funded_store.pk])
    complete = reverse("admin:merchants_store_complete_exit", args=[funded_store.pk])

    assert client.post(begin, {"reason": "Owner closes the business"}).status_code == 302
    assert client.post(complete, {"reason": ""}).status_code == 302

    funded_store.refresh_from_db()
    assert funded_store.status == StoreStatus.EXITED
    assert deposit_balance(store=funded_store) == Decimal("0.00")
    assert list(funded_store.events.order_by("id").values_list("kind", "actor__username")) == [
        ("exit_requested", "staff-compliance-reviewer"),
        ("exited", "staff-compliance-reviewer"),
        ("deposit_refund", "staff-compliance-reviewer"),
    ]


def test_refunds_cannot_be_reversed(client, staff_user, funded_store):
    from merchants.services import deposit_record

    refund = deposit_record(store=funded_store, kind="refund", amount=Decimal("10"), reason="returned")
    client.force_login(staff_user("finance"))
    url = reverse("admin:merchants_depositentry_reverse", args=[refund.pk])
    assert "is not possible" in client.get(url).content.decode()
    response = client.post(url, {"reason": "try"}, follow=True)
    assert "Only deductions and compensation can be reversed." in response.content.decode()
    assert DepositEntry.objects.filter(kind="reversal").count() == 0
