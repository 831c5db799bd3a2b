"""The proxy image: configurable-http-proxy on Debian's Node.js, non-root."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.docker import ROOT, docker
from tests.support.images import image, processes

LOCKED = json.loads((ROOT / "images/proxy/package-lock.json").read_text())
CHP = LOCKED["packages"]["node_modules/configurable-http-proxy"]["version"]


def test_configurable_http_proxy_is_the_locked_version():
    out = docker("run", "--rm", image("proxy"), "--version").stdout
    assert out.strip() == CHP


def test_proxy_process_is_not_root(proxy):
    users = {user for user, cmd in processes(proxy) if "configurable-http-proxy" in cmd}
    assert users == {"chp"}


def test_no_npm_and_no_build_tree_in_the_runtime_image(proxy):
    assert not proxy.exists("npm")
    assert not proxy.file("/usr/share/nodejs/npm").exists
    assert not proxy.file("/root/.npm").exists


def test_healthcheck_passes_and_fails(proxy):
    assert proxy.run("node /usr/local/lib/proxy-healthcheck.js").rc == 0
    nothing_there = "PROXY_HEALTH_URL=https://127.0.0.1:9/_chp_healthz node /usr/local/lib/proxy-healthcheck.js"
    assert proxy.run(nothing_there).rc == 1


def test_installed_tree_matches_the_lock(proxy):
    for path, meta in LOCKED["packages"].items():
        if not path:
            continue
        installed = json.loads(proxy.file(str(Path("/opt/configurable-http-proxy") / path / "package.json"))
                               .content_string)  # fmt: skip
        assert installed["version"] == meta["version"], path
