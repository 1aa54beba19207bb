"""Runs the three services and the gateway as real processes on the test infrastructure."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from icr.kit.testing import auth_settings_for_test, bearer, issuer_for_tests

ROOT = Path(__file__).resolve().parents[2]
# ICR_APPS_PORT_BASE moves the four apps (engineers sharing a machine each take their own).
BASE = int(os.environ.get("ICR_APPS_PORT_BASE") or 18000)
ADMIN = "e2e-admin"


@dataclass
class Platform:
    gateway: str
    requests: str
    feedback: str
    incentives: str
    topic_prefix: str
    db_prefix: str = ""
    env: dict[str, str] = field(default_factory=dict, repr=False)

    def graphql(
        self,
        query: str,
        variables: dict | None = None,
        *,
        actor: str,
        traceparent: str = "",
        correlation_id: str = "",
    ) -> dict:
        headers = {**bearer(actor), **({"traceparent": traceparent} if traceparent else {})}
        if correlation_id:
            headers["x-correlation-id"] = correlation_id
        response = httpx.post(
            f"{self.gateway}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def graphql_body(self, query: str, variables: dict | None = None, *, actor: str) -> dict:
        """The whole answer, `errors` included (partial results)."""
        response = httpx.post(
            f"{self.gateway}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=bearer(actor),
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict = response.json()
        return body

    # -- faults: a real app process stopped or paused, then brought back --

    def pid(self, app: str) -> int:
        state = Path(self.env.get("ICR_STATE_DIR") or ROOT / ".local")
        return int((state / "test" / "apps" / f"{app}.pid").read_text())

    def url(self, app: str) -> str:
        return str(getattr(self, app))

    def stop(self, app: str) -> None:
        """Ends the app's process group; returns once its port refuses connections."""
        os.killpg(self.pid(app), signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url(app)}/health/live", timeout=1)
            except httpx.TransportError:
                return
            time.sleep(0.1)
        raise AssertionError(f"{app} still answers after SIGTERM")

    def pause(self, app: str) -> None:
        """Freezes the app (SIGSTOP): its port accepts connections, nothing answers."""
        os.killpg(self.pid(app), signal.SIGSTOP)

    def resume(self, app: str) -> None:
        os.killpg(self.pid(app), signal.SIGCONT)

    def restore(self) -> None:
        """Starts any app that is not running and waits until all four are ready."""
        _apps("up", self.env)


def _apps(command: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy/local/apps.py"), command, "--profile", "test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    if result.returncode != 0:
        raise RuntimeError(f"apps {command} failed:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def platform() -> Iterator[Platform]:
    run = secrets.token_hex(3)
    env = {
        **os.environ,
        "ICR_APPS_PORT_BASE": str(BASE),
        "KAFKA_TOPIC_PREFIX": f"e2e{run}.",
        "MONGO_DB_PREFIX": f"e2e{run}_",
        "BOOTSTRAP_ADMINS": ADMIN,
        "OUTBOX_POLL_SECONDS": "0.2",
        # The apps trust this run's test issuer (its JWKS file), so `bearer(person)` works.
        **{name.upper(): value for name, value in auth_settings_for_test().items()},
    }
    _apps("up", env)
    try:
        urls = (f"http://127.0.0.1:{BASE + i}" for i in range(4))
        yield Platform(
            *urls,
            topic_prefix=env["KAFKA_TOPIC_PREFIX"],
            db_prefix=env["MONGO_DB_PREFIX"],
            env=env,
        )
    finally:
        _apps("down", env)


# The demo organisation (`icr seed`) on a platform of its own: the shared one above holds the
# other tests' departments and people, which a seed must not meet (nor they it).
DEMO_BASE = BASE + 10


@dataclass
class Demo:
    platform: Platform
    env: dict[str, str]

    def icr(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "icr.cli.main", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"icr {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    run = secrets.token_hex(3)
    state = tmp_path_factory.mktemp("demo-state")
    auth = {name.upper(): value for name, value in auth_settings_for_test().items()}
    env = {
        **os.environ,
        "ICR_APPS_PORT_BASE": str(DEMO_BASE),
        "ICR_STATE_DIR": str(state),  # its own pid files beside the shared platform's
        "KAFKA_TOPIC_PREFIX": f"demo{run}.",
        "MONGO_DB_PREFIX": f"demo{run}_",
        "BOOTSTRAP_ADMINS": "admin",
        "OUTBOX_POLL_SECONDS": "0.2",
        "ICR_IDENTITY_DIR": str(issuer_for_tests().directory),
        **auth,
    }
    env.pop("ICR_GATEWAY_URL", None)
    for name in ("REQUESTS_URL", "FEEDBACK_URL", "INCENTIVES_URL"):
        env.pop(name, None)
    _apps("up", env)
    try:
        urls = (f"http://127.0.0.1:{DEMO_BASE + i}" for i in range(4))
        demo = Demo(
            Platform(
                *urls, topic_prefix=env["KAFKA_TOPIC_PREFIX"], db_prefix=env["MONGO_DB_PREFIX"]
            ),
            env,
        )
        demo.icr("seed")
        yield demo
    finally:
        _apps("down", env)
