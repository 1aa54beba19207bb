"""The HTTP API of the requests service: routers, error mapping and body limits."""

from __future__ import annotations

from icr.requests.api import catalog, directory, requests
from icr.requests.api.errors import EXCEPTION_HANDLERS
from icr.requests.api.limits import CommandBodyLimit

ROUTERS = [directory.router, catalog.router, requests.router]

__all__ = ["EXCEPTION_HANDLERS", "ROUTERS", "CommandBodyLimit"]
