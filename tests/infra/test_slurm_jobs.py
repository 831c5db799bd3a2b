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


def test_mpi_allreduce_across_two_nodes_under_srun(login):
    """Open MPI and the mpi4py wheel, wired by Slurm's PMIx (srun --mpi=pmix), from a login shell."""
    program = "from mpi4py import MPI; w = MPI.COMM_WORLD; print(w.rank, w.allreduce(w.rank + 1))"
    done = as_user(login, "alice", f"srun --mpi=pmix --nodes=2 --ntasks=2 --time=1 python3 -c '{program}'")
    assert done.rc == 0, done.stderr
    assert sorted(done.stdout.split("\n")[:2]) == ["0 3", "1 3"], done.stdout


def test_a_servers_cluster_jobs_end_with_it_and_other_jobs_do_not(login, controller):
    """Slurm's side of "no orphans" (roles/slurm: the node Epilog hpchub-sweep.sh): when a Jupyter server's job
    ends (its log is .jupyterhub-slurm-<id>.log), the user's jobs whose wckey is hpchub-<its id> are cancelled,
    pending or running; jobs of the same user without it are not, nor the tagged jobs of a job that is not a
    server."""
    server_log = "--output=.jupyterhub-slurm-%j.log"
    submit = "sbatch --parsable --time=5 --account=m2000"
    server = as_user(login, "bob", f"{submit} {server_log} --wrap 'sleep 300'").stdout.strip()
    tag = f"--wckey=hpchub-{server}"
    running = as_user(login, "bob", f"{submit} {tag} --wrap 'sleep 300'").stdout.strip()
    pending = as_user(login, "bob", f"{submit} {tag} --begin=now+3600 --wrap 'sleep 300'").stdout.strip()
    other = as_user(login, "bob", f"{submit} --wrap 'sleep 300'").stdout.strip()
    batch = as_user(login, "bob", f"{submit} --output=/dev/null --wrap true").stdout.strip()
    kept = as_user(login, "bob", f"{submit} --wckey=hpchub-{batch} --begin=now+3600 --wrap true").stdout.strip()
    try:
        assert all(job.isdigit() for job in (server, running, pending, other, batch, kept))

        def alive(job: str) -> bool:
            return bool(controller.check_output(f"squeue --noheader --jobs={job} --format=%i 2>/dev/null || true"))

        wait_for("the tagged job running", lambda: controller.check_output(
            f"squeue --noheader --jobs={running} --format=%T") == "RUNNING", 30)  # fmt: skip
        wait_for("the batch job ended", lambda: not alive(batch), 30, 0.5)
        controller.check_output(f"scancel {server}")
        wait_for("the server's tagged jobs cancelled", lambda: not alive(running) and not alive(pending), 30, 0.5)
        assert alive(other), "a job without the server's wckey was cancelled"
        assert alive(kept), "the tagged job of a batch job that is not a server was cancelled"
    finally:
        controller.run(f"scancel {server} {running} {pending} {other} {batch} {kept}")
        as_user(login, "bob", f"rm -f .jupyterhub-slurm-{server}.log")


def test_a_chain_of_dependent_jobs_starts_each_link_at_once(login, controller):
    """Each job of an afterok chain starts as soon as the one before ends (workflows are such chains): no
    EpilogSlurmctld, with which each link waited for the next backfill pass (30 s)."""
    chain = (
        'prev=""; for i in 1 2 3 4 5; do prev=$(sbatch --parsable --time=5 --account=m2000 --output=/dev/null '
        "${prev:+--dependency=afterok:$prev} --wrap true); echo $prev; done"
    )
    jobs = as_user(login, "bob", chain).stdout.split()
    try:
        assert len(jobs) == 5 and all(job.isdigit() for job in jobs), jobs
        wait_for(
            "the chain of five jobs done",
            lambda: (
                not controller.check_output(
                    f"squeue --noheader --jobs={','.join(jobs)} --format=%i 2>/dev/null || true"
                )
            ),
            20,
            0.5,
        )
    finally:
        controller.run(f"scancel {' '.join(jobs)}")
