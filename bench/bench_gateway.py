"""Gateway benchmark (issue 11): GraphQL over HTTP against a bare FastAPI endpoint doing the same
HTTP and JSON work, side by side in one run, on the same uvicorn settings.

    uv run python bench/bench_gateway.py

1. `{ __typename }`: the gateway (uvicorn icr.gateway.main:app) against bench/bare_graphql.py.
   Target: at least 0.5x the bare endpoint's requests per second.
2. `me` (the caller's profile from the requests service, through the gateway) against the
   requests service's own GET /people/{id} answered directly: what the GraphQL hop costs.

The load comes from a raw keep-alive HTTP/1.1 client (asyncio streams on uvloop, CONNECTIONS
connections, one request in flight on each) so the client is not the bottleneck a Python HTTP
library would be. Each figure: requests per second, p50 and p99. BENCH_SECONDS (10) per figure;
BENCH_PARTS picks parts (typename,me). Every database and topic is the run's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
from typing import Any

import httpx
import orjson
import uvloop
from bench_pipeline import App, service_env  # bench/ is on sys.path when run as a script
from bench_requests import percentile
from pymongo import AsyncMongoClient

from icr.kit.devidentity import DEV_AUDIENCE, DEV_ISSUER, DevIssuer

SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
ROUNDS = 4
PARTS = set(os.environ.get("BENCH_PARTS", "typename").split(","))
RUN = secrets.token_hex(3)
MONGO_URL = os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27018/?directConnection=true")


def request_bytes(method: str, path: str, body: bytes | None, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines += ["content-type: application/json", f"content-length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def one_connection(
    port: int, raw: bytes, stop: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (started := time.perf_counter()) < stop:
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if head[9:12] == b"200":
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                errors.append(int(head[9:12]))
    finally:
        writer.close()


async def load(port: int, raw: bytes, seconds: float = SECONDS) -> dict[str, Any]:
    """CONNECTIONS keep-alive connections sending `raw` back to back for `seconds`."""
    warm: list[float] = []
    await asyncio.gather(
        *(one_connection(port, raw, time.perf_counter() + 0.5, warm, []) for _ in range(4))
    )
    latencies: list[float] = []
    errors: list[int] = []
    began = time.perf_counter()
    stop = began + seconds
    await asyncio.gather(
        *(one_connection(port, raw, stop, latencies, errors) for _ in range(CONNECTIONS))
    )
    elapsed = time.perf_counter() - began
    return {"rate": len(latencies) / elapsed, "latencies": latencies, "errors": errors}


def line(name: str, result: dict[str, Any]) -> str:
    samples = result["latencies"] or [0.0]
    errors = f"  errors {len(result['errors'])}" if result["errors"] else ""
    return (
        f"  {name:<34} {result['rate']:8.0f} req/s  p50 {statistics.median(samples):6.2f} ms"
        f"  p99 {percentile(samples, 99):6.2f} ms{errors}"
    )


def ratio(name: str, ours: dict[str, Any], bare: dict[str, Any]) -> str:
    return f"  {name}: {ours['rate'] / bare['rate']:.2f}x the bare endpoint"


def auth_env(issuer: DevIssuer) -> dict[str, str]:
    return {
        "ENVIRONMENT": "development",
        "AUTH_ISSUER": DEV_ISSUER,
        "AUTH_AUDIENCE": DEV_AUDIENCE,
        "AUTH_JWKS_FILE": str(issuer.jwks_path),
    }


def merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = sum(len(p["latencies"]) / p["rate"] for p in parts if p["rate"])
    latencies = [x for p in parts for x in p["latencies"]]
    errors = [x for p in parts for x in p["errors"]]
    return {
        "rate": len(latencies) / seconds if seconds else 0.0,
        "latencies": latencies,
        "errors": errors,
    }


async def typename(issuer: DevIssuer) -> None:
    print("== { __typename }: gateway vs a bare FastAPI endpoint parsing the same body")
    body = orjson.dumps({"query": "{ __typename }"})
    raw = request_bytes("POST", "/graphql", body, {})
    bare = App("bare-graphql", "bare_graphql:app", {}, app_dir=str(os.path.dirname(__file__)))
    # Live, not ready: this gateway has no services behind it and needs none for __typename.
    gateway = App("gateway", "icr.gateway.main:app", auth_env(issuer), ready_path="/health/live")
    apps = {"bare FastAPI": bare, "gateway": gateway}
    parts: dict[str, list[dict[str, Any]]] = {name: [] for name in apps}
    for app in apps.values():
        await app.start()
    try:
        # Interleaved rounds: a machine shared with other work loads both sides alike.
        for _ in range(ROUNDS):
            for name, app in apps.items():
                parts[name].append(await load(app.port, raw, SECONDS / ROUNDS))
    finally:
        for app in apps.values():
            await app.stop()
    results = {name: merged(p) for name, p in parts.items()}
    for name, result in results.items():
        print(line(name, result), flush=True)
    print(ratio("gateway { __typename }", results["gateway"], results["bare FastAPI"]))


async def me(issuer: DevIssuer) -> None:
    print("== me: through the gateway vs the requests service's GET /people/{id} directly")
    db = f"benchg_requests_{RUN}"
    env = {**service_env(db), **auth_env(issuer), "BOOTSTRAP_ADMINS": "admin"}
    service = App("requests", "icr.requests.main:app", env)
    await service.start()
    gateway = App("gateway", "icr.gateway.main:app", auth_env(issuer), ready_path="/health/live")
    try:
        admin = {"authorization": f"Bearer {issuer.token('admin')}"}
        async with httpx.AsyncClient(base_url=service.url, headers=admin) as http:
            department = {
                "name": {"en": "Bench"},
                "calendar": {"timezone": "UTC", "week": {"mon": "09:00-17:00"}},
            }
            (await http.put("/departments/bench", json=department)).raise_for_status()
            person = {"name": "Ana", "department_id": "bench", "roles": ["employee"]}
            (await http.put("/people/ana", json=person)).raise_for_status()
        token = {"authorization": f"Bearer {issuer.token('ana', hours=8)}"}
        direct = await load(service.port, request_bytes("GET", "/people/ana", None, token))
        print(line("requests GET /people/ana", direct), flush=True)
        gateway.env["REQUESTS_URL"] = service.url
        await gateway.start()
        query = orjson.dumps({"query": "{ me { id name roles department { id name } } }"})
        through = await load(gateway.port, request_bytes("POST", "/graphql", query, token))
        print(line("gateway { me { ... } }", through), flush=True)
        print(ratio("gateway me", through, direct))
    finally:
        await gateway.stop()
        await service.stop()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URL)
        with contextlib.suppress(Exception):
            await client.drop_database(db)
        await client.close()


async def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as folder:
        issuer = DevIssuer(folder)
        if "typename" in PARTS:
            await typename(issuer)
        if "me" in PARTS:
            await me(issuer)


if __name__ == "__main__":
    sys.exit(uvloop.run(main()))
