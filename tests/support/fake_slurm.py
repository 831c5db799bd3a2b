"""A small Slurm of files for the spawner's in-process tests, in the spirit of batchspawner's own tests.

`FakeSlurm(tmp_path)` writes executables named sbatch, squeue, scancel, sacct, sinfo and sacctmgr into
`tmp_path/fake-slurm` (Python scripts run by this interpreter) that read and write one table of jobs (a
marshal file) in that directory. A test submits through them, as the hub does, and plays the controller meanwhile:

- `jobs()`, `script(job_id)`, `calls(command)`: what was submitted (the batch script is sbatch's stdin)
  and how every command was called;
- `pending`, `running`, `ended`, `forget`: a job's state as squeue and sacct report it;
- `fail(command, stderr, code, times)`, `hang(command)`, `heal(command)`: a command that fails (all the
  time or its next `times` calls; exit 0 with `stdout` answers in Slurm's place), or gives no answer
  until healed;
- `set_partitions`, `set_associations`, `set_qos`, `set_account_limits`: what sinfo (`--format=%R|%c|%m|%l|%D|%G`)
  and sacctmgr (`defaultaccount|account|qos|defaultqos` per user; `name|maxwall` of the QoS;
  `account|user|maxtres` of the associations) answer.

A job is forgotten by squeue ("slurm_load_jobs error: Invalid job id specified", exit 1) when it is
`purged` or unknown; scancel of a job squeue no longer lists fails the same way.

squeue answers the format of the hub's `batch_query_cmd` (`-o '%T %r %B'`): state, reason, node.
Every command takes a lock on the table, so concurrent calls and the test's own changes never mix.
"""

from __future__ import annotations

import asyncio
import fcntl
import marshal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

COMMANDS = ("sbatch", "squeue", "scancel", "sacct", "sinfo", "sacctmgr")
FIRST_JOB_ID = 1001
SINFO = "debug|2|2048|1:00:00|2|(null)\ninteractive|4|4096|8:00:00|2|gpu:a100:2\n"
QOS = "normal|\ndebug|00:30:00\n"
CONTROLLER_DOWN = "slurm_load_jobs error: Unable to contact slurm controller (connect failure)"
HANG_LIMIT_S = 30.0  # a hung command gives up at last, should a test forget to heal it

