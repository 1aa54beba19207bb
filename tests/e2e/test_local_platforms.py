"""deploy/local: a second platform on other ports runs beside the first without touching its
Kafka or store, and `apps.py up` restarts an app whose process is gone."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import MongoClient

from icr.contracts import topics
from icr.kit.devidentity import DevIssuer
from icr.kit.testing import bearer

from .conftest import ADMIN, Platform

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# Each app's port offset from ICR_APPS_PORT_BASE, as deploy/local/apps.py assigns them.
APPS = {"requests": 1, "feedback": 2, "incentives": 3, "gateway": 0}
ADMIN2 = "admin2"


def free(*ports: int) -> bool:
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_block(size: int) -> int:
    """The first of `size` consecutive free ports (the apps and Kafka need neighbours)."""
    for _ in range(200):
        first = random.randrange(21000, 29000)
        if free(*range(first, first + size)):
            return first
    raise RuntimeError("no free port block")


@dataclass
class Second:
    env: dict[str, str]
    state: Path
    kafka: int
    mongo: int
    base: int

    def url(self, app: str) -> str:
        return f"http://127.0.0.1:{self.base + APPS[app]}"

    def bearer(self, person: str) -> dict[str, str]:
        """Headers for `person`, signed with the development key `apps.py up` created for this
        platform (it trusts no other: the suite's test issuer is not named in its env)."""
        issuer = DevIssuer(self.state / "test" / "identity")
        return {"Authorization": f"Bearer {issuer.token(person)}"}

    def pid(self, app: str) -> int:
        return int((self.state / "test" / "apps" / f"{app}.pid").read_text())

    def run(self, script: str, command: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "deploy/local" / script), command, "--profile", "test"],
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=180,
        )


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Second]:
    """Kafka, the store and the four apps, all on ports of their own, state in a temp folder."""
    state = tmp_path_factory.mktemp("platform2")
    first = free_block(7)  # Kafka and its controller, the store, then the four apps
    kafka, mongo, base = first, first + 2, first + 3
    # The suite's own KAFKA_BOOTSTRAP_SERVERS / MONGO_URL name the first platform's infra.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KAFKA_BOOTSTRAP_SERVERS", "MONGO_URL", "ENVIRONMENT")
        and not k.startswith("AUTH_")
    }
    env.update(
        ICR_STATE_DIR=str(state),
        ICR_KAFKA_PORT=str(kafka),
        ICR_KAFKA_CONTROLLER_PORT=str(kafka + 1),
        ICR_MONGO_PORT=str(mongo),
        ICR_APPS_PORT_BASE=str(base),
        ICR_APPS_TIMEOUT="60",
        BOOTSTRAP_ADMINS=ADMIN2,
        OUTBOX_POLL_SECONDS="0.2",
    )
    platform = Second(env, state, kafka, mongo, base)
    try:
        for script in ("infra.py", "apps.py"):
            result = platform.run(script, "up")
            assert result.returncode == 0, f"{script} up:\n{result.stdout}\n{result.stderr}"
        yield platform
    finally:
        platform.run("apps.py", "down")
        platform.run("infra.py", "down")


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def test_second_platform_uses_its_own_kafka_and_store(platform: Platform, second: Second) -> None:
    for app in APPS:
        env = environ(second.pid(app))
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == f"127.0.0.1:{second.kafka}", app
        assert env["MONGO_URL"].startswith(f"mongodb://127.0.0.1:{second.mongo}/"), app
        # Each app trusts the platform's own development key, which `up` created.
        assert env["ENVIRONMENT"] == "development", app
        assert (env["AUTH_ISSUER"], env["AUTH_AUDIENCE"]) == ("urn:icr:dev-issuer", "icr"), app
        assert env["AUTH_JWKS_FILE"] == str(second.state / "test" / "identity" / "jwks.json")
        assert "AUTH_JWKS_URL" not in env, app

    department = {
        "name": {"en": "Only B", "zh-CN": "只在B"},
        "calendar": {"timezone": "Asia/Shanghai", "week": {"mon": "09:00-18:00"}},
    }
    put = httpx.put(
        f"{second.url('requests')}/departments/only-b",
        json=department,
        headers=second.bearer(ADMIN2),
        timeout=10,
    )
    assert put.status_code in (200, 201), put.text
    # The write landed in the second platform's store, and its topics on its own broker.
    with MongoClient(f"mongodb://127.0.0.1:{second.mongo}/?directConnection=true") as client:
        assert client["icr_requests"]["departments"].find_one({"_id": "only-b"}) is not None
    names = asyncio.run(list_topics(f"127.0.0.1:{second.kafka}"))
    assert {t.name for t in topics.owned_by("requests")} <= names
    # ... and the first platform never saw it.
    listed = httpx.get(f"{platform.requests}/departments", headers=bearer(ADMIN), timeout=10)
    assert "only-b" not in {d["id"] for d in listed.json()}


async def list_topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def test_up_restarts_apps_whose_process_is_gone(second: Second) -> None:
    killed = second.pid("requests")
    os.kill(killed, signal.SIGKILL)  # nobody reaps it here: a zombie may keep the pid alive
    # Another app's pid file now names a live process that is not that app (a recycled pid).
    impostor = subprocess.Popen(["sleep", "120"])
    try:
        os.kill(second.pid("feedback"), signal.SIGKILL)
        (second.state / "test" / "apps" / "feedback.pid").write_text(str(impostor.pid))
        deadline = time.monotonic() + 10
        while not free(second.base + APPS["requests"]) and time.monotonic() < deadline:
            time.sleep(0.1)  # the killed app's socket closes with it

        result = second.run("apps.py", "up", ICR_APPS_TIMEOUT="45")
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        assert "requests already running" not in result.stdout
        assert "feedback already running" not in result.stdout
        assert "gateway already running" in result.stdout
        assert second.pid("requests") != killed
        assert second.pid("feedback") != impostor.pid
        for app in ("requests", "feedback"):
            ready = httpx.get(f"{second.url(app)}/health/ready", timeout=10)
            assert ready.status_code == 200, ready.text
    finally:
        impostor.kill()
        impostor.wait()
