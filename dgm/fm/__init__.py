"""FM access: the socket gateway, budgets, the ledger interface, record/replay, and the
offline `sim` model (which is not a language model)."""

from dgm.fm.accounts import validate_model
from dgm.fm.budget import Budget
from dgm.fm.cache import ResponseCache, canonical_key
from dgm.fm.errors import (
    BudgetExceeded,
    CacheMiss,
    FMError,
    ProviderDown,
    ProviderError,
    RequestError,
)
from dgm.fm.gateway import Gateway
from dgm.fm.ledger import Ledger, MemoryLedger
from dgm.fm.session import ROLES, Session, SessionTags
from dgm.fm.sim.types import SimRequest

__all__ = [
    "ROLES",
    "Budget",
    "BudgetExceeded",
    "CacheMiss",
    "FMError",
    "Gateway",
    "Ledger",
    "MemoryLedger",
    "ProviderDown",
    "ProviderError",
    "RequestError",
    "ResponseCache",
    "Session",
    "SessionTags",
    "SimRequest",
    "canonical_key",
    "validate_model",
]
