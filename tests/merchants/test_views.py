import pytest
from django.test import Client
from django.urls import reverse

from merchants.models import Listing, ListingStatus
from tests.merchants.factories import ListingFactory, MembershipFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def seller_client(client, owner):
    client.force_login(owner)
    return client


def store_urls(store, listing):
    """Every seller URL, with the given store and listing: (method, url)."""
    code, pk = store.code, listing.pk
    return [
        ("get", reverse("dashboard", args=[code])),
        ("get", reverse("listing-list", args=[code])),
        ("get", reverse("listing-create", args=[code])),
        ("post", reverse("listing-create", args=[code])),
        ("get", reverse("listing-upload", args=[code])),
        ("post", reverse("listing-upload", args=[code])),
        ("get", reverse("listing-upload-template", args=[code])),
        ("get", reverse("listing-edit", args=[code, pk])),
        ("post", reverse("listing-edit", args=[code, pk])),
        ("post", reverse("listing-delist", args=[code, pk])),
        ("post", reverse("listing-relist", args=[code, pk])),
        ("get", reverse("deposit", args=[code])),
    ]


def test_every_page_of_own_store_works(seller_client, funded_store):
    listing = ListingFactory(store=funded_store)
    for method, url in store_urls(funded_store, listing):
        if method == "get":
            assert seller_client.get(url).status_code == 200, url


def test_another_stores_urls_are_404_whatever_the_id(seller_client, funded_store):
    other_store = StoreFactory()
    other_listing = ListingFactory(store=other_store, title="Secret")
    own_listing = ListingFactory(store=funded_store)
    for method, url in store_urls(other_store, other_listing):
        response = getattr(seller_client, method)(url)
        assert response.status_code == 404, url
    # own store in the URL, another store's listing id: still 404
    for name in ("listing-edit", "listing-delist", "listing-relist"):
        url = reverse(name, args=[funded_store.code, other_listing.pk])
        assert seller_client.post(url).status_code == 404, url
    assert own_listing.pk != other_listing.pk
    other_listing.refresh_from_db()
    assert (other_listing.status, other_listing.title) == (ListingStatus.LIVE, "Secret")


def test_anonymous_users_are_sent_to_login(client, funded_store):
    listing = ListingFactory(store=funded_store)
    for method, url in store_urls(funded_store, listing):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_customer_service_reads_listings_but_cannot_change_or_see_the_deposit(client, funded_store):
    cs = MembershipFactory(store=funded_store, role="customer_service").user
    client.force_login(cs)
    listing = ListingFactory(store=funded_store)
    assert client.get(reverse("listing-list", args=[funded_store.code])).status_code == 200
    assert client.get(reverse("listing-edit", args=[funded_store.code, listing.pk])).status_code == 200
    assert client.get(reverse("deposit", args=[funded_store.code])).status_code == 403
    assert client.get(reverse("listing-create", args=[funded_store.code])).status_code == 403
    assert client.post(reverse("listing-delist", args=[funded_store.code, listing.pk])).status_code == 403
    response = client.post(
        reverse("listing-edit", args=[funded_store.code, listing.pk]),
        {
            "sku": listing.sku,
            "title": "Changed",
            "category": listing.category_id,
            "price": "1",
            "stock": "1",
            "promised_dispatch": "24h",
        },
    )
    assert response.status_code == 403
    assert (Listing.objects.get(pk=listing.pk).status, Listing.objects.get(pk=listing.pk).title) == (
        ListingStatus.LIVE,
        listing.title,
    )
    assert not listing.events.exists()
    dashboard = client.get(reverse("dashboard", args=[funded_store.code])).content.decode()
    assert "¥2,000.00" not in dashboard


def test_operator_may_manage_listings(client, funded_store):
    operator = MembershipFactory(store=funded_store, role="operator").user
    client.force_login(operator)
    listing = ListingFactory(store=funded_store)
    response = client.post(reverse("listing-delist", args=[funded_store.code, listing.pk]))
    assert response.status_code == 302
    listing.refresh_from_db()
    assert listing.status == ListingStatus.DELISTED


def test_create_listing_through_the_form(seller_client, funded_store):
    general = funded_store.main_category
    response = seller_client.post(
        reverse("listing-create", args=[funded_store.code]),
        {
            "sku": "NEW-1",
            "title": "Towel",
            "description": "",
            "category": general.pk,
            "price": "9.90",
            "stock": "3",
            "promised_dispatch": "24h",
        },
    )
    listing = Listing.objects.get(sku="NEW-1")
    assert response.status_code == 302
    assert response["Location"] == reverse("listing-edit", args=[funded_store.code, listing.pk])
    assert listing.status == ListingStatus.LIVE


