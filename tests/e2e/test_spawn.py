"""A user logs in, spawns JupyterLab as a Slurm job, runs code in a kernel, and stops it."""

from __future__ import annotations

import base64
import html
import json
import secrets
import time

import pytest

from tests.support import directory
from tests.support.cluster import accounted_jobs, slurm_jobs, wait_ready
from tests.support.docker import on
from tests.support.hubclient import HUB
from tests.support.waiting import wait_for


def test_login_through_the_proxy_shows_the_spawn_form(session_of):
    alice = session_of("alice")
    page = alice.get(f"{HUB}/hub/spawn/alice")
    assert page.status_code == 200
    # The inventory's places (site_places), each with its description; project, QoS and nodes as advanced.
    assert 'name="place"' in page.text and 'name="partition"' not in page.text
    assert "login: Login node: light work" in page.text and "gpu: The GPU node" in page.text
    assert '<details id="advanced">' in page.text
    assert "m1000" in page.text and "m2000" not in page.text  # only her own accounts


def test_password_hashes_use_the_role_rounds_not_passlibs():
    # passlib's default (656000 SHA-512 rounds) cost every login 0.5 s of CPU; glibc's 5000 does not write
    # rounds= into the hash. Generated passwords are random (~119 bits): rounds add no safety. The sample's
    # passwords are seeded into the directory, where PAM (pam_sss) checks them.
    entries = directory.search("(|(uid=alice)(uid=bob))", "userPassword")
    hashes = [base64.b64decode(line.split(":: ", 1)[1]).decode() for line in entries.splitlines()
              if line.startswith("userPassword::")]  # fmt: skip
    assert len(hashes) == 2
    assert all(value.startswith("{CRYPT}$6$") and "rounds=" not in value for value in hashes)


def test_spawn_from_the_form_run_code_and_stop(session_of):
    alice = session_of("alice")
    before = set(slurm_jobs("alice"))
    reply = alice.submit_form(partition="debug", account="m1000", qos="normal", nodes="1", cpus="1",
                              memory="1024", time="30")  # fmt: skip
    assert reply.status_code == 200, reply.text[:500]
    seconds = wait_ready(alice)
    print(f"spawn ready in {seconds:.2f} s")
    jobs = set(slurm_jobs("alice")) - before
    assert len(jobs) == 1, f"alice's new jobs in squeue: {jobs}"

    assert alice.get(f"{HUB}/user/alice/lab").status_code == 200
    tag = secrets.token_hex(4)
    out = alice.run_in_kernel(
        "import json, os, socket\n"
        f"path = os.path.join(os.environ['SCRATCH'], 'e2e-{tag}.txt')\n"
        "open(path, 'w').write(socket.gethostname())\n"
        "print(json.dumps({'host': socket.gethostname(), 'uid': os.getuid(), 'path': path}))\n",
    )
    seen = json.loads(out)
    assert seen["host"] in ("c1", "c2", "c3", "c4") and seen["uid"] == 20001
    assert seen["path"] == f"/global/scratch/alice/e2e-{tag}.txt"
    listed = on("login", f"stat -c '%U %a' {seen['path']} && cat {seen['path']}")
    assert listed.returncode == 0 and listed.stdout.split() == ["alice", "644", seen["host"]]

    alice.stop()
    wait_for("alice's job gone from squeue", lambda: not (set(slurm_jobs("alice")) & jobs), 30)


def test_a_job_that_dies_at_once_fails_the_spawn_within_seconds_naming_its_log(session_of):
    # The server's launcher unreadable on every node: each job ends at once. The spawn must fail on the
    # spawner's next job check (1 s), with Slurm's state and the job's log, not at start_timeout (300 s).
    launcher = "/opt/jupyter/bin/hpchub-singleuser"
    nodes = ["c1", "c2"]
    for node in nodes:
        assert on(node, f"chmod 0 {launcher}").returncode == 0
    try:
        erin = session_of("erin")
        started = time.monotonic()
        reply = erin.api("POST", "/users/erin/server", json={"partition": "debug", "account": "m1000"})
        if reply.status_code == 500:  # failed within the hub's slow_spawn_timeout: the reply says why
            message = reply.json()["message"]
        else:  # 202: the spawn page's progress stream says why
            assert reply.status_code == 202, reply.text[:300]
            with pytest.raises(RuntimeError, match="spawn failed") as failed:
                erin.wait_ready(60)
            message = html.unescape(str(failed.value))
        elapsed = time.monotonic() - started
    finally:
        for node in nodes:
            on(node, f"chmod 0755 {launcher}")
    assert "ended before JupyterLab could report its port (FAILED in accounting)" in message, message
    assert "/global/homes/erin/.jupyterhub-slurm-" in message, message
    assert elapsed < 15, f"the spawn failed only after {elapsed:.1f} s"
    wait_for("erin's server forgotten", lambda: not erin.server(), 30)


BAD_OPTIONS = [
    {"cpus": "-1"},
    {"partition": "nosuch"},
    {"account": "m1000\n#SBATCH --uid=0"},
    {"account": "m2000"},  # bob's project, not alice's
    {"time": "9999"},
    {"qos": "$(id)"},
    {"command": "bash"},
]


@pytest.mark.parametrize("options", BAD_OPTIONS, ids=lambda o: next(iter(o)))
def test_bad_values_are_refused_by_rest_and_form_and_nothing_is_submitted(session_of, options):
    alice = session_of("alice")
    accounted = accounted_jobs("alice")
    rest = alice.api("POST", "/users/alice/server", json={"user_options": options})
    assert rest.status_code == 400, rest.text[:300]
    assert next(iter(options)) in rest.json()["message"]
    form = alice.submit_form(**options)
    assert form.status_code == 400
    assert not alice.server()
    assert accounted_jobs("alice") == accounted


def test_user_without_an_association_is_told_in_the_form(session_of):
    carol = session_of("carol")
    page = carol.get(f"{HUB}/hub/spawn/carol")
    assert "no Slurm account" in page.text
    reply = carol.api("POST", "/users/carol/server", json={})
    assert reply.status_code == 400 and "no Slurm account" in reply.json()["message"]


def test_a_home_over_its_quota_is_refused_in_the_form_and_by_rest(session_of):
    """The local inventory's check: the hub image's du helper, 1024 MB, run as the user."""
    bob = session_of("bob")
    accounted = accounted_jobs("bob")
    filler = "/global/homes/bob/e2e-quota-filler.bin"
    made = on("login", f"fallocate -l 1100M {filler} && chown bob:bob {filler}")
    assert made.returncode == 0, made.stderr
    try:
        form = bob.submit_form(partition="debug", cpus="1", time="30")
        assert form.status_code == 403
        assert "of its 1024 MB quota" in html.unescape(form.text)
        assert 'name="place"' in form.text  # the form is shown again, with the message
        rest = bob.api("POST", "/users/bob/server", json={})
        assert rest.status_code == 403 and "/global/homes/bob uses" in rest.json()["message"]
        assert not bob.server()
        assert accounted_jobs("bob") == accounted
    finally:
        on("login", f"rm -f {filler}")
