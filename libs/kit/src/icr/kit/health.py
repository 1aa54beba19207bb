"""/health/live, /health/ready and /metrics, the same on every service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Check = Callable[[], Awaitable[None]]
log = logging.getLogger(__name__)


class NotReady(Exception):
    """A check's own account of what is wrong, written for /health/ready's answer.

    Anything else a check raises is reported as plain `down`: a driver's message can carry a
    connection string, a host name or a credential, so it goes to the log, not to the caller.
    """


class Readiness:
    """Named checks; ready only when every one passes within the timeout."""

    def __init__(self, timeout: float = 2.0) -> None:
        self.checks: dict[str, Check] = {}
        self.timeout = timeout

    def add(self, name: str, check: Check) -> None:
        self.checks[name] = check

    async def run(self) -> dict[str, str]:
        """Each check's state: `ok`, `timeout`, `down`, or `down: <its NotReady reason>`."""

        async def one(name: str, check: Check) -> str:
            try:
                await asyncio.wait_for(check(), self.timeout)
            except TimeoutError:
                return "timeout"
            except NotReady as exc:
                return f"down: {exc}"[:300]
            except Exception:
                log.warning("readiness check failed", extra={"check": name}, exc_info=True)
                return "down"
            return "ok"

        names = list(self.checks)
        results = await asyncio.gather(*(one(n, self.checks[n]) for n in names))
        return dict(zip(names, results, strict=True))


def health_router(readiness_of: Callable[[Request], Readiness]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/health/ready")
    async def ready(request: Request) -> JSONResponse:
        checks = await readiness_of(request).run()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
