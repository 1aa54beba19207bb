"""/health/live, /health/ready and /metrics, the same on every service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Check = Callable[[], Awaitable[None]]


class Readiness:
    """Named checks; ready only when every one passes within the timeout."""

    def __init__(self, timeout: float = 2.0) -> None:
        self.checks: dict[str, Check] = {}
        self.timeout = timeout

    def add(self, name: str, check: Check) -> None:
        self.checks[name] = check

    async def run(self) -> dict[str, str]:
        async def one(check: Check) -> str:
            try:
                await asyncio.wait_for(check(), self.timeout)
            except TimeoutError:
                return "timeout"
            except Exception as exc:
                return f"down: {type(exc).__name__}: {exc}"[:300]
            return "ok"

        names = list(self.checks)
        results = await asyncio.gather(*(one(self.checks[n]) for n in names))
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
