#!/usr/bin/env python3
"""Runs ICR's three services and the gateway as local processes (no Docker).

    python deploy/local/apps.py up|down|status [--profile dev|test]

Each app is `uvicorn icr.<app>.main:app` from the project's virtualenv, detached in its own
process group, with a pid file and a log under .local/<profile>/apps/ ($ICR_STATE_DIR/<profile>/
apps/ if set). `up` starts any app that is not running (a pid file whose process is gone, a
zombie, or another program is "not running") and waits until every app's /health/ready answers
200, so the platform is usable when it returns. The apps connect to the Kafka and MongoDB that
`infra.py env` names for the same profile (its ports, ICR_KAFKA_PORT / ICR_MONGO_PORT, or
MONGO_URL / KAFKA_BOOTSTRAP_SERVERS), so two platforms on different ports never mix. Stdlib only.

Identity: a local platform is a development platform. Unless the environment names an issuer
(AUTH_JWKS_URL or AUTH_JWKS_FILE), every app trusts the profile's development key pair under
<state>/<profile>/identity/, created on the first `up` (`python -m icr.kit.devidentity init`);
`make token PERSON=ana` prints a token signed with it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STATE = Path(os.environ.get("ICR_STATE_DIR") or REPO / ".local")
HOST = "127.0.0.1"
READY_TIMEOUT = float(os.environ.get("ICR_APPS_TIMEOUT", "90"))

# Port bases per profile.
PROFILES = {"dev": {"base": 8000}, "test": {"base": 18000}}
# As icr.kit.auth.DEV_ISSUER / icr.kit.devidentity.DEV_AUDIENCE (this script imports no project
# code: it runs on the system Python).
DEV_ISSUER = "urn:icr:dev-issuer"
DEV_AUDIENCE = "icr"
# The order is also the start order (the gateway last).
APPS = {"requests": 1, "feedback": 2, "incentives": 3, "gateway": 0}


def say(msg: str) -> None:
    print(f"apps: {msg}", flush=True)


class AppsError(Exception):
    pass


def ports(profile: str) -> dict[str, int]:
    base = int(os.environ.get("ICR_APPS_PORT_BASE") or PROFILES[profile]["base"])
    return {name: base + offset for name, offset in APPS.items()}


def infra_env(profile: str) -> dict[str, str]:
    """The addresses `infra.py env` gives for this profile: the running instances' ports, else
    ICR_KAFKA_PORT / ICR_MONGO_PORT or the defaults, unless the environment names others."""
    result = subprocess.run(
        [sys.executable, str(HERE / "infra.py"), "env", "--profile", profile],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise AppsError(f"infra.py env failed: {result.stderr.strip()}")
    out = {}
    for line in result.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        out[name] = value.strip("'")
    return out


def identity_dir(profile: str) -> Path:
    return STATE / profile / "identity"


def app_env(profile: str) -> dict[str, str]:
    port = ports(profile)
    env = {**os.environ, **infra_env(profile)}
    if profile == "dev":
        # A local platform starts with an empty directory; `admin` may load the first one.
        env.setdefault("BOOTSTRAP_ADMINS", "admin")
    if not env.get("AUTH_JWKS_URL") and not env.get("AUTH_JWKS_FILE"):
        # No issuer named: the development one (production refuses it, so say development).
        env["AUTH_JWKS_FILE"] = str(identity_dir(profile) / "jwks.json")
        env.setdefault("ENVIRONMENT", "development")
        env.setdefault("AUTH_ISSUER", DEV_ISSUER)
    env.setdefault("AUTH_AUDIENCE", DEV_AUDIENCE)
    for name in ("requests", "feedback", "incentives"):
        env.setdefault(f"{name.upper()}_URL", f"http://{HOST}:{port[name]}")
    return env


def run_dir(profile: str) -> Path:
    return STATE / profile / "apps"


def pid_of(profile: str, name: str) -> int | None:
    """The pid in the app's pid file if that process is alive and is that app.

    `kill(pid, 0)` alone is not enough: a killed app nobody reaped is a zombie that still
    answers it, and a recycled pid may belong to any other program."""
    try:
        pid = int((run_dir(profile) / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if _is_app(pid, name) else None


def _is_app(pid: int, name: str) -> bool:
    if not Path("/proc/self/stat").exists():  # no procfs (macOS): the weaker check
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    try:
        # The state follows the command name, which may itself contain ") ".
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X") and f"icr.{name}.main:app" in argv


def ready(port: int) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/health/ready", timeout=3) as r:
            return r.status == 200, r.read().decode()
    except urllib.error.HTTPError as e:
        return False, e.read().decode(errors="replace")
    except OSError as e:
        return False, str(e)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def tail(path: Path, n: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    return "(no log)"


def ensure_dev_identity(profile: str, env: dict[str, str]) -> None:
    """Creates the profile's development key pair if the apps are to trust it and it is missing."""
    jwks = Path(env["AUTH_JWKS_FILE"]) if env.get("AUTH_JWKS_FILE") else None
    if jwks is None or jwks.parent != identity_dir(profile) or jwks.exists():
        return
    python = str(REPO / ".venv" / "bin" / "python")
    result = subprocess.run(
        [python, "-m", "icr.kit.devidentity", "init", "--dir", str(jwks.parent)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if result.returncode != 0:
        raise AppsError(f"could not create the development key pair:\n{result.stderr}")
    say(f"development signing key created in {jwks.parent} (make token PERSON=<id>)")


def up(profile: str) -> None:
    uvicorn = REPO / ".venv" / "bin" / "uvicorn"
    if not uvicorn.exists():
        raise AppsError("no virtualenv: run `uv sync` first (make up does it)")
    folder = run_dir(profile)
    folder.mkdir(parents=True, exist_ok=True)
    env, port = app_env(profile), ports(profile)
    ensure_dev_identity(profile, env)
    started = []
    for name in APPS:
        if pid_of(profile, name):
            say(f"{name} already running")
            continue
        if not port_free(port[name]):
            raise AppsError(
                f"{name}: port {HOST}:{port[name]} is taken by another process; stop it or "
                "set ICR_APPS_PORT_BASE to move all four apps"
            )
        log = folder / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [
                    str(uvicorn),
                    f"icr.{name}.main:app",
                    "--host",
                    HOST,
                    "--port",
                    str(port[name]),
                    "--no-access-log",
                    # uvicorn's C HTTP parser and event loop (uvicorn[standard]); named, so a
                    # virtualenv without them fails at start instead of running slowly.
                    "--loop",
                    "uvloop",
                    "--http",
                    "httptools",
                ],
                env={**env, "PORT": str(port[name])},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group: `down` stops it and its children
                cwd=REPO,
            )
        (folder / f"{name}.pid").write_text(str(proc.pid))
        started.append(name)
    deadline = time.monotonic() + READY_TIMEOUT
    waiting = list(APPS)
    while waiting:
        for name in list(waiting):
            if pid_of(profile, name) is None:
                raise AppsError(f"{name} exited at start:\n{tail(folder / f'{name}.log')}")
            ok, _ = ready(port[name])
            if ok:
                waiting.remove(name)
        if waiting and time.monotonic() > deadline:
            details = {n: ready(port[n])[1][:300] for n in waiting}
            raise AppsError(
                f"not ready after {READY_TIMEOUT:.0f}s: {json.dumps(details, indent=1)}\n"
                f"logs: {folder}/<app>.log"
            )
        time.sleep(0.3)
    say(f"all apps ready ({', '.join(f'{n}:{port[n]}' for n in APPS)}); logs in {folder}")


def down(profile: str) -> None:
    folder = run_dir(profile)
    for name in reversed(list(APPS)):
        pid = pid_of(profile, name)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            for _ in range(100):
                if pid_of(profile, name) is None:
                    break
                time.sleep(0.1)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            say(f"{name} stopped")
        (folder / f"{name}.pid").unlink(missing_ok=True)


def status(profile: str) -> None:
    port = ports(profile)
    for name in APPS:
        pid = pid_of(profile, name)
        state = ("ready" if ready(port[name])[0] else "not ready") if pid else "stopped"
        say(f"{name}: {state} (port {port[name]}{f', pid {pid}' if pid else ''})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="dev")
    args = parser.parse_args()
    try:
        {"up": up, "down": down, "status": status}[args.command](args.profile)
    except AppsError as e:
        say(f"error: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