def test_screening_feedback_is_shown_to_the_seller(seller_client, funded_store):
    general = funded_store.main_category
    response = seller_client.post(
        reverse("listing-create", args=[funded_store.code]),
        {
            "sku": "NEW-2",
            "title": "Towel",
            "description": "更多款式见淘宝",
            "category": general.pk,
            "price": "9.90",
            "stock": "3",
            "promised_dispatch": "24h",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "Screening rejected this listing" in page
    assert "“淘宝”" in page
    assert Listing.objects.get(sku="NEW-2").status == ListingStatus.REJECTED


def test_form_errors_are_shown_on_their_fields(seller_client, funded_store, store_factory):
    listing = ListingFactory(store=funded_store, sku="A-1")
    ListingFactory(store=funded_store, sku="A-2")
    response = seller_client.post(
        reverse("listing-edit", args=[funded_store.code, listing.pk]),
        {
            "sku": "A-2",
            "title": "T",
            "category": listing.category_id,
            "price": "5",
            "stock": "1",
            "promised_dispatch": "24h",
        },
    )
    assert response.status_code == 400
    assert "The store already has a listing with SKU A-2." in response.content.decode()


def test_bulk_upload_page_shows_per_row_results(seller_client, funded_store):
    from django.core.files.uploadedfile import SimpleUploadedFile

    content = (
        b"sku,title,category,price,stock,promised_dispatch_hours,description,brand\n"
        b"B-1,Towel,general,9.9,1,24,,\n"
        b"B-2,Towel,general,oops,1,24,,\n"
    )
    response = seller_client.post(
        reverse("listing-upload", args=[funded_store.code]),
        {"file": SimpleUploadedFile("l.csv", content, content_type="text/csv")},
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "1 problem found: nothing was saved." in page
    assert "not a number: oops" in page
    assert "OK: would be created" in page
    assert not Listing.objects.filter(store=funded_store).exists()


def test_bulk_upload_of_a_non_spreadsheet(seller_client, funded_store):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = seller_client.post(
        reverse("listing-upload", args=[funded_store.code]),
        {"file": SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00", content_type="image/png")},
    )
    assert response.status_code == 400
    assert "This is not a spreadsheet" in response.content.decode()


def test_listing_list_costs_a_fixed_number_of_queries(
    seller_client, funded_store, django_assert_max_num_queries
):
    ListingFactory.create_batch(3, store=funded_store)
    url = reverse("listing-list", args=[funded_store.code])
    seller_client.get(url)  # warm the session
    with django_assert_max_num_queries(12) as small:
        seller_client.get(url)
    ListingFactory.create_batch(20, store=funded_store)
    with django_assert_max_num_queries(len(small.captured_queries)):
        seller_client.get(url)


def test_dashboard_and_deposit_show_the_figures(seller_client, funded_store):
    from decimal import Decimal

    from merchants.services import deposit_record

    deposit_record(
        store=funded_store, kind="deduction", amount=Decimal("150"), reason="Late dispatch penalty"
    )
    page = seller_client.get(reverse("dashboard", args=[funded_store.code])).content.decode()
    assert "¥1,850.00" in page and "¥2,000.00" in page
    assert "Short by ¥150.00" in page
    assert "withdrawals held" in page
    ledger = seller_client.get(reverse("deposit", args=[funded_store.code])).content.decode()
    assert "Late dispatch penalty" in ledger and "-150.00" in ledger


def test_home_redirects_to_a_store_and_lists_only_own_stores(seller_client, funded_store):
    StoreFactory(name="Somebody else's shop")
    response = seller_client.get(reverse("home"))
    assert response["Location"] == reverse("dashboard", args=[funded_store.code])
    page = seller_client.get(response["Location"]).content.decode()
    assert "Somebody else&#x27;s shop" not in page and "Somebody else's shop" not in page


def test_login_and_lockout_after_repeated_failures(funded_store, owner):
    client = Client()
    for _ in range(5):
        response = client.post(reverse("login"), {"username": owner.username, "password": "wrong"})
    response = client.post(reverse("login"), {"username": owner.username, "password": "pw-123456"})
    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_works(funded_store, owner):
    client = Client()
    response = client.post(reverse("login"), {"username": owner.username, "password": "pw-123456"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_pages_switch_to_simplified_chinese(seller_client, funded_store):
    from decimal import Decimal

    from merchants.services import deposit_record

    deposit_record(store=funded_store, kind="deduction", amount=Decimal("1"), reason="test")
    response = seller_client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert response.status_code == 302
    page = seller_client.get(reverse("dashboard", args=[funded_store.code])).content.decode()
    assert 'lang="zh-hans"' in page
    assert "保证金" in page
    # A reason the engine recorded is shown in the page's language.
    assert "保证金低于应缴金额" in page
    assert "Deposit below the required amount" not in page


def test_out_of_range_numbers_in_the_form_are_field_errors(seller_client, funded_store):
    response = seller_client.post(
        reverse("listing-create", args=[funded_store.code]),
        {
            "sku": "BIG-1",
            "title": "Towel",
            "category": funded_store.main_category.pk,
            "price": "9.90",
            "stock": "99999999999",
            "promised_dispatch": "24h",
        },
    )
    assert response.status_code == 400
    assert "Ensure this value is less than or equal to 2147483647." in response.content.decode()
    assert not Listing.objects.exists()
