"""The README's quick start works verbatim on a platform with the demo organisation: its shell
block is run as written, with only `make up` left out (the platform is up and seeded, as `make
up` leaves it) and the ports moved to this run's. `make token` signs with the platform's key,
which it finds where `make up` keeps it (here: the test issuer's key, under a state folder of
its own)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from icr.kit.testing import issuer_for_tests

from .conftest import ROOT, Demo

pytestmark = pytest.mark.e2e

MARKER = "<!-- quickstart:"


def quickstart() -> str:
    readme = (ROOT / "README.md").read_text()
    after = readme[readme.index(MARKER) :]
    block = re.search(r"```bash\n(.*?)```", after, re.S)
    assert block is not None, "the quick start's bash block is missing"
    return block.group(1)


def test_the_quick_start_runs_verbatim(demo: Demo, tmp_path: Path) -> None:
    platform = demo.platform
    script = quickstart()
    assert script.startswith("make up\n")
    assert "x-actor-id" not in script.lower()
    script = (
        script.removeprefix("make up\n")
        .replace("http://127.0.0.1:8000", platform.gateway)
        .replace("http://127.0.0.1:8001", platform.requests)
    )
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "identity").symlink_to(issuer_for_tests().directory)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "HOME": str(Path.home()), "ICR_STATE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    # curl prints the answers back to back.
    answers, text, decoder = [], result.stdout.strip(), json.JSONDecoder()
    while text:
        answer, end = decoder.raw_decode(text)
        answers.append(answer)
        text = text[end:].lstrip()
    catalog = answers[0]["data"]["catalog"]
    assert {"laptop", "password-reset"} <= {i["id"] for i in catalog}, result.stdout
    assert any(i["name"] == "新笔记本电脑" for i in catalog)
    assert answers[-1]["data"]["submitRequest"]["__typename"] == "ServiceRequest", result.stdout
