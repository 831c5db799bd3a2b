"""Nobody in where they don't belong (8, 9): the port-report API, other users' files and servers, sudo."""

from __future__ import annotations

import json

import pytest

from tests.support.cluster import Server, start_server
from tests.support.docker import docker, on
from tests.support.hubclient import public_get

ABUSE = """
import json, os, urllib.error, urllib.request
url = os.environ["JUPYTERHUB_API_URL"] + "/batchspawner"
codes = []
for body in {bodies}:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={{
        "Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"], "Content-Type": "application/json"}})
    try:
        codes.append(urllib.request.urlopen(request, timeout=10).status)
    except urllib.error.HTTPError as refused:
        codes.append(refused.code)
print(json.dumps(codes))
"""
BODIES = [
    {"batch_submit_cmd": "bash -c 'touch /tmp/pwned-submit'"},
    {"port": 45678, "batch_query_cmd": "touch /tmp/pwned-query"},
    {"batch_cancel_cmd": "touch /tmp/pwned-cancel"},
    {"exec_prefix": "", "port": 45678},
    {"port": "45678; touch /tmp/pwned-port"},
    {"ip": "10.0.0.66"},
]


@pytest.fixture(scope="module")
def alice() -> Server:
    return start_server("alice", {"partition": "interactive", "cpus": 1, "time": 30})


@pytest.fixture(scope="module")
def bob() -> Server:
    return start_server("bob")


def test_the_servers_own_token_can_set_nothing_but_the_port(alice):
    printed = alice.session.run_in_kernel(ABUSE.format(bodies=repr(BODIES)))
    assert json.loads(printed) == [400] * len(BODIES)
    logged = docker("logs", "--since", "5m", "jupyterhub").stderr
    assert logged.count("Refused port report for alice") >= len(BODIES)
    assert on("jupyterhub", "ls /tmp/pwned-* 2>/dev/null").stdout == ""
    # The hub's commands are unchanged: the server still answers, and stopping and starting it works.
    assert alice.answers()


def test_a_users_api_token_is_not_a_servers_token(alice):
    token = alice.session.api("POST", "/users/alice/tokens", json={"note": "abuse", "expires_in": 60}).json()["token"]
    reply = alice.session.post(f"{alice.session.hub}/hub/api/batchspawner", json={"port": 45678},
                               headers={"Authorization": f"token {token}"})  # fmt: skip
    assert reply.status_code == 403


def test_a_user_cannot_read_another_users_home_or_scratch_nor_sudo(alice, bob):
    printed = alice.session.run_in_kernel(
        "import json, os, subprocess\n"
        "seen = {}\n"
        "for path in ['/global/homes/bob', '/global/scratch/bob', '/global/homes/bob/.bashrc']:\n"
        "    try:\n"
        "        seen[path] = os.listdir(path) if os.path.isdir(path) else open(path).read()[:10]\n"
        "    except PermissionError:\n"
        "        seen[path] = 'denied'\n"
        "sudo = subprocess.run(['sudo', '-n', 'true'], capture_output=True)\n"
        "print(json.dumps({'seen': seen, 'sudo': sudo.returncode, 'uid': os.getuid()}))\n"
    )
    result = json.loads(printed)
    assert result["seen"] == dict.fromkeys(result["seen"], "denied")
    assert result["sudo"] != 0 and result["uid"] == 20001


def test_a_user_cannot_reach_another_users_server_through_the_proxy(alice, bob):
    assert bob.answers()
    with_token = public_get("/user/bob/api/status", headers={"Authorization": f"token {alice.token}"},
                            allow_redirects=False)  # fmt: skip
    assert with_token.status_code == 403
    with_cookies = alice.session.get(f"{alice.session.hub}/user/bob/api/contents")  # the browser's way, redirects
    assert with_cookies.status_code == 403 and "content" not in with_cookies.text[:200]
    alice.session.stop()
    bob.session.stop()
