"""The raw baseline for bench_gateway.py: a bare FastAPI endpoint doing the HTTP and JSON work of
a GraphQL request without GraphQL.

    BARE_ANSWERS=answers.json uvicorn bare_graphql:app --app-dir bench --no-access-log

It parses the same JSON body (a `query` string and optional `variables`), checks it is an
object, and answers the same JSON the gateway answered for that query (BARE_ANSWERS: a file
mapping each query's text to the gateway's recorded answer; `{ __typename }` needs none), so
the gateway's ratio against it is what GraphQL (parse, validate, execute), the calls to the
services behind it and the gateway's own middleware cost on top of FastAPI and uvicorn.
"""

from __future__ import annotations

import json
import os
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI()
ANSWERS: dict[str, Any] = {"{ __typename }": {"data": {"__typename": "Query"}}}
if os.environ.get("BARE_ANSWERS"):
    with open(os.environ["BARE_ANSWERS"], encoding="utf-8") as file:
        ANSWERS.update(json.load(file))


class Body(BaseModel):
    query: str
    variables: dict[str, Any] | None = None
    operationName: str | None = None  # the GraphQL over HTTP name


@app.get("/health/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/graphql")
async def graphql(body: Body) -> Any:
    try:
        return ANSWERS[body.query]
    except KeyError:
        raise HTTPException(400, "no recorded answer for this query") from None
