"""Gateway benchmark (issue 11): GraphQL over HTTP against a bare FastAPI endpoint doing the same
HTTP and JSON work, side by side in one run, on the same uvicorn settings.

    uv run python bench/bench_gateway.py

Three queries, each through the gateway (uvicorn icr.gateway.main:app, the requests, feedback
and incentives services behind it as processes, Kafka for the read cache's event feed) next to
bench/bare_graphql.py, a bare FastAPI endpoint that parses the same body and answers the JSON
the gateway answered:
1. `{ __typename }`: GraphQL and the gateway's middleware alone.
2. `me` with the profile, department and balance: a realistic small query. Target: at least
   0.5x the bare endpoint's requests per second. Measured twice: with the read cache (as
   deployed: people, departments and the caller's own account kept until an event says they
   changed) and with READ_CACHE_SECONDS=0 (every query asks the requests and incentives
   services), on a second gateway process.
3. a page of 50 requests with requester, assignee, both departments and their managers,
   catalog items, SLA and ratings.

The load comes from a raw keep-alive HTTP/1.1 client (asyncio streams on uvloop, CONNECTIONS
connections, one request in flight on each) so the client is not the bottleneck a Python HTTP
library would be. Each figure: requests per second, p50 and p99. BENCH_SECONDS (10) per figure.
Every database and topic is the run's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
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
from bench_pipeline import KAFKA, PREFIX, App, service_env  # bench/ is on sys.path as a script
from bench_requests import percentile
from pymongo import AsyncMongoClient

from icr.kit.devidentity import DEV_AUDIENCE, DEV_ISSUER, DevIssuer

SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
ROUNDS = 4
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


# What a portal asks: `me` with the balance, and a queue page of 50 requests with its people,
# departments, catalog items, SLA and ratings.
ME = "{ me { id name locale roles department { id name } balance } }"
PAGE = """{ requests(first: 50) { nodes { id title status priority allowedActions
  requester { id name department { id name } } assignee { id name }
  requesterDepartment { id name manager { id } } providerDepartment { id name manager { id } }
  catalogItem { id name } sla { resolution { dueAt remainingSeconds breached } }
  rating { status stars rater { id } } }
  pageInfo { hasNextPage endCursor } } }"""
QUERIES = {"{ __typename }": "{ __typename }", "me with balance": ME, "page of 50, nested": PAGE}
UNCACHED = "gateway, no cache"


async def seed(requests_url: str, issuer: DevIssuer) -> None:
    """Two departments, three people, a catalog item and 50 requests (half taken on)."""
    week = {d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    targets = {
        p: {"first_response_minutes": 60, "resolution_minutes": 960}
        for p in ("low", "medium", "high", "critical")
    }
    admin = {"authorization": f"Bearer {issuer.token('admin')}"}
    async with httpx.AsyncClient(base_url=requests_url, headers=admin, timeout=30) as http:
        for dept, name in (("it", "IT"), ("sales", "Sales")):
            body = {"name": {"en": name}, "calendar": {"timezone": "UTC", "week": week}}
            (await http.put(f"/departments/{dept}", json=body)).raise_for_status()
        for person, dept, role in (("ana", "sales", "employee"), ("bo", "it", "agent")):
            body = {"name": person.title(), "department_id": dept, "roles": [role]}
            (await http.put(f"/people/{person}", json=body)).raise_for_status()
        item = {
            "provider_department_id": "it",
            "name": {"en": "New laptop"},
            "owning_team": "desk",
            "targets": targets,
        }
        (await http.put("/catalog/items/laptop", json=item)).raise_for_status()
        ana = {"authorization": f"Bearer {issuer.token('ana')}"}
        bo = {"authorization": f"Bearer {issuer.token('bo')}"}
        for n in range(50):
            body = {"catalog_item_id": "laptop", "title": f"Laptop {n}"}
            created = await http.post("/requests", json=body, headers=ana)
            created.raise_for_status()
            if n % 2:
                rid = created.json()["id"]
                (await http.post(f"/requests/{rid}/accept", headers=bo)).raise_for_status()


async def until_ok(url: str, path: str, headers: dict[str, str], body: str = "") -> None:
    """Until GET `path` answers 200 (and its body holds `body`)."""
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as http:
        async with asyncio.timeout(60):
            while True:
                response = await http.get(path)
                if response.status_code == 200 and body in response.text:
                    return
                await asyncio.sleep(0.1)


async def compare(issuer: DevIssuer) -> None:
    """Each query through the gateway (the services behind it) next to the bare endpoint
    parsing the same body and answering the same JSON, in interleaved rounds."""
    databases = [f"benchg_{name}_{RUN}" for name in ("requests", "feedback", "incentives")]
    services = [
        App(name, f"icr.{name}.main:app", {**service_env(db), **auth_env(issuer)})
        for name, db in zip(("requests", "feedback", "incentives"), databases, strict=True)
    ]
    requests, feedback, incentives = services
    for service in services:
        await service.start()
    gateway_env = {
        **auth_env(issuer),
        "REQUESTS_URL": requests.url,
        "FEEDBACK_URL": feedback.url,
        "INCENTIVES_URL": incentives.url,
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,  # the read cache's event feed
        "KAFKA_TOPIC_PREFIX": PREFIX,
    }
    gateway = App("gateway", "icr.gateway.main:app", gateway_env)
    uncached = App(
        "gateway-nocache", "icr.gateway.main:app", {**gateway_env, "READ_CACHE_SECONDS": "0"}
    )
    answers = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)  # noqa: SIM115
    bare = App(
        "bare-graphql",
        "bare_graphql:app",
        {"BARE_ANSWERS": answers.name},
        app_dir=str(os.path.dirname(__file__)),
    )
    try:
        await seed(requests.url, issuer)
        token = {"authorization": f"Bearer {issuer.token('ana', hours=8)}"}
        # The incentives service learns people from the requests service's events.
        await until_ok(incentives.url, "/accounts/me", token)
        await gateway.start()
        await uncached.start()
        await until_ok(gateway.url, "/metrics", {}, "icr_gateway_read_cache_serving 1.0")
        recorded = {}
        async with httpx.AsyncClient(base_url=gateway.url, headers=token, timeout=30) as http:
            for name, query in QUERIES.items():
                body = (await http.post("/graphql", json={"query": query})).json()
                if "errors" in body:
                    raise SystemExit(f"{name}: {body['errors']}")
                recorded[query] = body
        nodes = recorded[PAGE]["data"]["requests"]["nodes"]
        assert len(nodes) == 50, len(nodes)
        json.dump(recorded, answers)
        answers.close()
        await bare.start()
        parts: dict[tuple[str, str], list[dict[str, Any]]] = {}
        # Every query with the caller's token, as a client sends it.
        raws = {
            name: request_bytes("POST", "/graphql", orjson.dumps({"query": q}), token)
            for name, q in QUERIES.items()
        }
        sides = {name: {"bare FastAPI": bare, "gateway": gateway} for name in QUERIES}
        sides["me with balance"][UNCACHED] = uncached
        # Interleaved rounds: a machine shared with other work loads both sides alike.
        for _ in range(ROUNDS):
            for name, raw in raws.items():
                for side, app in sides[name].items():
                    result = await load(app.port, raw, SECONDS / ROUNDS)
                    parts.setdefault((name, side), []).append(result)
        print(
            f"{'query':<20} {'side':<18} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  ratio",
            flush=True,
        )
        for name in QUERIES:
            bare_result = merged(parts[(name, "bare FastAPI")])
            for side in sides[name]:
                result = merged(parts[(name, side)])
                samples = result["latencies"] or [0.0]
                errors = f"  errors {len(result['errors'])}" if result["errors"] else ""
                share = (
                    "" if side == "bare FastAPI" else f"{result['rate'] / bare_result['rate']:.2f}x"
                )
                print(
                    f"{name:<20} {side:<18} {result['rate']:8.0f} "
                    f"{statistics.median(samples):8.2f} {percentile(samples, 99):8.2f}  "
                    f"{share}{errors}",
                    flush=True,
                )
    finally:
        for app in (bare, gateway, uncached, *services):
            await app.stop()
        os.unlink(answers.name)
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URL)
        for db in databases:
            with contextlib.suppress(Exception):
                await client.drop_database(db)
        await client.close()


async def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    print(
        f"gateway benchmark: {CONNECTIONS} keep-alive connections, {SECONDS:.0f} s per figure "
        f"in {ROUNDS} interleaved rounds, one uvicorn worker each (uvloop, httptools)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as folder:
        await compare(DevIssuer(folder))


if __name__ == "__main__":
    sys.exit(uvloop.run(main()))
