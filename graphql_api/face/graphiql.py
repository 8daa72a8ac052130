"""GraphiQL: the page, its pinned assets, and fetching them once so it works offline (issue 15).

The page (static/graphiql.html) opens with the URL's `query`, `variables` and
`operationName` when given (the links people share), else with an example query of this
API and how to send a token. Its scripts and styles come from `/graphiql/assets/` when
`graphql-api graphiql fetch` has put them in GRAPHQL_API_HOME, else from the unpkg CDN.
Either way the browser checks them against the same pinned Subresource Integrity hashes,
and `fetch` checks each npm tarball's integrity and each extracted file's hash, so the
local files are byte for byte the CDN's. The assets are never committed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response

from graphql_api.core.auth.users import DEMO_ACCOUNTS, DEMO_PASSWORD
from graphql_api.core.config import Environment, Settings

REGISTRY: Final = "https://registry.npmjs.org"
CDN: Final = "https://unpkg.com"
ROUTE: Final = "/graphiql/assets"
_TEMPLATE: Final = Path(__file__).with_name("static") / "graphiql.html"


@dataclass(frozen=True, slots=True)
class Asset:
    name: str  # the file name served under ROUTE
    package: str
    version: str
    member: str  # the path inside the npm tarball
    sri: str  # sha384 of the file (what the browser checks)
    tarball_integrity: str  # npm's sha512 of the tarball

    @property
    def cdn_url(self) -> str:
        return f"{CDN}/{self.package}@{self.version}/{self.member.removeprefix('package/')}"

    @property
    def tarball_url(self) -> str:
        base = self.package.rsplit("/", 1)[-1]
        return f"{REGISTRY}/{self.package}/-/{base}-{self.version}.tgz"


_REACT = (
    "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbT"
    "JrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ=="
)
_REACT_DOM = (
    "sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99"
    "wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g=="
)
_GRAPHIQL = (
    "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7"
    "a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw=="
)
_EXPLORER = (
    "sha512-9j+kg2UjtLZD5EBmGjeWHkoVVxtbShYg2DzbUVebibnZYZM/iMBEF"
    "4vaccXJIAm5KaomIPLx0aoNs4LbODyc3Q=="
)

# Scripts in load order, then styles. Versions and hashes as Strawberry's GraphiQL page pins.
ASSETS: Final = (
    Asset(
        "react.production.min.js",
        "react",
        "18.2.0",
        "package/umd/react.production.min.js",
        "sha384-tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8",
        _REACT,
    ),
    Asset(
        "react-dom.production.min.js",
        "react-dom",
        "18.2.0",
        "package/umd/react-dom.production.min.js",
        "sha384-bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh",
        _REACT_DOM,
    ),
    Asset(
        "graphiql.min.js",
        "graphiql",
        "3.8.3",
        "package/graphiql.min.js",
        "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
        _GRAPHIQL,
    ),
    Asset(
        "explorer.umd.js",
        "@graphiql/plugin-explorer",
        "1.0.2",
        "package/dist/index.umd.js",
        "sha384-2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9",
        _EXPLORER,
    ),
    Asset(
        "graphiql.min.css",
        "graphiql",
        "3.8.3",
        "package/graphiql.min.css",
        "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
        _GRAPHIQL,
    ),
    Asset(
        "explorer.css",
        "@graphiql/plugin-explorer",
        "1.0.2",
        "package/dist/style.css",
        "sha384-5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi",
        _EXPLORER,
    ),
)
_BY_NAME: Final = {asset.name: asset for asset in ASSETS}


def assets_dir(home: Path) -> Path:
    """Where `fetch` keeps the assets: named by GraphiQL's version, so a new pin refetches."""
    return home / "graphiql" / "graphiql-3.8.3"


def _digest(algorithm: str, data: bytes) -> str:
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


class IntegrityError(Exception):
    pass


def verify(data: bytes, expected: str, what: str) -> None:
    algorithm = expected.split("-", 1)[0]
    if _digest(algorithm, data) != expected:
        raise IntegrityError(f"{what}: {algorithm} does not match the pinned hash")


