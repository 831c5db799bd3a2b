"""Helpers of the image tests: throwaway containers of the built images, their health, versions, processes."""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from pathlib import Path

import testinfra

from tests.support.docker import ROOT, docker
from tests.support.waiting import wait_for

PREFIX = os.environ.get("IMAGE_PREFIX") or "hpc-jupyterhub-deploy"
TAG = os.environ.get("IMAGE_TAG") or (ROOT / "VERSION").read_text().strip()
RUN_ID = secrets.token_hex(3)


# The hub containers' users' group: a site's, not the sample inventory's (the image names none of its own).
USERS_GROUP = "researchers"


def image(name: str) -> str:
    return f"{PREFIX}/{name}:{TAG}"


def health(cid: str) -> str:
    out = docker("inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", cid, check=False)
    return out.stdout.strip()


def wait_healthy(cid: str, deadline_s: float = 90) -> None:
    def healthy() -> bool:
        status = health(cid)
        if status == "unhealthy":
            logs = docker("logs", "--tail", "30", cid, check=False)
            raise AssertionError(f"container {cid[:12]} unhealthy:\n{logs.stdout}{logs.stderr}")
        return status == "healthy"

    wait_for(f"container {cid[:12]} healthy", healthy, deadline_s)


def http_get(url: str, timeout: float = 3) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def published_port(cid: str, port: int) -> int:
    mapping = json.loads(docker("inspect", "--format", "{{json .NetworkSettings.Ports}}", cid).stdout)
    return int(mapping[f"{port}/tcp"][0]["HostPort"])


def processes(host: testinfra.host.Host) -> list[tuple[str, str]]:
    """(user, command line) of every process in the container, read from /proc (no ps needed)."""
    script = (
        "for p in /proc/[0-9]*; do [ -r $p/cmdline ] || continue; "
        'printf "%s %s\\n" "$(stat -c %U $p)" "$(tr "\\000" " " < $p/cmdline)"; done'
    )
    out = host.check_output(script)
    return [tuple(line.split(" ", 1)) for line in out.splitlines() if " " in line and line.split(" ", 1)[1]]  # type: ignore[misc]


class Containers:
    """Starts containers and networks for a test session and removes them all afterwards."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.networks: list[str] = []

    def network(self) -> str:
        name = f"hpcjh-test-{RUN_ID}-{len(self.networks)}"
        docker("network", "create", name)
        self.networks.append(name)
        return name

    def start(self, image_ref: str, options: list[str] | None = None, command: list[str] | None = None) -> str:
        cmd = ["run", "--detach", "--label", f"hpcjh-test={RUN_ID}", *(options or []), image_ref, *(command or [])]
        cid = docker(*cmd).stdout.strip()
        self.ids.append(cid)
        return cid

    def remove_all(self) -> None:
        for cid in self.ids:
            docker("rm", "--force", "--volumes", cid, check=False)
        for net in self.networks:
            docker("network", "rm", net, check=False)


def locked_versions(lock: Path) -> dict[str, str]:
    """name -> version of every `name==version` line of a requirements lock (names normalised)."""
    pins = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==", 1)
            pins[normalise(name)] = version.split(";")[0].split()[0]
    return pins


def normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


INSTALLED_VERSIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
)


def installed_versions(host: testinfra.host.Host, python: str) -> dict[str, str]:
    found = json.loads(host.check_output(f'{python} -c "{INSTALLED_VERSIONS}"'))
    return {normalise(name): version for name, version in found.items()}


def lock_mismatches(host: testinfra.host.Host, python: str, lock: Path) -> dict[str, tuple[str, str | None]]:
    """Packages of `lock` that the environment of `python` lacks or has at another version."""
    installed = installed_versions(host, python)
    return {name: (version, installed.get(name)) for name, version in locked_versions(lock).items()
            if installed.get(name) != version}  # fmt: skip
