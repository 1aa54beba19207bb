"""The HTTP edge without infrastructure: outage errors mapped to 503, deadlines, W3C trace
context, uvicorn's access-log switch, and the start-up retry."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError
from fastapi import FastAPI
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
    WaitQueueTimeoutError,
    _OperationCancelled,
)

from icr.kit import context, metrics
from icr.kit.http import Deadlines, install_middleware
from icr.kit.logging import configure_logging
from icr.kit.service import _retry

UNAVAILABLE = [
    ServerSelectionTimeoutError("no servers"),
    AutoReconnect("connection reset"),
    _OperationCancelled("operation cancelled"),
    NetworkTimeout("timed out"),
    ExecutionTimeout("operation exceeded time limit", code=50),
    WaitQueueTimeoutError("pool exhausted"),
    KafkaConnectionError("no broker"),
    KafkaTimeoutError(),
    NodeNotReadyError(),
    ExceptionGroup("both down", [AutoReconnect("a"), KafkaConnectionError("b")]),
]


def app_raising(
    error: BaseException | None, *, deadline: float = 5.0, release: asyncio.Event | None = None
) -> FastAPI:
    app = FastAPI()
    install_middleware(app, deadlines=Deadlines(seconds=deadline, retry_after_seconds=3))

    @app.get("/boom")
    async def boom() -> dict[str, str]:
        if error is not None:
            raise error
        assert release is not None
        await release.wait()  # a dependency that does not answer in time
        return {}

    return app


async def call(app: FastAPI, path: str = "/boom", **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path, headers=headers)


@pytest.mark.parametrize("error", UNAVAILABLE, ids=lambda e: type(e).__name__)
async def test_store_or_broker_outage_answers_503_with_retry_after(error: Exception) -> None:
    response = await call(app_raising(error))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3"
    assert response.json()["error"]["code"] == "unavailable"


@pytest.mark.parametrize(
    "error",
    [DuplicateKeyError("dup", code=11000), OperationFailure("bad query", code=2), ValueError()],
    ids=lambda e: type(e).__name__,
)
async def test_other_errors_are_not_disguised_as_outages(error: Exception) -> None:
    assert (await call(app_raising(error))).status_code == 500


def abandoned() -> float:
    return float(metrics.HTTP_ABANDONED._value.get())


async def test_request_past_its_deadline_answers_503_in_time() -> None:
    loop = asyncio.get_running_loop()
    release = asyncio.Event()
    before = abandoned()
    started = loop.time()
    response = await call(app_raising(None, deadline=0.3, release=release))
    assert loop.time() - started < 2.0
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert "retry-after" in response.headers
    # Its work was left to finish (never cancelled into a driver), and is counted until it does.
    assert abandoned() == before + 1
    release.set()
    async with asyncio.timeout(5):
        while abandoned() > before:
            await asyncio.sleep(0.01)


async def test_requests_are_shed_while_too_much_abandoned_work_still_runs() -> None:
    release, started = asyncio.Event(), []
    app = FastAPI()
    install_middleware(app, deadlines=Deadlines(seconds=0.2, max_abandoned=2))

    @app.get("/stuck")
    async def stuck() -> dict[str, str]:
        started.append(1)
        await release.wait()  # work that outlives its deadline (stuck outside PyMongo's)
        return {}

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {}

    loop = asyncio.get_running_loop()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        first = await asyncio.gather(client.get("/stuck"), client.get("/stuck"))
        assert [r.status_code for r in first] == [503, 503]
        at = loop.time()
        shed = await client.get("/stuck")
        # Before: a third piece of work started and waited out its deadline, and so on without
        # bound during an outage.
        assert (shed.status_code, len(started)) == (503, 2)
        assert loop.time() - at < 0.2
        assert shed.headers["retry-after"]
        assert (await client.get("/health/live")).status_code == 200
        release.set()  # the stuck work ends: requests are served again
        async with asyncio.timeout(5):
            while (await client.get("/stuck")).status_code != 200:
                await asyncio.sleep(0.01)
    assert len(started) == 3


def test_bulk_paths_get_the_longer_deadline() -> None:
    deadlines = Deadlines(seconds=2, bulk_paths=["/directory/import"], bulk_seconds=60)
    assert deadlines.for_path("/directory/import") == 60
    assert deadlines.for_path("/directory/import/x") == 60
    assert deadlines.for_path("/directory/importer") == 2
    assert deadlines.for_path("/requests") == 2


CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_incoming_traceparent_becomes_the_parent_of_a_new_span() -> None:
    cause = context.extract({"traceparent": CALLER, "tracestate": "vendor=opaque"})
    assert cause is not None
    assert cause.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert cause.parent_span_id == "b7ad6b7169203331"
    assert cause.span_id != "b7ad6b7169203331"
    assert cause.headers() == {
        "traceparent": f"00-{cause.trace_id}-{cause.span_id}-01",
        "tracestate": "vendor=opaque",
    }
    child = cause.child()
    assert (child.trace_id, child.parent_span_id) == (cause.trace_id, cause.span_id)
    assert child.tracestate == "vendor=opaque"


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "00-00000000000000000000000000000000-b7ad6b7169203331-01", CALLER[:-3]],
)
def test_invalid_traceparent_starts_a_new_trace(header: str) -> None:
    assert context.parse_traceparent(header) is None


def test_unsampled_caller_stays_unsampled() -> None:
    cause = context.parse_traceparent(CALLER[:-2] + "00")
    assert cause is not None
    assert cause.traceparent.endswith("-00")


async def test_http_response_names_the_request_span_in_the_callers_trace() -> None:
    seen: list[context.Causation] = []
    app = FastAPI()
    install_middleware(app)

    @app.get("/here")
    async def here() -> dict[str, str]:
        seen.append(context.current())
        return {}

    response = await call(app, "/here", traceparent=CALLER)
    assert seen[0].parent_span_id == "b7ad6b7169203331"
    assert response.headers["traceparent"] == seen[0].traceparent


@pytest.fixture
def clean_logging() -> Iterator[None]:
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = [(logging.getLogger(n).handlers[:], logging.getLogger(n).propagate) for n in names]
    yield
    for name, (handlers, propagate) in zip(names, saved, strict=True):
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).propagate = propagate


@pytest.mark.usefixtures("clean_logging")
@pytest.mark.parametrize("access_log", [False, True])
def test_uvicorn_access_log_switch_is_kept(
    access_log: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    # What `uvicorn --no-access-log` does before it imports the app (which configures logging).
    uvicorn.Config("x:app", access_log=access_log).configure_logging()
    configure_logging("kit")
    logging.getLogger("uvicorn.access").info("GET /health/ready 200")
    logging.getLogger("uvicorn.error").info("started")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    messages = [line["message"] for line in lines]
    assert "started" in messages
    assert ("GET /health/ready 200" in messages) is access_log


async def test_startup_retry_waits_with_jitter_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    failures = iter([ConnectionError("down")] * 4)

    async def flaky() -> str:
        if (error := next(failures, None)) is not None:
            raise error
        return "up"

    with caplog.at_level(logging.WARNING, logger="icr.kit.service"):
        # A lambda returning a coroutine, as the supervisor passes them.
        assert await _retry("store", lambda: flaky(), initial=0.01, maximum=0.05) == "up"
    waits = [r.retry_in for r in caplog.records if r.message == "store not available; retrying"]
    assert len(waits) == 4
    # Exponential up to the cap, plus up to `initial` of jitter; never all on the exact schedule.
    for n, wait in enumerate(waits):
        assert min(0.01 * 2**n, 0.05) <= wait <= min(0.01 * 2**n + 0.01, 0.05) + 1e-9
    assert any(wait not in (0.01, 0.02, 0.04, 0.05) for wait in waits)


async def test_startup_retry_is_cancellable() -> None:
    async def never() -> None:
        raise ConnectionError("down")

    task = asyncio.create_task(_retry("store", never, initial=0.01, maximum=0.01))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
