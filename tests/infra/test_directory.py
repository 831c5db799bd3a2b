"""The directory roles on two fresh hosts of the node image (systemd, nothing of the directory installed): the
`directory` role makes an OpenLDAP server with StartTLS seeded from a sample, and the `accounts` role's ldap backend
makes a client that resolves and authenticates its users through SSSD. A user added with ldapadd afterwards is
known to the client at once, with no deploy; the directory's secrets stay private. (The local cluster's own
directory, and the hub on it, are tested end to end in tests/e2e/test_directory_users.py.)"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.docker import ROOT, docker
from tests.support.images import image
from tests.support.infra import VENV_BIN
from tests.support.waiting import wait_for

RUN = secrets.token_hex(3)
NETWORK = f"hpcjh-test-dir-{RUN}"
SERVER, CLIENT = f"hpcjh-test-dir-{RUN}-ldap", f"hpcjh-test-dir-{RUN}-client"
BASE = "dc=physics,dc=example"
GROUP = {"name": "physicists", "gid": 4200}
USERS = [{"name": "yuki", "uid": 42001, "projects": ["phy01"]}, {"name": "zoltan", "uid": 42002, "projects": []}]


def systemd_host(name: str) -> None:
    docker("run", "--detach", "--name", name, "--hostname", name, "--network", NETWORK, "--label",
           "hpcjh-test=directory", "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
           "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro", image("node"))  # fmt: skip

    def booted() -> bool:  # systemd's bus appears a moment after the container starts
        state = docker("exec", name, "timeout", "60", "systemctl", "is-system-running", "--wait", check=False)
        return state.stdout.strip() in ("running", "degraded")

    wait_for(f"systemd booted on {name}", booted, 90, 0.5)


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    docker("network", "create", "--label", "hpcjh-test=directory", NETWORK)
    try:
        for name in (SERVER, CLIENT):
            systemd_host(name)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "secrets/passwords").mkdir(parents=True)
            yield folder, apply(folder)
    finally:
        if not os.environ.get("DIRECTORY_KEEP"):  # DIRECTORY_KEEP=1 leaves the hosts for a look
            for name in (SERVER, CLIENT):
                subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)
            subprocess.run(["docker", "network", "rm", NETWORK], capture_output=True, check=False)


def apply(folder: Path, **client: str) -> subprocess.CompletedProcess[str]:
    """Both roles on both hosts; `client`: the client's settings that differ from the right ones."""
    secrets_dir = folder / "secrets"
    connection = {"ansible_connection": "community.docker.docker_api", "ansible_python_interpreter": "/usr/bin/python3"}
    inventory = {"all": {
        "vars": {"accounts_users_group": GROUP, "accounts_users": USERS,
                 "accounts_password_dir": str(secrets_dir / "passwords")},
        "children": {
            "directory": {"hosts": {SERVER: connection},
                          "vars": {"directory_base_dn": BASE, "directory_secrets_dir": str(secrets_dir)}},
            "clients": {"hosts": {CLIENT: connection},
                        "vars": {"accounts_backend": "ldap", "accounts_ldap_uri": f"ldap://{SERVER}",
                                 "accounts_ldap_base_dn": BASE, "accounts_ldap_bind_dn": f"cn=reader,{BASE}",
                                 "accounts_ldap_bind_password_file": str(secrets_dir / "directory-reader.password"),
                                 "accounts_ldap_ca_file": str(secrets_dir / "directory-tls/ca.crt"), **client}},
        }}}  # fmt: skip
    playbook = [{"name": "The directory", "hosts": "directory", "gather_facts": False, "roles": ["directory"]},
                {"name": "Its clients", "hosts": "clients", "gather_facts": False, "roles": ["accounts"]}]  # fmt: skip
    (folder / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (folder / "directory.yml").write_text(yaml.safe_dump(playbook))
    return subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(folder / "hosts.yml"), str(folder / "directory.yml"),
         *(["--limit", CLIENT] if client else [])],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=900,
        env={"ANSIBLE_ROLES_PATH": str(ROOT / "roles"), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
             "PATH": f"{VENV_BIN}:/usr/bin:/bin"},
    )  # fmt: skip


def on(host: str, command: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = ["docker", "exec", *(["-i"] if stdin is not None else []), host, "sh", "-c", command]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=60)


def test_the_client_resolves_the_directorys_users_and_groups(deployed):
    _, run = deployed
    assert run.returncode == 0, run.stdout[-4000:]
    assert on(CLIENT, "grep -c yuki /etc/passwd").stdout.strip() == "0"  # not a local user
    assert on(CLIENT, "getent passwd yuki").stdout.strip() == "yuki:*:42001:42001:yuki:/global/homes/yuki:/bin/bash"
    assert on(CLIENT, "id -nG zoltan").stdout.split() == ["zoltan", "physicists"]


