"""Secrets stay secret (10) and the proxy speaks HTTPS (11)."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
import requests

from tests.support.docker import ROOT, docker, on
from tests.support.hubclient import CERTIFICATE, HTTP_PORT, HUB, SECRETS, HubSession

RUNTIME = SECRETS / "runtime"
AUDIT = SECRETS / "audit"  # jupyterhub_audit_dir in the local inventory
VERSION = (ROOT / "VERSION").read_text().strip()
TEXT_SECRETS = ["proxy-token", "cookie-secret", "crypt-key", "service-token", "metrics-token"]


def secret_values() -> dict[str, bytes]:
    """Every generated secret's value: tokens, passwords, the munge key, the TLS key."""
    values = {name: (SECRETS / name).read_bytes().strip() for name in TEXT_SECRETS}
    values |= {f"password of {p.name}": p.read_bytes().strip() for p in (SECRETS / "passwords").iterdir()}
    values["munge.key"] = (SECRETS / "munge.key").read_bytes()
    for name in ("directory-admin.password", "directory-reader.password"):  # the directory's (host ldap)
        values[name] = (SECRETS / name).read_bytes().strip()
    key_lines = (SECRETS / "tls/proxy.key").read_bytes().splitlines()
    values["tls key"] = b"".join(line for line in key_lines if not line.startswith(b"-----"))[:40]
    return values


def leaks(blob: bytes, values: dict[str, bytes]) -> list[str]:
    return [name for name, value in values.items() if value and value in blob]


def project_containers() -> list[str]:
    names = docker("ps", "--format", "{{.Names}}", "--filter", "label=io.github.hpc-jupyterhub-deploy.cluster").stdout
    return sorted({*names.split(), "jupyterhub", "proxy"})


def slurm_hosts() -> list[str]:
    """The containers of Slurm's hosts and the hub: those with a munge key (not the directory's host)."""
    groups = ("slurm_controller", "slurm_accounting", "compute", "login_nodes")
    names = docker("ps", "--format", '{{.Names}} {{.Label "io.github.hpc-jupyterhub-deploy.group"}}',
                   "--filter", "label=io.github.hpc-jupyterhub-deploy.cluster").stdout  # fmt: skip
    return sorted({*(line.split()[0] for line in names.splitlines() if line.split()[1:] and line.split()[1] in groups),
                   "jupyterhub"})  # fmt: skip


def our_images() -> list[str]:
    listed = docker("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=hpc-jupyterhub-deploy/*")
    return sorted(name for name in listed.stdout.split() if name.endswith(f":{VERSION}"))


def test_secret_files_are_private():
    for path in SECRETS.rglob("*"):
        if path.parent == RUNTIME and path.name in ("slurm.conf", "hub.yaml", "tls.crt", "jupyterhub_config.d"):
            continue  # configuration and the public certificate, mounted into containers
        if path.parent == RUNTIME / "jupyterhub_config.d":
            continue  # the site's own hub configuration (jupyterhub_config_d), read by the hub's user
        if RUNTIME / "notices" in (path, path.parent):
            continue  # the announcement, maintenance mode and the proxy's page: public, read by the hub and proxy
        if AUDIT in (path, path.parent):
            assert path.stat().st_mode & 0o007 == 0, f"{path}: readable by others"  # the trail: 0750, not secret
            continue
        if path == CERTIFICATE or path.suffix == ".crt":
            continue  # certificates are public (the proxy's, the directory's CA and server)
        mode = path.stat().st_mode & 0o777
        # A folder may be crossed (0711: the runtime folder by the proxy's user to its own 0400 file; SSSD's, as
        # Debian's /etc/sssd), never listed.
        allowed = (0o700, 0o711) if path.is_dir() else (0o600, 0o400)
        assert mode in allowed, f"{path}: {oct(mode)}"


def test_the_munge_key_is_0400_on_every_host():
    hosts = slurm_hosts()
    assert {"slurmctld", "slurmdbd", "login", "c1", "jupyterhub"} <= set(hosts), hosts
    for host in hosts:
        path = "/etc/munge/munge.key"
        seen = on(host, f"stat -c '%a %U' {path}").stdout.split()
        assert seen == ["400", "munge"], f"{host}: {path} {seen}"


