"""GraphiQL served by the gateway itself, with no CDN at run time.

Strawberry's GraphiQL page loads React, GraphiQL and its plugins from a public CDN, which
many company networks block. At install time (`make install`, the Dockerfile) `fetch` takes
the exact files the page names from the npm registry with npm's own client (`npm pack`, its
tarballs cached under ~/.cache/icr/npm so a fresh clone installs fast), checks each against
the page's own subresource-integrity hash, and writes them into an ignored folder; at run
time the gateway serves the page rewritten to point at its own copies. The list of files is
read from strawberry's page, so a strawberry upgrade that moves versions is followed.

    uv run python -m icr.gateway.ide fetch .local/graphiql
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

# `src="https://<cdn>/<package>@<version>/<path>"` followed by its integrity attribute.
_ASSET = re.compile(
    r'(?P<attr>src|href)="(?P<url>https://[^/"]+/(?P<package>(?:@[^/@"]+/)?[^/@"]+)'
    r'@(?P<version>[^/"]+)/(?P<path>[^"]+))"\s*integrity="(?P<integrity>sha384-[^"]+)"'
)
ASSETS_URL = "/graphql/assets"


@dataclass(frozen=True)
class Asset:
    url: str  # where strawberry's page loads it from
    package: str
    version: str
    path: str  # inside the package
    integrity: str  # sha384-<base64>, from the page

    @property
    def local(self) -> str:
        """Its path under the assets folder (and under ASSETS_URL)."""
        return f"{self.package}@{self.version}/{self.path}"

    def matches(self, data: bytes) -> bool:
        digest = base64.b64encode(hashlib.sha384(data).digest()).decode()
        return self.integrity == f"sha384-{digest}"


def page_template() -> str:
    return get_graphql_ide_html(graphql_ide="graphiql")


def assets(page: str | None = None) -> list[Asset]:
    page = page_template() if page is None else page
    found = [
        Asset(m["url"], m["package"], m["version"], m["path"], m["integrity"])
        for m in _ASSET.finditer(page)
    ]
    if not found:
        raise RuntimeError("strawberry's GraphiQL page names no assets this module recognises")
    return found


def local_page(prefix: str = ASSETS_URL) -> str:
    """Strawberry's page with every asset loaded from the gateway; the integrity checks stay."""
    page = page_template()
    for asset in assets(page):
        page = page.replace(asset.url, f"{prefix}/{asset.local}")
    return page


def missing(folder: Path) -> list[str]:
    """The assets the page needs that are not (intact) in `folder`."""
    out = []
    for asset in assets():
        file = folder / asset.local
        if not file.is_file() or not asset.matches(file.read_bytes()):
            out.append(asset.local)
    return out


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "icr" / "npm"


def _tarball(package: str, version: str, cache: Path) -> Path:
    """The package's npm tarball, from the cache or `npm pack` (npm's registry settings)."""
    name = f"{package.lstrip('@').replace('/', '-')}-{version}.tgz"
    tarball = cache / name
    if tarball.is_file():
        return tarball
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        subprocess.run(
            ["npm", "pack", f"{package}@{version}", "--pack-destination", tmp, "--silent"],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=300,
        )
        # Renamed into place only when complete: an interrupted download is never cached.
        os.replace(Path(tmp) / name, tarball)
    return tarball


def fetch(folder: Path, cache: Path | None = None) -> list[str]:
    """Writes every asset the page needs into `folder`; returns what it had to write."""
    cache = cache or default_cache()
    written = []
    for asset in assets():
        target = folder / asset.local
        if target.is_file() and asset.matches(target.read_bytes()):
            continue
        tarball = _tarball(asset.package, asset.version, cache)
        with tarfile.open(tarball) as archive:
            member = archive.extractfile(f"package/{asset.path}")
            data = member.read() if member else b""
        if not asset.matches(data):
            # A corrupt cache entry is dropped so the next run downloads it again.
            tarball.unlink(missing_ok=True)
            raise RuntimeError(f"{asset.local}: does not match the page's integrity hash")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(asset.local)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "fetch":
        print("usage: python -m icr.gateway.ide fetch FOLDER", file=sys.stderr)
        return 2
    folder = Path(argv[1])
    written = fetch(folder)
    print(f"graphiql assets in {folder}: {len(assets())} files, {len(written)} fetched")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
