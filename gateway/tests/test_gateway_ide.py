"""GraphiQL from the gateway itself: its page loads nothing from another host, every file it
names is served by the gateway and matches the page's integrity hash; production has no IDE."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from icr.gateway import ide
from icr.gateway.main import build_app
from icr.gateway.settings import GatewaySettings
from icr.kit.testing import auth_settings_for_test, running_app

# Every attribute through which a browser would fetch something.
_FETCHED = re.compile(r'\b(?:src|href)\s*=\s*"([^"]*)"')
_ABSOLUTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The install step's own code, from npm's registry through the cache under ~/.cache/icr.
    folder = tmp_path_factory.mktemp("graphiql")
    ide.fetch(folder)
    return folder


def settings(assets: Path, **overrides: object) -> GatewaySettings:
    values = {**auth_settings_for_test(), "graphiql_assets_dir": str(assets), **overrides}
    return GatewaySettings(**values)


async def test_the_page_loads_nothing_from_another_host(assets: Path) -> None:
    async with running_app(build_app(settings(assets))) as gateway:
        response = await gateway.get("/graphql", headers={"accept": "text/html"})
        assert response.status_code == 200
        page = response.text
        fetched = _FETCHED.findall(page)
        assert len(fetched) >= len(ide.assets()), fetched
        external = [url for url in fetched if _ABSOLUTE.match(url)]
        assert external == [], external
        assert "unpkg" not in page
        # GraphiQL's fetcher sends the Headers box's headers as the websocket's connection_init
        # payload, where the gateway reads the token: the page keeps that fetcher.
        assert "GraphiQL.createFetcher(" in page
        assert "subscriptionUrl" in page
        assert "cdn" not in page.lower()
        # Each file the page names is served by the gateway, byte for byte what the page's
        # integrity attribute (which the browser checks) expects.
        served = [url for url in fetched if url.startswith(ide.ASSETS_URL)]
        assert len(served) == len(ide.assets())
        by_url = {f"{ide.ASSETS_URL}/{a.local}": a for a in ide.assets()}
        for url in served:
            asset = await gateway.get(url)
            assert asset.status_code == 200, url
            assert by_url[url].matches(asset.content), url


async def test_production_serves_no_ide(assets: Path) -> None:
    # Production reads keys from its issuer's URL (never fetched here: no token is checked).
    jwks = {
        "auth_issuer": "https://issuer.invalid",
        "auth_jwks_file": "",
        "auth_jwks_url": "https://issuer.invalid/jwks",
    }
    production = settings(assets, environment="production", graphiql=True, **jwks)
    async with running_app(build_app(production)) as gateway:
        page = await gateway.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code in (404, 405)
        assert "GraphiQL" not in page.text
        first = ide.assets()[0]
        assert (await gateway.get(f"{ide.ASSETS_URL}/{first.local}")).status_code == 404


async def test_without_its_files_the_page_says_how_to_install_them(tmp_path: Path) -> None:
    async with running_app(build_app(settings(tmp_path / "absent"))) as gateway:
        response = await gateway.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 503
    assert "make install" in response.text
    assert "https://" not in response.text


def test_a_file_that_does_not_match_its_hash_is_fetched_again(assets: Path) -> None:
    first = ide.assets()[0]
    (assets / first.local).write_bytes(b"tampered")
    assert ide.missing(assets) == [first.local]
    assert ide.fetch(assets) == [first.local]
    assert ide.missing(assets) == []
