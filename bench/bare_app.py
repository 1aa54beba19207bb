"""The raw baseline for bench_pipeline.py: a bare FastAPI endpoint doing one `insert_one`.

    MONGO_URL=... BARE_DB=... uvicorn bare_app:app --app-dir bench --no-access-log

It parses the same JSON body as a request submit and answers 201, so the ratio against the
requests service shows what ICR's own work (domain, outbox, relay, indexes) costs on top of
FastAPI, uvicorn and the store.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pymongo import AsyncMongoClient


class Body(BaseModel):
    catalog_item_id: str
    title: str
    form: dict[str, Any] = {}


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27018/?directConnection=true"),
        tz_aware=True,
    )
    app.state.things = client[os.environ.get("BARE_DB", "bench_bare")]["things"]
    try:
        yield
    finally:
        await client.close()


app = FastAPI(lifespan=lifespan)


@app.get("/health/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/requests", status_code=201)
async def submit(body: Body) -> dict[str, str]:
    key = str(uuid.uuid4())
    await app.state.things.insert_one({"_id": key, **body.model_dump()})
    return {"id": key}