def fetch(home: Path, *, registry: str = REGISTRY, timeout: float = 60.0) -> list[Path]:
    """Download the pinned tarballs from the npm registry, check them, keep the files."""
    target = assets_dir(home)
    target.mkdir(parents=True, exist_ok=True)
    tarballs: dict[str, bytes] = {}
    written: list[Path] = []
    for asset in ASSETS:
        url = asset.tarball_url.replace(REGISTRY, registry.rstrip("/"), 1)
        if url not in tarballs:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (https registry)
                data = response.read()
            verify(data, asset.tarball_integrity, url)
            tarballs[url] = data
        with tarfile.open(fileobj=io.BytesIO(tarballs[url]), mode="r:gz") as archive:
            member = archive.extractfile(asset.member)
            if member is None:
                raise IntegrityError(f"{asset.member} is not a file in {url}")
            content = member.read()
        verify(content, asset.sri, asset.name)
        path = target / asset.name
        path.write_bytes(content)
        written.append(path)
    return written


_VERIFIED: set[Path] = set()


def local_assets(home: Path) -> bool:
    """Whether every asset was fetched (and has its pinned hash; checked once per process,
    the browser checks every load)."""
    target = assets_dir(home)
    if target in _VERIFIED:
        return True
    try:
        for asset in ASSETS:
            verify((target / asset.name).read_bytes(), asset.sri, asset.name)
    except (OSError, IntegrityError):
        return False
    _VERIFIED.add(target)
    return True


def _tags(local: bool) -> str:
    lines = []
    for asset in ASSETS:
        url = f"{ROUTE}/{asset.name}" if local else asset.cdn_url
        cross = "" if local else " crossorigin"
        if asset.name.endswith(".css"):
            lines.append(f'<link rel="stylesheet" href="{url}" integrity="{asset.sri}"{cross} />')
        else:
            lines.append(f'<script src="{url}" integrity="{asset.sri}"{cross}></script>')
    return "\n    ".join(lines)


def example_query(settings: Settings) -> str:
    demo = ""
    if settings.env is not Environment.PRODUCTION:
        accounts = ", ".join(email for email, _ in DEMO_ACCOUNTS)
        demo = f"# Demo accounts (development only, password {DEMO_PASSWORD}): {accounts}.\n"
    return (
        "# graphql-api: press Ctrl-Enter (or the play button) to run this query.\n"
        "#\n"
        "# To call as a user: run the `login` mutation below (select it with the play\n"
        "# button's menu), then open the Headers tab (bottom left) and put\n"
        '#   {"Authorization": "Bearer <accessToken>"}\n'
        + demo
        + "# Subscriptions work here too (over WebSocket, the same headers).\n\n"
        "query LatestAnnouncements {\n"
        "  announcements(first: 5) {\n"
        "    edges { node { title organization closesAt status business { name } } }\n"
        "  }\n"
        "}\n\n"
        "mutation Login {\n"
        '  login(input: {email: "member@example.com", password: "demo-password"}) {\n'
        "    accessToken\n"
        "    errors { code message }\n"
        "  }\n"
        "}\n"
    )


def page(settings: Settings) -> str:
    local = local_assets(settings.home)
    template = _TEMPLATE.read_text()
    return template.replace("<!-- ASSETS -->", _tags(local)).replace(
        # JSON is a JavaScript literal; "</" must not close the script element.
        "/* EXAMPLE_QUERY */",
        json.dumps(example_query(settings)).replace("</", "<\\/"),
    )


async def serve_page(request: Request) -> Response:
    return HTMLResponse(page(request.app.state.settings))


async def serve_asset(request: Request) -> Response:
    """A fetched asset: immutable (its name is pinned to a version and a hash)."""
    asset = _BY_NAME.get(request.path_params["name"])
    path = None if asset is None else assets_dir(request.app.state.settings.home) / asset.name
    if path is None or not path.is_file():
        body = {"errors": [{"message": "Not found.", "extensions": {"code": "NOT_FOUND"}}]}
        return JSONResponse(body, status_code=404)
    return FileResponse(path, headers={"cache-control": "public, max-age=31536000, immutable"})
