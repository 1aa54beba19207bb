"""`infra.py down` stops what `up` would have started: it leaves alone a local service while the
environment points that service at another server, as `up` does, and stops it when the
environment is unset or points at it (the `env` output)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parents[2] / "deploy" / "local" / "infra.py"


@pytest.fixture
def fake_kafka(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, str]]]:
    """A stand-in process in a private state dir that infra.py takes for its Kafka (the pid file
    and the command-line marker it checks), so `down` can be tried without starting a JVM."""
    home = tmp_path / "test" / "kafka"
    home.mkdir(parents=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", f"-Dicr.infra={home}"],
        start_new_session=True,
    )
    (home / "kafka.pid").write_text(f"{proc.pid}\n")
    (home / "address").write_text("127.0.0.1:29092\n")
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "MONGO_URL")}
    env["ICR_STATE_DIR"] = str(tmp_path)
    yield proc, env
    proc.kill()
    proc.wait()


def down(env: dict[str, str], **extra: str) -> str:
    out = subprocess.run(
        [sys.executable, str(INFRA), "down", "--profile", "test"],
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout


def stopped(proc: subprocess.Popen[bytes], within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc.poll() is not None


def test_down_leaves_a_local_kafka_alone_while_the_environment_points_elsewhere(
    fake_kafka: tuple[subprocess.Popen[bytes], dict[str, str]],
) -> None:
    proc, env = fake_kafka
    # Before: down stopped it although `up` with the same environment would not have started it.
    out = down(env, KAFKA_BOOTSTRAP_SERVERS="kafka.example:9092")
    assert "left running" in out
    assert proc.poll() is None
    # The `env` output (spelled either way) is this instance: down stops it.
    down(env, KAFKA_BOOTSTRAP_SERVERS="localhost:29092")
    assert stopped(proc)


def test_down_with_nothing_set_stops_what_this_script_started(
    fake_kafka: tuple[subprocess.Popen[bytes], dict[str, str]],
) -> None:
    proc, env = fake_kafka
    assert "kafka stopped" in down(env)
    assert stopped(proc)
