"""The README's quick start works verbatim on a platform with the demo organisation: its shell
block is run as written, with only `make up` left out (the platform is up and seeded, as `make
up` leaves it) and the ports moved to this run's. `make token` signs with the platform's key,
which it finds where `make up` keeps it (here: the test issuer's key, under a state folder of
its own). Then its GraphQL examples run on that data: the query, the mutation, and the
subscription with the README's own websocket script, which must print the event a service made.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from icr.kit.testing import bearer, issuer_for_tests

from .conftest import ROOT, Demo, Platform

pytestmark = pytest.mark.e2e

MARKER = "<!-- quickstart:"


def reader_env(state: Path) -> dict[str, str]:
    """The shell of a reader who followed the README: `uv` on the PATH where `make install` put
    it when it was missing (~/.local/bin, as the README says), whatever PATH pytest runs with."""
    path = os.pathsep.join([os.environ["PATH"], str(Path.home() / ".local" / "bin")])
    return {"PATH": path, "HOME": str(Path.home()), "ICR_STATE_DIR": str(state)}


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
    (tmp_path / "dev").mkdir(exist_ok=True)
    with contextlib.suppress(FileExistsError):
        (tmp_path / "dev" / "identity").symlink_to(issuer_for_tests().directory)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=reader_env(tmp_path),
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


def examples() -> tuple[dict[str, str], str]:
    """The GraphQL examples section: its operations by name, and its shell block."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## GraphQL examples") :]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```graphql\n(.*?)```", section, re.S)
    named = {re.match(r"(\w+) (\w+)", b).group(2): b for b in blocks}  # type: ignore[union-attr]
    shell = re.search(r"```bash\n(.*?)```", section, re.S)
    assert shell is not None
    return named, shell.group(1)


def graphql(platform: Platform, query: str, variables: dict, person: str) -> dict:
    response = httpx.post(
        f"{platform.gateway}/graphql",
        json={"query": query, "variables": variables},
        headers=bearer(person),
        timeout=30,
    )
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body
    return dict(body["data"])


def test_the_graphql_examples_work_on_the_quick_start_data(demo: Demo, tmp_path: Path) -> None:
    platform = demo.platform
    test_the_quick_start_runs_verbatim(demo, tmp_path)  # the data the examples speak of
    operations, shell = examples()
    assert set(operations) == {"Mine", "Accept", "Live"}
    mine = graphql(platform, operations["Mine"], {}, "ana")
    assert mine["me"]["id"] == "ana"
    assert "laptop" in [i["id"] for i in mine["catalog"]]
    rid = mine["requests"]["nodes"][0]["id"]
    accepted = graphql(platform, operations["Accept"], {"id": rid}, "bo")["accept"]
    assert accepted["__typename"] == "ServiceRequest", accepted

    # The subscription, by the README's own script; events come from the requests service.
    script = shell.replace("ws://127.0.0.1:8000", platform.gateway.replace("http://", "ws://"))
    (tmp_path / "dev").mkdir(exist_ok=True)
    with contextlib.suppress(FileExistsError):
        (tmp_path / "dev" / "identity").symlink_to(issuer_for_tests().directory)
    env = reader_env(tmp_path)
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ack = process.stdout.readline()
        if not ack:  # the script ended before it connected: say why
            process.wait(timeout=10)
            assert process.stderr is not None
            why = process.stderr.read()
            raise AssertionError(f"the subscription script printed nothing: {why}")
        assert json.loads(ack)["type"] == "connection_ack", ack
        # The feed listens from the latest offset once subscribed: comment until it prints.
        comment = 'mutation($id: ID!) { comment(requestId: $id, body: "ping") { __typename } }'
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            graphql(platform, comment, {"id": rid}, "ana")
            time.sleep(1)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    event = json.loads(out.strip().splitlines()[-1])
    assert event["type"] == "next", event
    update = event["payload"]["data"]["myRequests"]
    assert update["eventType"] == "requests.request.commented"
    assert update["request"]["id"] == rid
