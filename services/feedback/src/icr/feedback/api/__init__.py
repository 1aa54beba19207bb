"""The HTTP API of the feedback service: routers and the error map."""

from __future__ import annotations

from icr.feedback.api import campaigns, matrix, ratings, scores
from icr.feedback.api.errors import EXCEPTION_HANDLERS

ROUTERS = [ratings.router, scores.router, matrix.router, campaigns.router]

__all__ = ["EXCEPTION_HANDLERS", "ROUTERS"]