def test_no_secret_in_image_history_nor_image_filesystems():
    values = secret_values()
    images = our_images()
    assert len(images) >= 4, images  # hub, proxy, notebook, node
    for image in images:
        history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout.encode()
        assert not leaks(history, values), f"{image} history: {leaks(history, values)}"
    # Every layer of every image, once: `docker save` writes a layer the images share (the node image is built
    # FROM the notebook image) one time, and each layer whole, so a file a later layer hides is read too.
    saved = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
    assert saved.stdout is not None
    tail, found = b"", set()
    while chunk := saved.stdout.read(1 << 20):
        window = tail + chunk
        found |= set(leaks(window, values))
        tail = window[-256:]
    assert saved.wait() == 0
    assert not found, f"a layer of {', '.join(images)} holds {sorted(found)}"


def test_no_secret_in_logs_process_arguments_or_container_settings():
    values = secret_values()
    for host in project_containers():
        logs = subprocess.run(["docker", "logs", host], capture_output=True, check=False)
        assert not leaks(logs.stdout + logs.stderr, values), f"{host} logs: {leaks(logs.stdout + logs.stderr, values)}"
        argv = on(host, "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '").stdout.encode()
        assert not leaks(argv, values), f"{host} process arguments: {leaks(argv, values)}"
        inspected = docker("inspect", host).stdout.encode()
        assert not leaks(inspected, values), f"{host} docker inspect: {leaks(inspected, values)}"
        if host != "proxy":
            files = on(host, "cat /var/log/slurm/*.log /var/log/munge/*.log 2>/dev/null").stdout.encode()
            assert not leaks(files, values), f"{host} Slurm/munge logs: {leaks(files, values)}"
    jobs = on("login", "cat /global/homes/*/.jupyterhub-slurm-*.log 2>/dev/null").stdout.encode()
    assert not leaks(jobs, values), f"notebook job logs: {leaks(jobs, values)}"


def test_the_proxys_api_port_is_not_published():
    bindings = json.loads(docker("inspect", "--format", "{{json .HostConfig.PortBindings}}", "proxy").stdout)
    assert set(bindings) == {"8000/tcp", "8443/tcp"}
    assert all(b["HostIp"] == "127.0.0.1" for port in bindings.values() for b in port)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 8001), timeout=2).close()


def test_http_is_redirected_to_https():
    reply = requests.get(f"{HTTP_PORT}/hub/login?next=%2Fhub%2F", allow_redirects=False, timeout=10)
    assert reply.status_code == 301
    assert reply.headers["Location"] == f"{HUB}/hub/login?next=%2Fhub%2F"


def test_https_with_the_local_certificate_for_both_names_and_tls_1_2_at_least():
    context = ssl.create_default_context(cafile=str(CERTIFICATE))
    for name in ("localhost", "127.0.0.1"):
        with (
            socket.create_connection(("127.0.0.1", 8443), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    old = ssl.create_default_context(cafile=str(CERTIFICATE))
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError), socket.create_connection(("127.0.0.1", 8443), timeout=5) as raw:
        old.wrap_socket(raw, server_hostname="localhost")


def test_an_untrusted_client_is_refused_and_cookies_are_secure():
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{HUB}/hub/login", verify=True, timeout=10)  # the system's CAs do not know this certificate
    alice = HubSession("alice")
    alice.get(f"{HUB}/hub/login")
    password = Path(SECRETS / "passwords/alice").read_text().strip()
    reply = alice.post(f"{HUB}/hub/login", data={"username": "alice", "password": password, "_xsrf": alice.xsrf},
                       allow_redirects=False)  # fmt: skip
    assert reply.status_code == 302
    cookies = reply.raw.headers.getlist("Set-Cookie")
    login = [cookie for cookie in cookies if cookie.startswith("jupyterhub-hub-login=")]
    assert login and "Secure" in login[0] and "HttpOnly" in login[0]
