"""Helpers for the store tests: a private stand-in process (memory or H2 file) on a free port,
built from this checkout's launcher sources by deploy/local/infra.py's own compile step."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_infra() -> ModuleType:
    spec = importlib.util.spec_from_file_location("icr_infra", ROOT / "deploy/local/infra.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class PrivateStore:
    url: str
    log: Path
    proc: subprocess.Popen[bytes]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def private_store(folder: Path, *, h2: bool, heap: str = "1g") -> Iterator[PrivateStore]:
    """Starts the launcher as its own JVM and stops it (SIGTERM, which commits an H2 file)."""
    infra = load_infra()
    java = infra.find_java()
    mongo = infra.Mongo("test")
    jars = mongo.jars()
    classes = mongo.compile(java, jars)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"mongo-{port}.out"
    store = ["--h2", str(folder / "mongo.mv.db")] if h2 else ["--memory"]
    cmd = [java, f"-Xmx{heap}", "-XX:+UseSerialGC", "-cp", f"{classes}{os.pathsep}{jars}/*"]
    cmd += ["MongoLauncher", "--host", "127.0.0.1", "--port", str(port), *store]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    running = PrivateStore(f"mongodb://127.0.0.1:{port}/?directConnection=true", log, proc)
    try:
        deadline = time.monotonic() + 60
        while "MongoLauncher ready" not in running.output():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private store did not start:\n{running.output()[-3000:]}")
            time.sleep(0.05)
        yield running
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
