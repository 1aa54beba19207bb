"""GraphQL over HTTP POST as a plain ASGI endpoint.

Strawberry's FastAPI router calls `.get` on whatever JSON arrives (a body of `42` was a 500)
and costs a FastAPI dependency resolution per request; this endpoint checks the body's shape
itself, answers every malformed request with a 400 GraphQL error, and serialises with orjson.
GraphiQL and the websocket transport stay with strawberry's router.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import strawberry
from graphql import GraphQLError, GraphQLSyntaxError
from starlette.requests import Request
from starlette.types import Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from icr.gateway.clients import UpstreamError
from icr.gateway.context import get_context
from icr.gateway.limits import TOO_MANY_TOKENS
from icr.kit import context

log = logging.getLogger(__name__)

BAD_REQUEST = "BAD_REQUEST"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INTERNAL = "INTERNAL_SERVER_ERROR"
UNAVAILABLE = "SERVICE_UNAVAILABLE"
HTTP_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})
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


class GraphQLHttp:
    """POST /graphql: one operation per request, a JSON object in, JSON out."""

    def __init__(self, schema: strawberry.Schema) -> None:
        self.schema = schema

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = _request_id(scope)
        try:
            payload = _payload(scope, await _read(receive))
        except BadRequest as exc:
            await _answer(send, 400, _refusal(str(exc), BAD_REQUEST, request_id))
            return
        ctx = await get_context(Request(scope, receive))
        try:
            result = await self.schema.execute(
                payload["query"],
                variable_values=payload.get("variables"),
                context_value=ctx,
                operation_name=payload.get("operationName"),
                allowed_operation_types=HTTP_OPERATIONS,
            )
        except InvalidOperationTypeError:
            message = "subscriptions are served over websocket (graphql-transport-ws) only"
            await _answer(send, 400, _refusal(message, BAD_REQUEST, request_id))
            return
        except (CannotGetOperationTypeError, MissingQueryError) as exc:
            message = getattr(exc, "message", None) or str(exc) or "no operation to run"
            await _answer(send, 400, _refusal(message, BAD_REQUEST, request_id))
            return
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [format_error(e, request_id) for e in result.errors]
        # Nothing ran (the document did not parse, validate or pass a limit): the request
        # itself is at fault, as GraphQL over HTTP answers it.
        nothing_ran = result.data is None and all(e.path is None for e in result.errors or ())
        status = 400 if isinstance(result, PreExecutionError) or nothing_ran else 200
        if status == 400:
            del body["data"]
        await _answer(send, status, body)
