"""A job submitted from a user's server (a kernel, a terminal) is submitted as from a login shell: none of the
server's own job's SLURM_* variables reach it, so `srun` inside it works; the server still knows its job as
HPCHUB_JOB_ID. Before: srun in such a job died ("SLURM_MEM_PER_CPU, SLURM_MEM_PER_GPU, and SLURM_MEM_PER_NODE
are mutually exclusive")."""

from __future__ import annotations

import re
import shlex

from tests.support.cluster import jupyter_jobs, squeue_time_left

USER = "alice"
# A small job beside the running servers: the interactive partition shares its nodes (debug would wait for one).
SBATCH = "sbatch --wait --parsable --partition=interactive --time=2 --mem-per-cpu=100M --output=/dev/null"
SRUN_JOB = "srun --ntasks=1 sh -c 'echo ran-$SLURM_JOB_ID-on-$(hostname) > $HOME/.hpchub-test-srun-{tag}'"


def test_the_kernel_knows_its_servers_job_by_hpchub_job_id_only(alice):
    printed = alice.run_in_kernel(
        "import os\nprint(os.environ.get('HPCHUB_JOB_ID'), sorted(k for k in os.environ if k.startswith('SLURM')))"
    )
    job, leaked = printed.split(" ", 1)
    assert leaked.strip() == "['SLURM_CONF']", printed  # where slurm.conf is: Slurm's own, kept
    assert jupyter_jobs().get(job) == USER, printed


def test_srun_works_in_a_job_submitted_from_a_kernel(alice):
    job = SRUN_JOB.format(tag="kernel")
    printed = alice.run_in_kernel(
        "import os, shlex, subprocess\n"
        f"done = subprocess.run(shlex.split({SBATCH!r}) + ['--wrap', {job!r}], capture_output=True, text=True)\n"
        "print(done.returncode, done.stdout.strip(), done.stderr.strip()[-300:])\n"
        "print(open(os.path.expanduser('~/.hpchub-test-srun-kernel')).read())"
    )
    first, written = printed.splitlines()[0], printed.strip().splitlines()[-1]
    rc, job_id = first.split()[:2]
    assert rc == "0" and written.startswith(f"ran-{job_id}-on-"), printed


def test_srun_works_in_a_job_submitted_from_a_terminal(alice):
    job = shlex.quote(SRUN_JOB.format(tag="terminal"))
    shown = alice.run_in_terminal(f"{SBATCH} --wrap {job} && cat ~/.hpchub-test-srun-terminal")
    assert re.search(r"rc=0", shown) and re.search(r"ran-\d+-on-", shown), shown[-1500:]


def test_the_server_tells_jupyterlab_when_its_job_ends(alice):
    # What the status bar's job clock reads (packages/job-clock): the server's own job, and an end that
    # agrees with squeue's TimeLeft for it.
    reply = alice.server_get("hpc-job-clock/job", timeout=30)
    assert reply.status_code == 200, reply.text[:300]
    clock = reply.json()
    assert jupyter_jobs().get(clock["job_id"]) == USER, clock
    left_by_server = clock["end"] - clock["now"]
    left_by_squeue = squeue_time_left(clock["job_id"])
    assert abs(left_by_server - left_by_squeue) <= 5, (clock, left_by_squeue)


def test_another_user_cannot_read_the_servers_clock(alice, session_of_module):
    bob = session_of_module("bob")
    reply = bob.get(f"{alice.hub}/user/{USER}/hpc-job-clock/job", headers={"Authorization": f"token {bob.token()}"},
                    timeout=30, allow_redirects=False)  # fmt: skip
    assert reply.status_code == 403, reply.status_code
