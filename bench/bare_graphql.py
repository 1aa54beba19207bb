"""The raw baseline for bench_gateway.py: a bare FastAPI endpoint doing the HTTP and JSON work of
`{ __typename }` without GraphQL.

    uvicorn bare_graphql:app --app-dir bench --no-access-log

It parses the same JSON body (a `query` string and optional `variables`), checks it is an
object, and answers the same JSON, so the gateway's ratio against it is what GraphQL (parse,
validate, execute) and the gateway's own middleware cost on top of FastAPI and uvicorn.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Body(BaseModel):
    query: str
    variables: dict[str, Any] | None = None
    operationName: str | None = None  # the GraphQL over HTTP name


@app.get("/health/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/graphql")
async def graphql(body: Body) -> dict[str, Any]:
    return {"data": {"__typename": "Query"}}
