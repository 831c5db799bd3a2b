"""images/proxy/install-from-lock: the proxy's npm lock installed without npm (the hub host as a systemd service).
Its whole run against the registry is make test-production's hub host; here, what it decides offline."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "images/proxy/package-lock.json"


installer = load_script(ROOT / "images/proxy/install-from-lock", "install_from_lock")


def tarball(files: dict[str, bytes], modes: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), (modes or {}).get(name, 0o644)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_tarball_urls_of_plain_and_scoped_packages():
    assert installer.tarball_url("https://r.example/", "ms", "2.1.3") == "https://r.example/ms/-/ms-2.1.3.tgz"
    assert (installer.tarball_url("https://r.example", "@colors/colors", "1.6.1")
            == "https://r.example/@colors/colors/-/colors-1.6.1.tgz")  # fmt: skip


def test_every_package_of_the_proxys_lock_and_only_those():
    lock = json.loads(LOCK.read_text())
    found = installer.packages(lock)
    assert len(found) == len(lock["packages"]) - 1  # all but the root
    paths = {path: name for path, name, _ in found}
    assert paths["node_modules/configurable-http-proxy"] == "configurable-http-proxy"
    assert paths["node_modules/logform/node_modules/@colors/colors"] == "@colors/colors"  # nested, scoped
    lock["packages"]["node_modules/ms"]["dev"] = True
    assert "node_modules/ms" not in {path for path, _, _ in installer.packages(lock)}


def test_a_tarball_that_differs_from_the_lock_is_refused():
    data = b"what the registry sent"
    good = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    assert installer.verified(data, good, "x@1") == data
    with pytest.raises(SystemExit, match="x@1: the tarball does not match"):
        installer.verified(data + b"!", good, "x@1")


def test_unpacking_keeps_the_package_and_its_modes_and_nothing_outside(tmp_path):
    data = tarball({"package/index.js": b"1", "package/bin/cli": b"#!", "package/../../evil": b"x"},
                   {"package/bin/cli": 0o755})  # fmt: skip
    installer.unpack(data, tmp_path / "node_modules/p")
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        "node_modules/p/bin/cli", "node_modules/p/index.js"]  # fmt: skip
    assert (tmp_path / "node_modules/p/bin/cli").stat().st_mode & 0o777 == 0o755
    installer.link_commands(tmp_path, "node_modules/p", {"bin": {"p-cli": "bin/cli"}})
    assert (tmp_path / "node_modules/.bin/p-cli").resolve() == (tmp_path / "node_modules/p/bin/cli").resolve()
