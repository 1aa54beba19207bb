"""DataLoaders, fresh for each GraphQL request: one batched call per kind of thing per query
instead of one per field (no N+1), chunked to the services' batch limits. People, departments,
the catalog and the caller's own account come from the read cache (icr.gateway.cache) when it
has them and the caller is a person it knows to be active."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property
from typing import Any

from strawberry.dataloader import DataLoader

from icr.gateway.auth import unauthenticated
from icr.gateway.cache import (
    ACCOUNTS,
    CATALOG_LIST,
    DEPARTMENTS_LIST,
    LISTS,
    PEOPLE,
    Key,
    ReadCache,
)
from icr.gateway.clients import Clients, Json, ServiceClient, UpstreamError, segment

Token = Callable[[], str]
MY_ACCOUNT = "/accounts/me"


class Trust:
    """Whether cached reads may be served to this request's caller: the cache must know them
    as an active person (what each service checks before answering them). Entries are filled
    from any caller's reads, since what is shared is what every authenticated person may read.

    Asked on every read, not once per context: a websocket's context lives as long as its
    connection, and the caller may be deactivated (their row dropped) meanwhile."""

    def __init__(self, cache: ReadCache, subject: Token) -> None:
        self.cache = cache
        self.subject = subject

    def caller(self) -> bool:
        me = self.cache.peek((PEOPLE, self.subject()))
        if me is None:
            return False
        if not me.get("active", False):
            # What every service answers them too; the cache only says it sooner.
            raise unauthenticated("the token's person is deactivated")
        return True

    def get(self, key: Key) -> Any:
        return self.cache.get(key) if self.caller() else None


def _by_key(
    load: Callable[[list[str]], Awaitable[Sequence[Json]]], key: str, max_batch: int | None = None
) -> DataLoader[str, Json | None]:
    async def batch(ids: list[str]) -> list[Json | None]:
        rows = {row[key]: row for row in await load(ids)}
        return [rows.get(i) for i in ids]

    # Keys past a service's batch limit go in further calls, dispatched together.
    return DataLoader(load_fn=batch, max_batch_size=max_batch)


def _people(
    load: Callable[[list[str]], Awaitable[Sequence[Json]]], trust: Trust, max_batch: int | None
) -> DataLoader[str, Json | None]:
    """People by id, the cached ones without a call; the caller's own row rides along with a
    call that goes anyway, so their next query can be trusted with the cache."""
    cache = trust.cache

    async def batch(ids: list[str]) -> list[Json | None]:
        ticket = cache.ticket()
        rows: dict[str, Json] = {}
        if trust.caller():
            for i in ids:
                row = cache.get((PEOPLE, i))
                if row is not None:
                    rows[i] = row
        missing = [i for i in ids if i not in rows]
        if missing:
            me = trust.subject()
            unknown = ticket is not None and me not in missing and cache.get((PEOPLE, me)) is None
            if unknown and (max_batch is None or len(missing) < max_batch):
                missing.append(me)
            for row in await load(missing):
                rows[row["id"]] = row
                cache.put((PEOPLE, row["id"]), row, ticket)
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
    client: ServiceClient, path: str, token: Token, trust: Trust, each: str | None = None
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

    key: Key = (LISTS, path)  # the cache drops it by this key (DEPARTMENTS_LIST, CATALOG_LIST)

    async def load(ids: list[str]) -> list[Json | None]:
        listing: dict[str, Json] | None = trust.get(key)
        if listing is None:
            ticket = trust.cache.ticket()
            fetched: list[Json] = await client.call("GET", path, token=token())
            listing = {row["id"]: row for row in fetched}
            trust.cache.put(key, listing, ticket)
        rows: dict[str, Json | None] = dict(listing)
        missing = [i for i in ids if i not in rows] if each else []
        for i, row in zip(missing, await asyncio.gather(*map(one, missing)), strict=True):
            rows[i] = row
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


def _paths(client: ServiceClient, token: Token, trust: Trust) -> DataLoader[str, Any]:
    """Reads by path, each once per query (the caller's account, read by `balance` and by
    `account` in the same query, is one call; from the cache when it has it)."""

    async def one(path: str) -> Any:
        if path != MY_ACCOUNT:
            return await client.call("GET", path, token=token())
        key = (ACCOUNTS, trust.subject())
        row = trust.get(key)
        if row is None:
            ticket = trust.cache.ticket()
            row = await client.call("GET", path, token=token())
            trust.cache.put(key, row, ticket)
        return row

    async def load(paths: list[str]) -> list[Any]:
        return list(await asyncio.gather(*map(one, paths)))

    return DataLoader(load_fn=load)


class Loaders:
    """Made for every GraphQL request; each loader only when the query first needs it."""

    def __init__(self, clients: Clients, token: Token, subject: Token) -> None:
        self.clients = clients
        self.token = token
        self.trust = Trust(clients.cache, subject)

    # Cached reads without a loader's round of scheduling: what the cache has is answered at
    # once (the resolver stays synchronous); None sends the caller to the loader.

    def cached_person(self, person_id: str) -> Json | None:
        row: Json | None = self.trust.get((PEOPLE, person_id))
        return row

    def cached_department(self, department_id: str) -> Json | None:
        listing: dict[str, Json] | None = self.trust.get(DEPARTMENTS_LIST)
        return None if listing is None else listing.get(department_id)

    def cached_catalog_item(self, item_id: str) -> Json | None:
        listing: dict[str, Json] | None = self.trust.get(CATALOG_LIST)
        return None if listing is None else listing.get(item_id)

    def cached_account(self) -> Json | None:
        row: Json | None = self.trust.get((ACCOUNTS, self.trust.subject()))
        return row

    @cached_property
    def requests(self) -> DataLoader[str, Json | None]:
        limit = self.clients.settings.requests_batch_limit
        load = _batch(self.clients.requests, "/requests/batch", "id", self.token)
        return _by_key(load, "id", limit)

    @cached_property
    def details(self) -> DataLoader[str, Json]:
        return _each(self.clients.requests, "/requests/{id}", self.token)

    @cached_property
    def people(self) -> DataLoader[str, Json | None]:
        load = _batch(self.clients.requests, "/people", "id", self.token)
        return _people(load, self.trust, self.clients.settings.requests_batch_limit)

    @cached_property
    def departments(self) -> DataLoader[str, Json | None]:
        return _whole_list(self.clients.requests, "/departments", self.token, self.trust)

    @cached_property
    def catalog(self) -> DataLoader[str, Json | None]:
        each = "/catalog/items/{id}"
        return _whole_list(self.clients.requests, "/catalog/items", self.token, self.trust, each)

    @cached_property
    def ratings(self) -> DataLoader[str, Json | None]:
        load = _batch(self.clients.feedback, "/ratings", "request_id", self.token)
        return _by_key(load, "request_id", self.clients.settings.feedback_batch_limit)

    @cached_property
    def tracked(self) -> DataLoader[str, Json | None]:
        load = _batch(self.clients.incentives, "/tracked-requests", "request_id", self.token)
        return _by_key(load, "request_id", self.clients.settings.incentives_batch_limit)

    @cached_property
    def incentives(self) -> DataLoader[str, Any]:
        return _paths(self.clients.incentives, self.token, self.trust)
