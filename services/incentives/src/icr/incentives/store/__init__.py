"""The incentives service's Mongo stores: they own every query and index."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pymongo import IndexModel

from icr.incentives.store.accounts import ACCOUNT_INDEXES, ACCOUNTS, AccountStore
from icr.incentives.store.boards import BOARD_INDEXES, BOARDS, CAPS, BoardStore, CapStore
from icr.incentives.store.facts import FACT_INDEXES, FACTS, FactStore
from icr.incentives.store.ledger import LEDGER, LEDGER_INDEXES, LedgerStore
from icr.incentives.store.policies import POLICIES, POLICY_INDEXES, PolicyStore
from icr.incentives.store.recognition import ALLOWANCES, AllowanceStore
from icr.incentives.store.rewards import (
    REDEMPTION_INDEXES,
    REDEMPTIONS,
    REWARD_INDEXES,
    REWARDS,
    RedemptionStore,
    RewardStore,
)
from icr.kit.directory import DIRECTORY_INDEXES

INDEXES: Mapping[str, Sequence[IndexModel]] = {
    LEDGER: LEDGER_INDEXES,
    ACCOUNTS: ACCOUNT_INDEXES,
    BOARDS: BOARD_INDEXES,
    CAPS: [],
    FACTS: FACT_INDEXES,
    POLICIES: POLICY_INDEXES,
    ALLOWANCES: [],
    REWARDS: REWARD_INDEXES,
    REDEMPTIONS: REDEMPTION_INDEXES,
    **DIRECTORY_INDEXES,
}
OUTBOX_COLLECTIONS = (LEDGER, POLICIES, ALLOWANCES, REDEMPTIONS)

__all__ = [
    "INDEXES",
    "OUTBOX_COLLECTIONS",
    "AccountStore",
    "AllowanceStore",
    "BoardStore",
    "CapStore",
    "FactStore",
    "LedgerStore",
    "PolicyStore",
    "RedemptionStore",
    "RewardStore",
]
