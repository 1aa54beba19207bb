"""The HTTP API of the incentives service: routers and error mapping."""

from __future__ import annotations

from icr.incentives.api import admin, points
from icr.incentives.api.errors import EXCEPTION_HANDLERS

ROUTERS = [points.router, admin.router]

__all__ = ["EXCEPTION_HANDLERS", "ROUTERS"]
