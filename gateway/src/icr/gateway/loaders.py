"""DataLoaders, fresh for each GraphQL request: one batched call per kind of thing per query
instead of one per field (no N+1), chunked to the services' batch limits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from icr.gateway.clients import Clients, Json, ServiceClient, UpstreamError, segment

Token = Callable[[], str]


def _by_key(
    load: Callable[[list[str]], Awaitable[Sequence[Json]]], key: str, max_batch: int | None = None
) -> DataLoader[str, Json | None]:
    async def batch(ids: list[str]) -> list[Json | None]:
        rows = {row[key]: row for row in await load(ids)}
        return [rows.get(i) for i in ids]

    # Keys past a service's batch limit go in further calls, dispatched together.
    return DataLoader(load_fn=batch, max_batch_size=max_batch)


def _batch(
    client: ServiceClient, path: str, param: str, token: Token
) -> Callable[[list[str]], Awaitable[Any]]:
    async def load(ids: list[str]) -> Any:
        return await client.call("GET", path, token=token(), params={param: ids})

    return load


def _each(client: ServiceClient, path: str, token: Token) -> DataLoader[str, Json]:
    """For what a service serves one at a time only (a request's full detail)."""

    async def load(ids: list[str]) -> list[Json]:
        calls = (client.call("GET", path.format(id=segment(i)), token=token()) for i in ids)
        return list(await asyncio.gather(*calls))

    return DataLoader(load_fn=load)


def _whole_list(
    client: ServiceClient, path: str, token: Token, each: str | None = None
) -> DataLoader[str, Json | None]:
    """For short lists a service serves whole (departments, the catalog): one call per query;
    what the list leaves out (a retired catalog item) is fetched by `each` if given."""

    async def one(i: str) -> Json | None:
        assert each is not None
        try:
            row: Json = await client.call("GET", each.format(id=segment(i)), token=token())
        except UpstreamError as error:
            if error.status == 404:
                return None
            raise
        return row

    async def load(ids: list[str]) -> list[Json | None]:
        rows = {row["id"]: row for row in await client.call("GET", path, token=token())}
        missing = [i for i in ids if i not in rows] if each else []
        for i, row in zip(missing, await asyncio.gather(*map(one, missing)), strict=True):
            rows[i] = row
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


def _paths(client: ServiceClient, token: Token) -> DataLoader[str, Any]:
    """Reads by path, each once per query (the caller's account, read by `balance` and by
    `account` in the same query, is one call)."""

    async def load(paths: list[str]) -> list[Any]:
        return list(await asyncio.gather(*(client.call("GET", p, token=token()) for p in paths)))

    return DataLoader(load_fn=load)


class Loaders:
    def __init__(self, clients: Clients, token: Token) -> None:
        limit = clients.settings.requests_batch_limit
        requests = clients.requests
        self.requests = _by_key(_batch(requests, "/requests/batch", "id", token), "id", limit)
        self.details = _each(requests, "/requests/{id}", token)
        self.people = _by_key(_batch(requests, "/people", "id", token), "id", limit)
        self.departments = _whole_list(requests, "/departments", token)
        self.catalog = _whole_list(requests, "/catalog/items", token, "/catalog/items/{id}")
        self.ratings = _by_key(
            _batch(clients.feedback, "/ratings", "request_id", token),
            "request_id",
            clients.settings.feedback_batch_limit,
        )
        self.tracked = _by_key(
            _batch(clients.incentives, "/tracked-requests", "request_id", token),
            "request_id",
            clients.settings.incentives_batch_limit,
        )
        self.incentives = _paths(clients.incentives, token)