def test_the_client_authenticates_with_the_directorys_password(deployed):
    folder, _ = deployed
    password = (folder / "secrets/passwords/yuki").read_text().strip()
    checks = "(apt-get update -qq && apt-get install -y -qq pamtester) >/dev/null 2>&1; command -v pamtester"
    assert on(CLIENT, checks).returncode == 0
    assert on(CLIENT, "pamtester login yuki authenticate", stdin=f"{password}\n").returncode == 0
    assert on(CLIENT, "pamtester login yuki authenticate", stdin="not-the-password\n").returncode != 0


def test_a_user_added_to_the_directory_is_known_at_once(deployed):
    folder, _ = deployed
    admin = (folder / "secrets/directory-admin.password").read_text().strip()
    entry = (f"dn: uid=ana,ou=People,{BASE}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nuid: ana\n"
             "cn: ana\nsn: ana\nuidNumber: 42003\ngidNumber: 4200\nhomeDirectory: /global/homes/ana\n")  # fmt: skip
    added = on(SERVER, f"ldapadd -x -H ldapi:/// -D cn=admin,{BASE} -w '{admin}'", stdin=entry)
    assert added.returncode == 0, added.stderr
    assert on(CLIENT, "getent passwd ana").stdout.startswith("ana:*:42003:4200:")


def test_a_directory_users_home_is_made_private_at_first_login(deployed):
    on(CLIENT, "mkdir -p /global/homes && rm -rf /global/homes/zoltan")  # the shared filesystem's mount point
    login = on(CLIENT, "su - zoltan -c pwd")
    assert login.returncode == 0 and login.stdout.strip() == "/global/homes/zoltan", login.stderr
    assert on(CLIENT, "stat -c '%U %G %a' /global/homes/zoltan").stdout.strip() == "zoltan zoltan 700"


def test_the_directory_speaks_tls_only_with_its_certificate(deployed):
    folder, _ = deployed
    reader = (folder / "secrets/directory-reader.password").read_text().strip()
    search = f"ldapsearch -x -ZZ -H ldap://{SERVER} -D cn=reader,{BASE} -w '{reader}' -b ou=People,{BASE} uid=yuki uid"
    trusted = on(CLIENT, f"LDAPTLS_CACERT=/etc/sssd/directory-ca.crt {search}")
    assert trusted.returncode == 0 and "uid: yuki" in trusted.stdout, trusted.stderr
    assert on(CLIENT, f"LDAPTLS_CACERT=/etc/ssl/certs/ca-certificates.crt {search}").returncode != 0
    # The reader may search, but may not read a password hash.
    hashes = on(CLIENT, f"LDAPTLS_CACERT=/etc/sssd/directory-ca.crt {search} userPassword")
    assert hashes.returncode == 0 and "\nuserPassword:" not in hashes.stdout, hashes.stdout


def test_the_directorys_secrets_are_private(deployed):
    folder, _ = deployed
    for name in ("directory-admin.password", "directory-reader.password", "directory-tls/ca.key"):
        assert (folder / "secrets" / name).stat().st_mode & 0o077 == 0, name
    assert on(CLIENT, "stat -c %a /etc/sssd/sssd.conf").stdout.strip() == "600"
    assert on(SERVER, "stat -c '%U %G %a' /etc/ldap/tls/directory.key").stdout.strip() == "root openldap 640"


WRONG = {
    "accounts_ldap_bind_password_file": ("a-wrong-password", "refused the reader's credentials"),
    "accounts_ldap_base_dn": ("dc=chemistry,dc=example", "no user (posixAccount) under dc=chemistry"),
    "accounts_ldap_uri": ("ldap://no-such-host", "does not answer"),
    "accounts_ldap_ca_file": ("/etc/ssl/certs/ca-certificates.crt", "no TLS with"),
}


@pytest.mark.parametrize("variable", list(WRONG))
def test_a_wrong_setting_fails_naming_it_and_changes_nothing(deployed, variable):
    folder, _ = deployed
    value, said = WRONG[variable]
    if variable.endswith("password_file"):
        (folder / "wrong.password").write_text(value)
        value = str(folder / "wrong.password")
    before = on(CLIENT, "sha256sum /etc/sssd/sssd.conf").stdout
    run = apply(folder, **{variable: value})
    assert run.returncode != 0
    assert f"{variable}" in run.stdout and said in run.stdout, run.stdout[-2000:]
    assert on(CLIENT, "sha256sum /etc/sssd/sssd.conf").stdout == before
    assert on(CLIENT, "getent passwd yuki").returncode == 0


def test_a_second_run_changes_nothing(deployed):
    folder, _ = deployed
    again = apply(folder)
    assert again.returncode == 0, again.stdout[-3000:]
    recap = [line for line in again.stdout.splitlines() if " : ok=" in line]
    assert recap and all("changed=0" in line for line in recap), "\n".join(recap)
