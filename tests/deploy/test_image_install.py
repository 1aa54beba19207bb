"""The Dockerfile's install step, run here: the production environment the image gets."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from icr.gateway.ide import missing

ROOT = Path(__file__).resolve().parents[2]


def _uv() -> str:
    found = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv not found: run `make install`")
    return found


@pytest.mark.slow
def test_production_install_runs_every_app_without_dev_tools(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv"),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    # The same command as the Dockerfile's build stage.
    subprocess.run(
        [_uv(), "sync", "--frozen", "--no-dev", "--no-editable", "--quiet"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    python = tmp_path / "venv" / "bin" / "python"
    apps = "icr.requests.main, icr.feedback.main, icr.incentives.main, icr.gateway.main"
    # From outside the checkout, so only the installed packages can answer.
    result = subprocess.run(
        [str(python), "-c", f"import {apps}; print('ok')"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == "ok", result.stderr
    assert (tmp_path / "venv" / "bin" / "uvicorn").exists()
    assert not (tmp_path / "venv" / "bin" / "pytest").exists()
    # The image's GraphiQL step, with the installed package (not the checkout): the files the
    # installed strawberry's page names, fetched and checked against its integrity hashes.
    assets = tmp_path / "graphiql"
    fetched = subprocess.run(
        [str(python), "-m", "icr.gateway.ide", "fetch", str(assets)],
        cwd=tmp_path,
        env={**env, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fetched.returncode == 0, fetched.stderr
    assert missing(assets) == []
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "-m icr.gateway.ide fetch /graphiql" in dockerfile
    assert "GRAPHIQL_ASSETS_DIR=/app/graphiql" in dockerfile
