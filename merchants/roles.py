"""What each store role may do in the seller web. Checked by selectors, never by templates alone."""

from django.utils.translation import gettext_lazy as _

VIEW_STORE = "view_store"
VIEW_LISTINGS = "view_listings"
MANAGE_LISTINGS = "manage_listings"
VIEW_DEPOSIT = "view_deposit"
MANAGE_STORE = "manage_store"  # the store itself: voluntary exit, members
VIEW_ORDERS = "view_orders"
MANAGE_ORDERS = "manage_orders"  # ship, cancel, bulk-ship, export
REVEAL_BUYER_DATA = "reveal_buyer_data"
TAKE_RULES_EXAM = "take_rules_exam"
REQUEST_RETEST = "request_retest"  # a paid re-test of a failed spot check
REPLY_COMPLAINTS = "reply_complaints"  # answer complaints with a statement and evidence
RECORD_BUYER_CONTACTS = "record_buyer_contacts"  # buyer messages and call attempts, by form or CSV
APPEAL_VIOLATIONS = "appeal_violations"  # appeal against a violation (owners only: RULES §10)

ROLE_CAPABILITIES = {
    "owner": {
        VIEW_STORE,
        VIEW_LISTINGS,
        MANAGE_LISTINGS,
        VIEW_DEPOSIT,
        MANAGE_STORE,
        VIEW_ORDERS,
        MANAGE_ORDERS,
        REVEAL_BUYER_DATA,
        TAKE_RULES_EXAM,
        REPLY_COMPLAINTS,
        RECORD_BUYER_CONTACTS,
        REQUEST_RETEST,
        APPEAL_VIOLATIONS,
    },
    "operator": {
        VIEW_STORE,
        VIEW_LISTINGS,
        MANAGE_LISTINGS,
        VIEW_DEPOSIT,
        VIEW_ORDERS,
        MANAGE_ORDERS,
        REVEAL_BUYER_DATA,
        TAKE_RULES_EXAM,
        REPLY_COMPLAINTS,
        RECORD_BUYER_CONTACTS,
    },
    "customer_service": {VIEW_STORE, VIEW_LISTINGS, VIEW_ORDERS, REPLY_COMPLAINTS, RECORD_BUYER_CONTACTS},
}

CAPABILITY_NAMES = {
    VIEW_STORE: _("view the store"),
    VIEW_LISTINGS: _("view listings"),
    MANAGE_LISTINGS: _("create and change listings"),
    VIEW_DEPOSIT: _("view the deposit"),
    MANAGE_STORE: _("manage the store itself"),
    VIEW_ORDERS: _("view orders"),
    MANAGE_ORDERS: _("ship, cancel and export orders"),
    REVEAL_BUYER_DATA: _("reveal buyer contact data"),
    TAKE_RULES_EXAM: _("take the rules exam"),
    REPLY_COMPLAINTS: _("reply to complaints"),
    RECORD_BUYER_CONTACTS: _("record buyer messages and calls"),
    REQUEST_RETEST: _("request a paid re-test of a failed spot check"),
    APPEAL_VIOLATIONS: _("appeal against violations"),
}


def role_can(role: str, capability: str) -> bool:
    return capability in ROLE_CAPABILITIES.get(role, set())
