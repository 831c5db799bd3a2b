"""Slurm as its users see it: jobs run across nodes, write to the shared filesystem, are accounted."""

from __future__ import annotations

import secrets

from tests.support.infra import as_user, host, hosts_of
from tests.support.waiting import wait_for


def test_munge_credential_from_one_host_decodes_on_another():
    first, *others = hosts_of("cluster")
    credential = host(first).check_output("munge -n")
    for name in others:
        assert host(name).run(f"echo {credential} | unmunge").rc == 0, name


def test_srun_on_two_nodes_as_a_user(login):
    done = as_user(login, "alice", "srun --nodes=2 --time=1 hostname")
    assert done.rc == 0, done.stderr
    assert sorted(done.stdout.split()) == hosts_of("compute")[:2]


def test_batch_job_writes_to_scratch_visible_from_login_and_is_accounted(login, controller):
    tag = secrets.token_hex(4)
    out = f"/global/scratch/bob/job-{tag}.txt"
    done = as_user(login, "bob", f"sbatch --parsable --time=1 --account=m2000 --wrap 'hostname > {out}'")
    assert done.rc == 0, done.stderr
    job_id = done.stdout.strip()

    def finished() -> bool:
        state = controller.check_output(f"sacct --noheader --parsable2 -X -j {job_id} --format=state")
        return state.strip() == "COMPLETED"

    wait_for(f"job {job_id} COMPLETED in sacct", finished, 60)
    written = login.file(out)
    assert written.exists and written.user == "bob"
    assert written.content_string.strip() in hosts_of("compute")
    record = controller.check_output(f"sacct --noheader --parsable2 -X -j {job_id} --format=user,account,state")
    assert record.strip() == "bob|m2000|COMPLETED"


def test_scratch_variable_names_the_users_scratch(login):
    assert as_user(login, "alice", "echo $SCRATCH").stdout.strip() == "/global/scratch/alice"


def test_user_without_an_association_is_refused(login):
    done = as_user(login, "carol", "srun --time=1 hostname")
    assert done.rc != 0
    assert "Invalid account" in done.stderr


def test_user_cannot_charge_a_project_that_is_not_theirs(login):
    done = as_user(login, "alice", "srun --time=1 --account=m2000 hostname")
    assert done.rc != 0
    assert "Invalid account" in done.stderr
