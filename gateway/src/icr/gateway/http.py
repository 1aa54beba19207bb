"""GraphQL over HTTP POST as a plain ASGI endpoint.

Strawberry's FastAPI router calls `.get` on whatever JSON arrives (a body of `42` was a 500)
and costs a FastAPI dependency resolution per request; this endpoint checks the body's shape
itself, answers every malformed request with a 400 GraphQL error, and serialises with orjson.
GraphiQL and the websocket transport stay with strawberry's router.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from inspect import isawaitable
from types import SimpleNamespace
from typing import Any

import orjson
import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSyntaxError,
    NoSchemaIntrospectionCustomRule,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.execution import optimized_is_awaitable
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from icr.gateway.clients import UpstreamError
from icr.gateway.context import get_context
from icr.gateway.limits import TOO_MANY_TOKENS, Limits, rules
from icr.kit import context

log = logging.getLogger(__name__)

BAD_REQUEST = "BAD_REQUEST"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INTERNAL = "INTERNAL_SERVER_ERROR"
UNAVAILABLE = "SERVICE_UNAVAILABLE"
CACHE_SIZE = 1_000
_KEYS = frozenset({"query", "variables", "operationName", "extensions"})
_JSON_TYPES = (b"application/json", b"application/graphql-response+json")


class BadRequest(Exception):
    pass


def _request_id(scope: Scope) -> str:
    # The same id the kit's middleware puts in this request's log lines.
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return str(value.decode("latin-1"))
    return context.current().span_id


def _payload(scope: Scope, body: bytes) -> dict[str, Any]:
    content_type = b""
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.split(b";", 1)[0].strip().lower()
    if content_type not in _JSON_TYPES:
        raise BadRequest("the body must be JSON sent as Content-Type: application/json")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise BadRequest('the body must be a JSON object such as {"query": "{ __typename }"}')
    unknown = sorted(set(payload) - _KEYS)
    if unknown:
        raise BadRequest(f"unknown keys in the body: {', '.join(unknown)}")
    if not isinstance(payload.get("query"), str) or not payload["query"].strip():
        raise BadRequest('the body needs a "query" string')
    if not isinstance(payload.get("variables") or {}, dict):
        raise BadRequest('"variables" must be a JSON object')
    if not isinstance(payload.get("operationName") or "", str):
        raise BadRequest('"operationName" must be a string')
    return payload


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    """An error as the client sees it: typed codes; internal failures masked behind an id."""
    original = error.original_error
    extensions = dict(error.extensions or {})
    message = error.message
    if isinstance(original, UpstreamError):
        # A service's own refusal or outage, in its words (never a stack trace).
        status = original.status
        extensions.setdefault("code", UNAVAILABLE if status >= 500 else original.code.upper())
        extensions["service"] = original.service
    elif original is not None and not isinstance(original, GraphQLError):
        log.error(
            "resolver failed",
            exc_info=(type(original), original, original.__traceback__),
            extra={"request_id": request_id},
        )
        message = "internal error; quote the request id to support"
        extensions = {"code": INTERNAL}
    elif isinstance(error, GraphQLSyntaxError):
        code = TOO_MANY_TOKENS if "tokens" in error.message else PARSE_FAILED
        extensions.setdefault("code", code)
    extensions.setdefault("code", VALIDATION_FAILED if error.path is None else INTERNAL)
    extensions["request_id"] = request_id
    out: dict[str, Any] = {"message": message, "extensions": extensions}
    if error.locations:
        out["locations"] = [{"line": x.line, "column": x.column} for x in error.locations]
    if error.path is not None:
        out["path"] = error.path
    return out


async def _read(receive: Receive) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            raise BadRequest("the client went away")
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    content = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


def _refusal(message: str, code: str, request_id: str) -> dict[str, Any]:
    extensions = {"code": code, "request_id": request_id}
    return {"errors": [{"message": message, "extensions": extensions}]}


class Operations:
    """Parse, validate and execute with graphql-core directly, documents cached by their text.

    Strawberry's `Schema.execute` costs about 50 us per operation in its extension machinery
    (64 us against graphql-core's 12 us for `{ __typename }`), a fifth of the gateway's whole
    request; the same rules run here, cached, and resolvers are strawberry's own.
    """

    def __init__(self, schema: strawberry.Schema, limits: Limits, *, production: bool) -> None:
        self.graphql = schema._schema
        self.execution_kwargs = execution_context_class_kwargs(schema.execution_context_class)
        checks = [*specified_rules, *rules(limits), MaybeNullValidationRule]
        checks.append(OneOfInputValidationRule)
        if production:
            checks.append(NoSchemaIntrospectionCustomRule)
        self.rules = tuple(checks)
        self.max_tokens = limits.max_tokens
        self.production = production
        self.parse = lru_cache(maxsize=CACHE_SIZE)(self._parse)
        self.validate = lru_cache(maxsize=CACHE_SIZE)(self._validate)

    def _parse(self, query: str) -> DocumentNode:
        return parse(query, max_tokens=self.max_tokens)

    def _validate(self, document: DocumentNode) -> tuple[GraphQLError, ...]:
        # Production hides suggestions: "Did you mean ...?" would spell out the schema.
        errors = validate(self.graphql, document, self.rules, hide_suggestions=self.production)
        return tuple(errors)

    def prepare(self, query: str) -> DocumentNode | list[GraphQLError]:
        try:
            document = self.parse(query)
        except GraphQLError as error:
            return [error]
        errors = self.validate(document)
        return list(errors) if errors else document

    async def execute(
        self, document: DocumentNode, payload: dict[str, Any], context_value: Any
    ) -> ExecutionResult:
        result = execute(
            self.graphql,
            document,
            variable_values=payload.get("variables"),
            operation_name=payload.get("operationName"),
            context_value=context_value,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
            **self.execution_kwargs,
        )
        if isawaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        return result


class GraphQLHttp:
    """POST /graphql: one operation per request, a JSON object in, JSON out."""

    def __init__(self, operations: Operations) -> None:
        self.operations = operations

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = _request_id(scope)
        try:
            payload = _payload(scope, await _read(receive))
        except BadRequest as exc:
            await _answer(send, 400, _refusal(str(exc), BAD_REQUEST, request_id))
            return
        prepared = self.operations.prepare(payload["query"])
        if isinstance(prepared, list):
            # Nothing ran (the document did not parse, validate or pass a limit): the request
            # itself is at fault, as GraphQL over HTTP answers it.
            errors = [format_error(e, request_id) for e in prepared]
            await _answer(send, 400, {"errors": errors})
            return
        operation = get_operation_ast(prepared, payload.get("operationName"))
        if operation is None:
            message = "name the operation to run (operationName) among the document's"
            await _answer(send, 400, _refusal(message, BAD_REQUEST, request_id))
            return
        if operation.operation == OperationType.SUBSCRIPTION:
            message = "subscriptions are served over websocket (graphql-transport-ws) only"
            await _answer(send, 400, _refusal(message, BAD_REQUEST, request_id))
            return
        ctx = await get_context(Request(scope, receive))
        result = await self.operations.execute(prepared, payload, ctx)
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [format_error(e, request_id) for e in result.errors]
        # Variables that do not fit the operation: nothing ran either.
        nothing_ran = result.data is None and all(e.path is None for e in result.errors or ())
        if nothing_ran:
            del body["data"]
        await _answer(send, 400 if nothing_ran else 200, body)


class Routed:
    """`endpoint` under the route `path`, as the kit's request metric labels it (Starlette's
    router, which would set it, is not on this path)."""

    def __init__(self, endpoint: ASGIApp, path: str) -> None:
        self.endpoint = endpoint
        self.route = SimpleNamespace(path=path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.route
        await self.endpoint(scope, receive, send)