# The commands' one program: `main(name, argv)` for the command `name`, on the table next to it. Builtin
# modules only (marshal, not json: a command starts in 10 ms instead of 30).
ENGINE = r"""
import fcntl, marshal, os, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE, LOCK = os.path.join(HERE, "table.marshal"), os.path.join(HERE, "table.lock")


class Table:
    def __enter__(self):
        self.lock = open(LOCK, "w")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        with open(TABLE, "rb") as table:
            self.data = marshal.load(table)
        return self.data

    def __exit__(self, *exc):
        if exc[0] is None:
            with open(TABLE + ".tmp", "wb") as table:
                marshal.dump(self.data, table)
            os.replace(TABLE + ".tmp", TABLE)
        self.lock.close()


def fault(table, name):
    # The fault to play, if any; a limited one counts down.
    found = table["faults"].get(name)
    if found and found["times"] is not None:
        found["times"] -= 1
        if found["times"] <= 0:
            del table["faults"][name]
    return found


def healed(name, limit):
    # Wait until the test heals `name` (True), or `limit` seconds (False).
    ends = time.monotonic() + limit
    while time.monotonic() < ends:
        with Table() as table:
            found = table["faults"].get(name)
        if not found or not found.get("hang"):
            return True
        time.sleep(0.02)
    return False


def option(argv, name):
    for i, word in enumerate(argv):
        if word == name and i + 1 < len(argv):
            return argv[i + 1]
    return None


def answer(table, name, argv, stdin):
    # What the command prints (stdout, stderr) and its exit code, as Slurm would.
    jobs = table["jobs"]
    if name == "sbatch":
        job_id = str(table["next_id"])
        table["next_id"] += 1
        jobs[job_id] = {"script": stdin, "squeue": "PENDING", "reason": "None", "node": "n/a", "sacct": "PENDING"}
        return job_id + "\n", "", 0
    if name == "squeue" and "--states=PENDING" in argv:  # the form's availability: pending jobs' partitions
        return table.get("pending", ""), "", 0
    if name == "squeue":
        job = jobs.get(option(argv, "-j"))
        if job is None or job["squeue"] == "purged":
            return "", "slurm_load_jobs error: Invalid job id specified\n", 1
        if job["squeue"] == "gone":
            return "", "", 0
        return f"{job['squeue']} {job['reason']} {job['node']}\n", "", 0
    if name == "scancel":
        job = jobs.get(argv[-1])
        if job is None or job["squeue"] in ("gone", "purged"):
            return "", f"scancel: error: Kill job error on job id {argv[-1]}: Invalid job id specified\n", 1
        job.update(squeue="gone", sacct="CANCELLED")
        return "", "", 0
    if name == "sacct":
        job = jobs.get(option(argv, "-j"))
        return (job["sacct"] + "\n" if job and job["sacct"] else ""), "", 0
    if name == "sinfo" and any("%C" in word for word in argv):  # the form's availability: CPUs and idle nodes
        return table.get("load", ""), "", 0
    if name == "sinfo":
        return table["sinfo"], "", 0
    if name == "sacctmgr":
        if "qos" in argv[argv.index("show") + 1:argv.index("show") + 2]:
            return table["qos"], "", 0
        if "assoc" in argv[argv.index("show") + 1:argv.index("show") + 2]:
            return table.get("account_limits", ""), "", 0
        user = next((word[5:] for word in argv if word.startswith("name=")), "")
        return table["associations"].get(user, ""), "", 0
    return "", f"{name}: not a command of the fake\n", 2


def main(name, argv):
    stdin = sys.stdin.read() if name == "sbatch" else ""
    with Table() as table:
        table["calls"].append({"command": name, "argv": argv})
        found = fault(table, name)
        if found and not found.get("hang"):
            out, err, code = found["stdout"], found["stderr"], found["code"]
        elif not found:
            out, err, code = answer(table, name, argv, stdin)
    if found and found.get("hang"):
        if not healed(name, found["hang"]):
            return 1
        with Table() as table:  # healed: answer as usual
            out, err, code = answer(table, name, argv, stdin)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code
"""


