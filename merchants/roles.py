"""What each store role may do in the seller web. Checked by selectors, never by templates alone."""

from django.utils.translation import gettext_lazy as _

VIEW_STORE = "view_store"
VIEW_LISTINGS = "view_listings"
MANAGE_LISTINGS = "manage_listings"
VIEW_DEPOSIT = "view_deposit"
MANAGE_STORE = "manage_store"  # the store itself: voluntary exit, members

ROLE_CAPABILITIES = {
    "owner": {VIEW_STORE, VIEW_LISTINGS, MANAGE_LISTINGS, VIEW_DEPOSIT, MANAGE_STORE},
    "operator": {VIEW_STORE, VIEW_LISTINGS, MANAGE_LISTINGS, VIEW_DEPOSIT},
    "customer_service": {VIEW_STORE, VIEW_LISTINGS},
}

CAPABILITY_NAMES = {
    VIEW_STORE: _("view the store"),
    VIEW_LISTINGS: _("view listings"),
    MANAGE_LISTINGS: _("create and change listings"),
    VIEW_DEPOSIT: _("view the deposit"),
    MANAGE_STORE: _("manage the store itself"),
}


def role_can(role: str, capability: str) -> bool:
    return capability in ROLE_CAPABILITIES.get(role, set())
