from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from merchants.models import DepositEntry, Listing, Sanction, Store, StoreEvent

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        Store.objects.count(),
        Listing.objects.count(),
        DepositEntry.objects.count(),
        Sanction.objects.count(),
        StoreEvent.objects.count(),
    )


def test_seed_demo_is_idempotent_and_the_logins_work(capsys):
    call_command("seed_demo", force=True)
    first = snapshot()
    call_command("seed_demo", force=True)
    assert snapshot() == first
    assert "demo-pass-2026" in capsys.readouterr().out

    statuses = dict(Store.objects.values_list("code", "status"))
    assert statuses == {
        "DEMO-001": "active",
        "DEMO-002": "active",
        "DEMO-003": "active",
        "DEMO-004": "suspended",
        "DEMO-005": "pending_review",
        "DEMO-006": "pending_review",
    }
    assert Listing.objects.count() == 58
    stores = {s.code: s for s in Store.objects.all()}
    assert [
        (s.can_list, s.can_take_orders, s.can_withdraw) for s in (stores["DEMO-001"], stores["DEMO-002"])
    ] == [
        (True, True, True),
        (True, True, False),  # short for 20 hours: withdrawals held, restriction still to come
    ]
    assert (stores["DEMO-003"].can_list, stores["DEMO-003"].can_take_orders) == (False, False)
    assert stores["DEMO-002"].opened_on >= timezone.localdate() - timedelta(days=30)
    assert set(Listing.objects.filter(status="rejected").values_list("sku", flat=True)) == {
        "HOME-900",
        "HOME-901",
    }

    def client_for(username):
        user = get_user_model().objects.get(username=username)
        assert user.check_password("demo-pass-2026"), username
        client = Client()
        client.force_login(user)
        return client

    seller = client_for("demo-seller")
    assert seller.get("/s/DEMO-001/").status_code == 200
    assert seller.get("/s/DEMO-002/").status_code == 200
    assert seller.get("/s/DEMO-003/").status_code == 404

    cs = client_for("demo-cs")
    assert cs.get("/s/DEMO-001/listings/").status_code == 200
    assert cs.get("/s/DEMO-002/").status_code == 404

    for username in ("demo-reviewer", "demo-inspector", "demo-finance", "admin"):
        staff = client_for(username)
        assert staff.get("/admin/").status_code == 200, username


def test_seed_demo_refuses_without_debug():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="only with DEBUG=1"):
        call_command("seed_demo")
    assert not Store.objects.exists()
