from .deposit import DepositAccount, DepositEntry
from .exam import RulesExamAttempt, RulesExamRequirement
from .listing import (
    PROMISED_DISPATCH_HOURS,
    Listing,
    ListingEvent,
    ListingStatus,
    PromisedDispatch,
)
from .ruletable import (
    Category,
    CompensationRule,
    OccurrenceLadderStep,
    PointLadderStep,
    PublicHoliday,
    RuleParameter,
    ScreeningPattern,
)
from .score import StoreScore
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
from .violation import (
    OccurrenceLadderApplication,
    PointEntry,
    PointYearClose,
    Violation,
    ViolationStatus,
    ViolationType,
)

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
    "OccurrenceLadderApplication",
    "OccurrenceLadderStep",
    "PointLadderStep",
    "PointYearClose",
    "RulesExamAttempt",
    "RulesExamRequirement",
    "PromisedDispatch",
    "PublicHoliday",
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
    "StoreScore",
    "StoreStatus",
]