class FakeSlurm:
    """The fake's directory, its table, and what a test does to it (see the module's docstring)."""

    def __init__(self, root: Path, sinfo: str = SINFO, associations: dict[str, str] | None = None) -> None:
        self.dir = root / "fake-slurm"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._table = self.dir / "table.marshal"
        self._lock = self.dir / "table.lock"
        initial = {
            "next_id": FIRST_JOB_ID,
            "jobs": {},
            "faults": {},
            "calls": [],
            "sinfo": sinfo,
            "associations": associations or {},
            "qos": QOS,
        }
        self._table.write_bytes(marshal.dumps(initial))
        (self.dir / "fake_slurm_engine.py").write_text(ENGINE)
        for name in COMMANDS:
            path = self.dir / name
            path.write_text(
                f"#!{sys.executable} -IS\n"
                f"import sys\nsys.path.insert(0, {str(self.dir)!r})\n"
                f"import fake_slurm_engine\nsys.exit(fake_slurm_engine.main({name!r}, sys.argv[1:]))\n"
            )
            path.chmod(0o755)

    def path(self, command: str) -> str:
        """The absolute path of one of the fake's commands."""
        return str(self.dir / command)

    @contextmanager
    def _edit(self) -> Iterator[dict[str, Any]]:
        with self._lock.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = marshal.loads(self._table.read_bytes())
            yield data
            tmp = self._table.with_suffix(".tmp")
            tmp.write_bytes(marshal.dumps(data))
            tmp.replace(self._table)

    def _read(self) -> dict[str, Any]:
        with self._lock.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data: dict[str, Any] = marshal.loads(self._table.read_bytes())
        return data

    # What was submitted and called.

    def jobs(self) -> dict[str, dict[str, str]]:
        """Job id -> {script, squeue (state, or 'gone', 'purged'), reason, node, sacct}."""
        jobs: dict[str, dict[str, str]] = self._read()["jobs"]
        return jobs

    def script(self, job_id: str) -> str:
        """The batch script submitted for `job_id` (sbatch's stdin)."""
        return self.jobs()[job_id]["script"]

    def calls(self, command: str) -> list[list[str]]:
        """The argument lists `command` was called with, oldest first."""
        return [call["argv"] for call in self._read()["calls"] if call["command"] == command]

    def last_job(self) -> str | None:
        jobs = self.jobs()
        return max(jobs, key=int) if jobs else None

    async def next_job(self, timeout: float = 10.0, after: str | None = None) -> str:
        """The id of the next job submitted (after job `after`), polled for until `timeout`."""
        ends = time.monotonic() + timeout
        while (job := self.last_job()) is None or (after is not None and int(job) <= int(after)):
            if time.monotonic() > ends:
                raise AssertionError(f"no job was submitted within {timeout} s")
            await asyncio.sleep(0.01)
        return job

    # A job's state, as squeue (`%T %r %B`) and sacct report it.

    def _set(self, job_id: str, **fields: str) -> None:
        with self._edit() as data:
            data["jobs"][job_id].update(fields)

    def pending(self, job_id: str, reason: str = "Resources") -> None:
        self._set(job_id, squeue="PENDING", reason=reason, node="n/a", sacct="PENDING")

    def running(self, job_id: str, node: str = "127.0.0.1") -> None:
        self._set(job_id, squeue="RUNNING", reason="None", node=node, sacct="RUNNING")

    def ended(self, job_id: str, sacct: str = "COMPLETED", purged: bool = False) -> None:
        """Gone from squeue (empty answer; with `purged`, 'Invalid job id'); sacct says `sacct` ('' for nothing)."""
        self._set(job_id, squeue="purged" if purged else "gone", sacct=sacct)

    def forget(self, job_id: str) -> None:
        """Neither the controller nor accounting knows the job (a cluster reset): the ghost."""
        self.ended(job_id, sacct="", purged=True)

    # Faults.

    def fail(self, command: str, stderr: str, code: int = 1, times: int | None = None, stdout: str = "") -> None:
        """`command` answers `stdout`/`stderr` with exit `code`: always, or on its next `times` calls."""
        with self._edit() as data:
            data["faults"][command] = {"stdout": stdout, "stderr": stderr + "\n", "code": code, "times": times}

    def hang(self, command: str, limit: float = HANG_LIMIT_S) -> None:
        """`command` gives no answer until `heal(command)` (then answers as usual), or fails after `limit` s."""
        with self._edit() as data:
            data["faults"][command] = {"stdout": "", "stderr": "", "code": 1, "times": None, "hang": limit}

    def heal(self, command: str | None = None) -> None:
        """`command` (or every command) answers again."""
        with self._edit() as data:
            if command is None:
                data["faults"].clear()
            else:
                data["faults"].pop(command, None)

    # What sinfo and sacctmgr answer.

    def set_partitions(self, sinfo: str) -> None:
        with self._edit() as data:
            data["sinfo"] = sinfo

    def set_associations(self, user: str, text: str) -> None:
        """sacctmgr's `defaultaccount|account|qos|defaultqos` lines for `user` (nothing: no account)."""
        with self._edit() as data:
            data["associations"][user] = text

    def set_load(self, sinfo: str, pending: str = "") -> None:
        """sinfo's `%R|%C|%t|%D` lines (CPUs allocated/idle/other/total, node state, node count) and squeue's
        pending jobs' partitions (`%P`), for the form's availability."""
        with self._edit() as data:
            data["load"], data["pending"] = sinfo, pending

    def set_account_limits(self, text: str) -> None:
        """sacctmgr's `account|user|maxtres` lines of the associations (`show assoc`)."""
        with self._edit() as data:
            data["account_limits"] = text

    def set_qos(self, text: str) -> None:
        """sacctmgr's `name|maxwall` lines of the QoS."""
        with self._edit() as data:
            data["qos"] = text
