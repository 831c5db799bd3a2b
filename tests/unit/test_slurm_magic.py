"""The Slurm magics' commands (packages/slurm-magics, module slurm_magic) against stand-in Slurm commands
on PATH that print what Slurm 22.05 prints: tables from the delimited formats, never from padded columns; the
user's own format returned as text; arguments split as a shell would; Slurm's message on failure. The magics
themselves run in a kernel of the notebook image against the cluster (tests/e2e/test_slurm_magics.py)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from slurm_magic.commands import SlurmError, Submitted, cancel, check_job_script, parse_table, run_slurm, submit

# What each stand-in prints when asked for our delimited format (captured from the test cluster).
SQUEUE = "JOBID|PARTITION|NAME|USER|STATE|TIME|TIME_LEFT|NODES|NODELIST(REASON)\n12|interactive|jupyter-alice|alice|RUNNING|1:02|58:58|1|c1\n13|debug|my job|alice|PENDING|0:00|1:00:00|2|(Resources)\n"  # noqa: E501
SACCT = "JobID|JobName|Partition|Account|AllocCPUS|State|ExitCode\n12|jupyter-alice|interactive|m1000|1|RUNNING|0:0\n12.batch|batch||m1000|1|RUNNING|0:0\n"  # noqa: E501


@pytest.fixture
def slurm(tmp_path, monkeypatch) -> Path:
    """Stand-ins for the Slurm commands: each records its argv and stdin in calls.jsonl, then answers."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    answers = {
        "squeue": (SQUEUE, "", 0),
        "sacct": (SACCT, "", 0),
        "sinfo": ("PARTITION|AVAIL|TIMELIMIT|NODES|STATE|NODELIST\ndebug*|up|1:00:00|2|idle|c[1-2]\n", "", 0),
        "sbatch": ("42\n", "", 0),
        # Slurm 22.05: exit 0, and the error only with --verbose.
        "scancel": (
            "",
            "scancel: Terminating job 99\nscancel: error: Kill job error on job id 99: Invalid job id specified\n",
            0,
        ),
        "scontrol": ("JobId=12 JobName=jupyter-alice\n   UserId=alice(20001)\n", "", 0),
    }
    for name, (out, err, code) in answers.items():
        script = bin_dir / name
        script.write_text(
            "#!/usr/bin/env python3\nimport json, sys\n"
            f"record = json.dumps([{name!r}, sys.argv[1:], sys.stdin.read()])\n"
            f"open({str(tmp_path / 'calls.jsonl')!r}, 'a').write(record + '\\n')\n"
            # Job 99999 is unknown to every command (scontrol: exit 1 and Slurm's message).
            "if '99999' in sys.argv[1:] and sys.argv[0].endswith('scontrol'):\n"
            "    sys.stderr.write('slurm_load_jobs error: Invalid job id specified\\n'); sys.exit(1)\n"
            f"sys.stdout.write({out!r}); sys.stderr.write({err!r}); sys.exit({code})\n"
        )  # fmt: skip
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def calls(slurm: Path) -> list[list]:
    return [json.loads(line) for line in (slurm / "calls.jsonl").read_text().splitlines()]


def test_squeue_is_a_table_read_from_its_delimited_format(slurm):
    table = run_slurm("squeue", "--me")
    assert table.columns[:3] == ["JOBID", "PARTITION", "NAME"] and len(table.rows) == 2
    assert table.rows[1][2] == "my job" and table.rows[1][-1] == "(Resources)"  # spaces stay in their column
    assert calls(slurm)[0][1] == ["--me", "--format=%i|%P|%j|%u|%T|%M|%L|%D|%R"]


def test_sacct_has_no_separator_row(slurm):
    table = run_slurm("sacct", "-X")
    assert [row[0] for row in table.rows] == ["12", "12.batch"] and not any(set(r[0]) == {"-"} for r in table.rows)
    assert calls(slurm)[0][1] == ["-X", "--parsable2"]


def test_sacct_with_its_own_format_is_still_a_table(slurm):
    run_slurm("sacct", "--format=JobID,State")
    assert calls(slurm)[0][1] == ["--format=JobID,State", "--parsable2"]


def test_a_users_own_format_is_returned_as_text(slurm):
    assert run_slurm("squeue", "-o '%i %j'") == SQUEUE
    assert calls(slurm)[0][1] == ["-o", "%i %j"]  # split as a shell would
    assert run_slurm("sinfo", "--long").startswith("PARTITION")


def test_environment_variables_are_expanded_as_a_shell_would(slurm, monkeypatch):
    monkeypatch.setenv("HPCHUB_JOB_ID", "77")
    run_slurm("scontrol", "show job $HPCHUB_JOB_ID", table=False)
    assert calls(slurm)[0][1] == ["show", "job", "77"]


def test_sbatch_from_a_cell_sends_the_script_on_stdin(slurm):
    script = "#!/bin/bash\n#SBATCH --time=1\nsrun hostname\n"
    job = submit("--partition=debug --job-name='two words'", script)
    assert job == Submitted("42") and str(job) == "Submitted batch job 42"
    assert calls(slurm)[0][1:] == [["--parsable", "--partition=debug", "--job-name=two words"], script]


def test_a_failure_is_slurms_own_message(slurm):
    with pytest.raises(SlurmError) as failed:
        cancel("99")
    assert str(failed.value) == "scancel: Kill job error on job id 99: Invalid job id specified"
    assert calls(slurm)[0][1] == ["--verbose", "99"]  # scancel says nothing of an unknown job otherwise
    with pytest.raises(SlurmError, match="slurm_load_jobs error: Invalid job id specified"):
        run_slurm("scontrol", "show job 99999", table=False)


def test_bad_quoting_and_a_missing_command_are_errors_not_tracebacks(slurm, monkeypatch):
    with pytest.raises(SlurmError, match="No closing quotation"):
        run_slurm("squeue", "--name='x")
    monkeypatch.setenv("PATH", str(slurm / "nowhere"))
    with pytest.raises(SlurmError, match="squeue: not found on PATH"):
        run_slurm("squeue")


def test_parse_table_pads_short_rows_and_keeps_bars_in_the_last_column():
    table = parse_table("A|B|C\n1|2\n3|4|x|y\n\n")
    assert table.rows == [["1", "2", ""], ["3", "4", "x|y"]]
    assert parse_table("").columns == []


def test_a_job_script_slurm_would_refuse_raises_slurms_message(slurm):
    """check_job_script (behind slurm_magic.clusters.SLURMCluster.scale): sbatch --test-only with the script on
    stdin; Slurm 22.05 says "allocation failure: <reason>" on stderr and exits 1."""
    script = "#!/usr/bin/env bash\n#SBATCH -A m2000\ndask-worker\n"
    check_job_script(script)  # the stand-in accepts it
    assert calls(slurm)[-1] == ["sbatch", ["--test-only"], script]
    refusing = slurm / "bin/sbatch"
    refusing.write_text("#!/bin/sh\necho 'allocation failure: Invalid account or account/partition combination"
                        " specified' >&2\nexit 1\n")  # fmt: skip
    with pytest.raises(SlurmError, match=r"^sbatch: Invalid account or account/partition combination specified$"):
        check_job_script(script)
