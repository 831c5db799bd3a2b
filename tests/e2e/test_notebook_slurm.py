"""Slurm from a user's JupyterLab, as the user: the magics loaded in every kernel (tables, submission, Slurm's
own messages), and a web app started on the server's node reached through the hub (jupyter-server-proxy) by its
user only."""

from __future__ import annotations

import time

USER, OTHER = "alice", "bob"


def test_the_magics_are_loaded_and_tables_are_tables(alice):
    printed = alice.run_in_kernel(
        "q = %squeue --me\n"
        "print(type(q).__name__, list(q.columns), sorted(set(q['USER'])))\n"
        "s = %sinfo\n"
        "print(sorted(set(s['PARTITION'])))\n"
        "a = %sacct -X --starttime=now-3600\n"
        "print(list(a.columns)[:2], [v for v in a['JobID'] if set(v) <= {'-'}])\n"
    )
    queue, partitions, accounting = printed.splitlines()
    assert queue.startswith("DataFrame ['JOBID', 'PARTITION', 'NAME', 'USER', 'STATE'") and "['alice']" in queue
    assert partitions == "['debug*', 'gpu', 'interactive', 'login']"
    assert accounting == "['JobID', 'JobName'] []"  # no ------ separator row


def test_a_cell_submitted_with_sbatch_shows_in_squeue_and_is_cancelled(alice):
    with alice.kernel() as kernel:  # one kernel: the second cell reads the first one's result (`_`)
        kernel.run("%%sbatch --partition=interactive --time=2 --output=/dev/null --job-name=from-a-cell\n"
                   "#!/bin/bash\nsleep 100\n", store_history=True)  # fmt: skip
        printed = kernel.run(
            "job = _.job_id\n"
            "q = %squeue --me\n"
            "print(job, job in set(q['JOBID']), q[q['JOBID'] == job]['NAME'].tolist())\n"
            "said = %scancel $job\n"
            "print(said)\n"
        )
    job, listed, names = printed.splitlines()[0].split(" ", 2)
    assert listed == "True" and names.strip() == "['from-a-cell']", printed
    assert f"Terminating job {job}" in printed
    gone = (
        "import time\n"
        "for _ in range(100):\n"
        "    q = %squeue --me --states=PENDING,RUNNING\n"
        f"    if {job!r} not in set(q['JOBID']): break\n"
        "    time.sleep(0.2)\n"
        f"print('gone' if {job!r} not in set(q['JOBID']) else 'still there')\n"
    )
    assert alice.run_in_kernel(gone).strip() == "gone"


def test_a_failing_command_shows_slurms_message(alice):
    printed = alice.run_in_kernel("%scancel 999999\n")
    assert "UsageError: scancel: Kill job error on job id 999999: Invalid job id specified" in printed
    printed = alice.run_in_kernel("%scontrol show job 999999\n")
    assert "UsageError: scontrol: slurm_load_jobs error: Invalid job id specified" in printed
    assert "Traceback" not in printed


def test_load_ext_slurm_magic_as_nersc_documents_it_works(alice):
    assert "ok" in alice.run_in_kernel("%load_ext slurm_magic\nprint('ok')\n")


def test_a_web_app_on_the_servers_node_is_reached_through_the_hub_by_its_user_only(alice, session_of_module):
    marker = f"served-from-the-node-{time.time_ns()}"
    port = alice.run_in_kernel(
        "import os, socket, subprocess, sys, tempfile\n"
        "folder = tempfile.mkdtemp()\n"
        f"open(os.path.join(folder, 'marker.txt'), 'w').write({marker!r})\n"
        "with socket.socket() as s:\n    s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]\n"
        "subprocess.Popen(['timeout', '120', sys.executable, '-m', 'http.server', str(port), '--bind', '127.0.0.1',\n"
        "                  '--directory', folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "import time, urllib.request\n"
        "for _ in range(50):\n"
        "    try: urllib.request.urlopen(f'http://127.0.0.1:{port}/marker.txt', timeout=1); break\n"
        "    except OSError: time.sleep(0.1)\n"
        "print(port)\n"
    ).strip()
    url = f"{alice.hub}/user/{USER}/proxy/{port}/marker.txt"
    reply = alice.get(url, headers={"Authorization": f"token {alice.token()}"})
    assert reply.status_code == 200 and reply.text == marker, (reply.status_code, reply.text[:300])
    bob = session_of_module(OTHER)
    refused = bob.get(url, headers={"Authorization": f"token {bob.token()}"}, allow_redirects=False)
    assert refused.status_code == 403 and marker not in refused.text, refused.status_code
