from .deposit import DepositAccount, DepositEntry
from .listing import (
    PROMISED_DISPATCH_HOURS,
    Listing,
    ListingEvent,
    ListingStatus,
    PromisedDispatch,
)
from .ruletable import Category, CompensationRule, PointLadderStep, RuleParameter, ScreeningPattern
from .settlement import SettlementEntry, Withdrawal, WithdrawalStatus
from .store import (
    STORE_HOLDING_STATUSES,
    Brand,
    BrandAuthorisation,
    Entity,
    Membership,
    Sanction,
    Store,
    StoreEvent,
    StoreStatus,
)
from .violation import PointEntry, Violation, ViolationStatus, ViolationType

__all__ = [
    "PROMISED_DISPATCH_HOURS",
    "STORE_HOLDING_STATUSES",
    "Brand",
    "BrandAuthorisation",
    "Category",
    "CompensationRule",
    "DepositAccount",
    "DepositEntry",
    "Entity",
    "Listing",
    "ListingEvent",
    "ListingStatus",
    "Membership",
    "PointLadderStep",
    "PromisedDispatch",
    "RuleParameter",
    "PointEntry",
    "Sanction",
    "Violation",
    "ViolationStatus",
    "ViolationType",
    "SettlementEntry",
    "Withdrawal",
    "WithdrawalStatus",
    "ScreeningPattern",
    "Store",
    "StoreEvent",
    "StoreStatus",
]
