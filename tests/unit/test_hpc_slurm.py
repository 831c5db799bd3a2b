"""The one Slurm layer (packages/hpc-slurm, module hpc_slurm): its runner, its durations and sizes, its job states.
The hub's spawner (tests/unit/test_spawner.py) and the notebook side's packages use it; what it reads is what
Slurm 22.05 prints (squeue %L, sinfo %l, sacctmgr MaxWall, sbatch's errors)."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hpc_slurm import (
    DurationError,
    SlurmNotAnswering,
    SlurmRefused,
    arun,
    contract,
    default_timeout,
    error_from,
    parse_memory_mb,
    parse_minutes,
    parse_seconds,
    run,
    run_answer,
)
from hpc_slurm.command import ACTION_TIMEOUT_S, QUERY_TIMEOUT_S
from hpc_slurm.durations import format_memory
from hpc_slurm.jobs import JobRequest, JobRequestError
from hpc_slurm.states import ACTIVE, ANSWERING, SUCCEEDED, base_state


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 1800),  # M
        ("0:07", 7),  # M:S (squeue's TimeLeft of a job near its end)
        ("19:43", 1183),
        ("59:59", 3599),
        ("1:00:00", 3600),  # H:M:S
        ("12:34:56", 45296),
        ("2-03", 183600),  # D-H
        ("1-02:03", 93780),  # D-H:M
        ("2-03:04:05", ((2 * 24 + 3) * 60 + 4) * 60 + 5),
        (" 1:00:00\n", 3600),
    ],
)
def test_slurms_time_forms_read_as_seconds(text, seconds):
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize("word", ["UNLIMITED", "infinite", "INFINITE", "NOT_SET", "INVALID", "Partition_Limit"])
def test_slurms_words_for_no_limit_read_as_none_everywhere(word):
    assert parse_seconds(word) is None and parse_minutes(word) is None


@pytest.mark.parametrize("text", ["", "soon", "1:2:3:4", "-5", "1h", "1-", "1--2", "x-1:00"])
def test_what_is_not_a_duration_is_refused_saying_the_forms(text):
    with pytest.raises(DurationError, match="not a duration: minutes, MM:SS, HH:MM:SS or D-HH:MM:SS"):
        parse_seconds(text)


def test_minutes_round_a_part_of_a_minute_up_as_slurm_does():
    assert [parse_minutes(text) for text in ("1:30:00", "1:30:01", "0:01", "30:15", "1-0")] == [90, 91, 1, 31, 1440]


@pytest.mark.parametrize(
    ("text", "mb"),
    [("512", 512), ("512M", 512), ("2G", 2048), ("2g", 2048), ("4 GB", 4096), ("1T", 1048576), ("1536K", 2)],
)
def test_sizes_read_as_megabytes(text, mb):
    assert parse_memory_mb(text) == mb


@pytest.mark.parametrize("text", ["", "4 gigabytes", "-1G", "1.5G", "G"])
def test_what_is_not_a_size_is_refused(text):
    with pytest.raises(DurationError, match="not a size"):
        parse_memory_mb(text)


def test_sizes_are_written_in_slurms_shortest_exact_form():
    assert [format_memory(mb) for mb in (4096, 1536, 1024 * 1024, 100)] == ["4G", "1536M", "1024G", "100M"]


def test_job_states_one_vocabulary():
    # The hub keeps a server whose job is ACTIVE (COMPLETING too: its node is not free yet); a kernel whose job
    # is COMPLETING no longer answers; only COMPLETED lets a workflow's dependants start.
    assert "COMPLETING" in ACTIVE and "COMPLETING" not in ANSWERING and ANSWERING < ACTIVE
    assert {"PENDING", "RUNNING", "SUSPENDED", "REQUEUED"} <= ANSWERING
    assert not ACTIVE & {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"}
    assert {"COMPLETED"} == SUCCEEDED
    assert [base_state(s) for s in ("CANCELLED by 1000", "RUNNING+", "", "PENDING")] == [
        "CANCELLED", "RUNNING", "", "PENDING"]  # fmt: skip


def test_one_timeout_policy_actions_longer_than_queries():
    for argv in (["squeue"], ["sinfo", "-h"], ["sacct"], ["sacctmgr", "show", "qos"], ["scontrol", "show", "job"]):
        assert default_timeout(argv) == QUERY_TIMEOUT_S
    for argv in (["sbatch"], ["/usr/bin/scancel", "1"], ["scontrol", "release", "1"], ["scontrol", "hold", "1"]):
        assert default_timeout(argv) == ACTION_TIMEOUT_S


@pytest.mark.parametrize(
    "stderr",
    [
        "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)\n",
        "squeue: error: Socket timed out on send/recv operation\n",
        "sacctmgr: error: Problem talking to the database: Connection refused\n",
    ],
)
def test_an_unreachable_controller_or_database_is_not_answering(stderr):
    error = error_from("sbatch", stderr, 1)
    assert isinstance(error, SlurmNotAnswering) and "error:" not in error.reason


def test_a_refusal_keeps_slurms_first_reason():
    said = (
        "sbatch: error: invalid partition specified: nosuch\n"
        "sbatch: error: Batch job submission failed: Invalid partition name specified\n"
    )
    error = error_from("sbatch", said, 1)
    assert isinstance(error, SlurmRefused)
    assert (error.command, error.reason, str(error)) == (
        "sbatch", "invalid partition specified: nosuch", "sbatch: invalid partition specified: nosuch")  # fmt: skip
    assert error_from("scontrol", "slurm_load_jobs error: Invalid job id specified").reason == (
        "slurm_load_jobs error: Invalid job id specified")  # fmt: skip
    assert error_from("sbatch", "", 1).reason == "sbatch failed with exit code 1"


def stand_in(tmp_path: Path, name: str, body: str) -> str:
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_run_and_arun_give_the_output_and_pass_stdin_and_env(tmp_path):
    command = stand_in(tmp_path, "sbatch", 'cat; echo "$WHO"; echo said >&2')
    assert run([command], stdin="script\n", env={"WHO": "alice"}) == "script\nalice\n"
    assert asyncio.run(arun([command], stdin="script\n", env={"WHO": "bob"})) == "script\nbob\n"
    assert run_answer([command], stdin="", env={"WHO": ""}).stderr == "said\n"


def test_both_runners_tell_refused_from_not_answering(tmp_path):
    refusing = stand_in(tmp_path, "sbatch", "echo 'sbatch: error: Invalid account' >&2; exit 1")
    with pytest.raises(SlurmRefused, match=r"sbatch: Invalid account$"):
        run([refusing])
    with pytest.raises(SlurmRefused, match=r"sbatch: Invalid account$"):
        asyncio.run(arun([refusing]))
    with pytest.raises(SlurmNotAnswering, match=r"^no-such-slurm-command: not found on PATH"):
        run(["no-such-slurm-command"])


def test_a_command_that_hangs_is_given_up_at_its_timeout(tmp_path):
    hanging = stand_in(tmp_path, "squeue", "exec sleep 30")
    with pytest.raises(SlurmNotAnswering, match=r"^.*squeue: no answer within 0.2 s$"):
        run([hanging], timeout=0.2)
    with pytest.raises(SlurmNotAnswering, match=r"^.*squeue: no answer within 0.2 s$"):
        asyncio.run(arun([hanging], timeout=0.2))


def test_a_job_request_is_one_writer_of_sbatch_options():
    request = JobRequest(partition="gpu", account="m1000", qos="high", nodes=2, cpus=4, memory_mb=4096,
                         time_minutes=90, gpus=1, reservation="maint", wckey="hpchub-41")  # fmt: skip
    assert request.sbatch_options() == [
        "--partition=gpu", "--account=m1000", "--qos=high", "--nodes=2", "--cpus-per-task=4", "--mem=4G",
        "--time=01:30:00", "--gpus-per-node=1", "--reservation=maint", "--wckey=hpchub-41"]  # fmt: skip
    assert request.directives()[0] == "#SBATCH --partition=gpu"
    assert JobRequest().sbatch_options() == []  # Slurm's defaults, nothing guessed
    assert JobRequest(time_minutes=7 * 1440).sbatch_options() == ["--time=168:00:00"]


@pytest.mark.parametrize(
    ("request_", "field"),
    [(JobRequest(partition="debug\n#SBATCH --uid=0"), "partition"), (JobRequest(account="$(id)"), "account"),
     (JobRequest(cpus=0), "cpus"), (JobRequest(memory_mb=True), "memory_mb"), (JobRequest(gpus=-1), "gpus")],
)  # fmt: skip
def test_a_job_request_slurm_must_not_get_is_refused_naming_the_field(request_, field):
    assert request_.problems()
    with pytest.raises(JobRequestError) as refused:
        request_.sbatch_options()
    assert refused.value.field == field


def test_the_contract_is_one_set_of_names():
    assert contract.cluster_wckey("41") == "hpchub-41"
    assert contract.server_log("/home/alice", "41") == "/home/alice/.jupyterhub-slurm-41.log"
    names = contract.as_dict()
    assert names["env_server_only"] == "HPCHUB_SERVER_ONLY" and names["server_log"] == contract.SERVER_LOG
    done = subprocess.run([sys.executable, "-m", "hpc_slurm.contract"], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == names  # what the slurm role renders its node scripts from


def test_modules_are_loaded_in_a_login_shell_that_then_runs_the_command(tmp_path):
    from hpc_slurm.modules import bad_module, with_modules

    assert with_modules([], ["python3", "-V"]) == ["python3", "-V"]
    wrapped = with_modules(["gcc/12.2", "py+tools"], ["/bin/echo", "a b", "$HOME"])
    assert wrapped[:2] == ["/bin/bash", "-lc"] and wrapped[3:] == ["/bin/echo", "a b", "$HOME"]
    # The command's arguments reach it as they were (a stand-in `module` records what it was asked to load).
    stand_in = f'module() {{ echo "$@" > {tmp_path}/loaded; }}; ' + wrapped[2]
    done = subprocess.run(["/bin/bash", "-c", stand_in, *wrapped[3:]], capture_output=True, text=True, check=True)
    assert done.stdout == "a b $HOME\n" and (tmp_path / "loaded").read_text() == "load gcc/12.2 py+tools\n"
    assert bad_module(["gcc", "x; id", "y"]) == "x; id" and bad_module(["a/b/c"]) == ""
    with pytest.raises(ValueError, match="'\\$\\(id\\)' is not a module name"):
        with_modules(["$(id)"], ["true"])
