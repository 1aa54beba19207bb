"""Persistence of the feedback service: the only package that knows documents and queries."""

from __future__ import annotations

from typing import Any

from icr.feedback.store import campaigns, caps, matrix, ratings, scores, served
from icr.feedback.store.base import Versioned
from icr.feedback.store.campaigns import CampaignStore, answer_key
from icr.feedback.store.caps import CapStore
from icr.feedback.store.matrix import MatrixStore, TrackedRequest
from icr.feedback.store.ratings import RatingStore
from icr.feedback.store.scores import Level, ScoreStore, StoredCell, score_id
from icr.feedback.store.served import ServedStore
from icr.kit.directory import DIRECTORY_INDEXES

INDEXES: dict[str, Any] = {
    **ratings.INDEXES,
    **caps.INDEXES,
    **served.INDEXES,
    **campaigns.INDEXES,
    **scores.INDEXES,
    **matrix.INDEXES,
    **DIRECTORY_INDEXES,
}
OUTBOX_COLLECTIONS = [ratings.RATINGS, campaigns.CAMPAIGNS, campaigns.EVALUATIONS, scores.SCORES]

__all__ = [
    "INDEXES",
    "OUTBOX_COLLECTIONS",
    "CampaignStore",
    "CapStore",
    "Level",
    "MatrixStore",
    "RatingStore",
    "ScoreStore",
    "ServedStore",
    "StoredCell",
    "TrackedRequest",
    "Versioned",
    "answer_key",
    "score_id",
]
