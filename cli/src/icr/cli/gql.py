"""A small GraphQL client for the gateway: one token per person, typed mutation results.

Mutations answer `ServiceRequest | InvalidInput | NotFound | Forbidden | Conflict`; `Problem`
carries the typename and message of a refusal so callers decide what an expected refusal
means (a simulated agent who lost a race gets a Conflict, which is no failure of the tool)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from icr.cli.target import Target

Json = dict[str, Any]

NOT_IN_DIRECTORY = "not in the directory"
DIRECTORY_WAITS = 120  # 30 s
RETRIES = 5
PROBLEMS = (
    "InvalidInput", "NotFound", "Forbidden", "Conflict",
    # the incentives mutations' own refusals
    "AllowanceExceeded", "RecipientCapReached", "InsufficientBalance", "OutOfStock",
)  # fmt: skip
# Every mutation asks for the same problem fields.
PROBLEM_FIELDS = """
    ... on InvalidInput { message fields { field message } }
    ... on NotFound { message }
    ... on Forbidden { message }
    ... on Conflict { message currentStatus }
"""


class GraphQLError(Exception):
    """The gateway answered with errors (or not at all): nothing the caller expected."""


class Unavailable(GraphQLError):
    """A service or the gateway is down or past its deadline (503, SERVICE_UNAVAILABLE): the
    call may be tried again; a write may still have landed."""


class Problem(Exception):
    """A typed refusal of a mutation (InvalidInput, NotFound, Forbidden, Conflict)."""

    def __init__(self, typename: str, body: Json) -> None:
        self.typename = typename
        self.body = body
        fields = "; ".join(f"{f['field']}: {f['message']}" for f in body.get("fields") or [])
        super().__init__(f"{typename}: {body.get('message', '')}{f' ({fields})' if fields else ''}")


class Gateway:
    """Calls the gateway as any person of the organisation, with a development token each."""

    def __init__(self, target: Target, *, timeout: float = 15.0, concurrency: int = 8) -> None:
        self.target = target
        self._issuer = target.issuer()
        self._tokens: dict[str, str] = {}
        self._http = httpx.AsyncClient(base_url=target.gateway, timeout=timeout)
        self.limit = asyncio.Semaphore(concurrency)
        self.calls = 0

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    def headers(self, person: str) -> dict[str, str]:
        token = self._tokens.get(person)
        if token is None:
            token = self._tokens[person] = self._issuer.token(person, hours=24)
        return {"Authorization": f"Bearer {token}"}

    async def query(self, document: str, variables: Json | None = None, *, actor: str) -> Json:
        # A person just written reaches the gateway's directory a moment later (it follows the
        # directory's events): wait for it a little instead of failing.
        # A read that met an outage is tried again a few times (a write is the caller's call:
        # it may have landed).
        reads = 0
        for attempt in range(DIRECTORY_WAITS):
            try:
                return await self._query(document, variables, actor=actor)
            except Unavailable:
                reads += 1
                if document.lstrip().startswith("mutation") or reads > RETRIES:
                    raise
                await asyncio.sleep(0.5 * reads)
            except GraphQLError as exc:
                if NOT_IN_DIRECTORY not in str(exc) or attempt == DIRECTORY_WAITS - 1:
                    raise
                await asyncio.sleep(0.25)
        raise AssertionError("unreachable")

    async def _query(self, document: str, variables: Json | None, *, actor: str) -> Json:
        async with self.limit:
            self.calls += 1
            try:
                response = await self._http.post(
                    "/graphql",
                    json={"query": document, "variables": variables or {}},
                    headers=self.headers(actor),
                )
            except httpx.HTTPError as exc:
                raise GraphQLError(
                    f"the gateway at {self.target.gateway} cannot be reached: {exc!r}"
                ) from exc
        if response.status_code == 503:
            raise Unavailable(f"HTTP 503: {response.text[:300]}")
        try:
            body = response.json()
        except ValueError as exc:
            raise GraphQLError(f"HTTP {response.status_code}: {response.text[:300]}") from exc
        if body.get("errors"):
            first = body["errors"][0]
            code = (first.get("extensions") or {}).get("code", "")
            operation = document.split("(")[0].split("{")[0].strip() or "query"
            error = Unavailable if code == "SERVICE_UNAVAILABLE" else GraphQLError
            raise error(
                f"{code or 'error'}: {first.get('message')} ({operation} as {actor!r}"
                f"{', at ' + '.'.join(map(str, first['path'])) if first.get('path') else ''})"
            )
        if response.status_code != 200 or not isinstance(body.get("data"), dict):
            raise GraphQLError(f"HTTP {response.status_code}: {response.text[:300]}")
        data: Json = body["data"]
        return data

    async def mutate(
        self, name: str, document: str, variables: Json | None = None, *, actor: str
    ) -> Json:
        """Runs a mutation whose field is `name`; its typed problems raise `Problem`."""
        data = await self.query(document, variables, actor=actor)
        result: Json = data[name]
        if result.get("__typename") in PROBLEMS:
            raise Problem(result["__typename"], result)
        return result
