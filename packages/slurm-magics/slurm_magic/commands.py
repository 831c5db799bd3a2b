"""The Slurm commands behind the magics, without IPython: arguments as a shell would split them, tables read
from a delimited format Slurm prints (never from its padded columns), Slurm's message on failure (hpc_slurm
runs them: a SlurmError is "command: Slurm's reason")."""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from hpc_slurm import Answer, SlurmError, SlurmRefused, run_answer
from hpc_slurm.command import USER_TIMEOUT_S

# The delimited form of each table command, used unless the user asked for a format of their own. squeue and
# sinfo print the header of their --format too; sacct --parsable2 prints its own.
TABLE_FORMATS: dict[str, list[str]] = {
    "squeue": ["--format=%i|%P|%j|%u|%T|%M|%L|%D|%R"],
    "sinfo": ["--format=%P|%a|%l|%D|%t|%N"],
    "sacct": ["--parsable2"],
}
# Options that choose the output's shape: with one of them the user's own text is returned as it is.
OWN_FORMAT = {
    "squeue": ("-o", "--format", "-O", "--Format", "-l", "--long", "-h", "--noheader", "--json", "--yaml"),
    "sinfo": (
        "-o",
        "--format",
        "-O",
        "--Format",
        "-l",
        "--long",
        "-s",
        "--summarize",
        "-h",
        "--noheader",
        "-e",
        "--exact",
        "--json",
        "--yaml",
    ),
    "sacct": ("-n", "--noheader", "--json", "--yaml", "-p", "--parsable"),
}
SUBMITTED = re.compile(r"^(?:Submitted batch job )?(\d+)(?:;(\S+))?\s*$")
__all__ = ["SlurmError", "Submitted", "Table", "cancel", "check_job_script", "run_slurm", "submit"]


@dataclass
class Table:
    """Rows of a delimited table, by column."""

    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def to_pandas(self) -> Any:
        """A pandas DataFrame of text columns (rich output in JupyterLab)."""
        import pandas

        return pandas.DataFrame(self.rows, columns=self.columns, dtype=str)


@dataclass(frozen=True)
class Submitted:
    """A submitted batch job."""

    job_id: str
    cluster: str = ""

    def __str__(self) -> str:
        return f"Submitted batch job {self.job_id}" + (f" on cluster {self.cluster}" if self.cluster else "")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def arguments(name: str, line: str, table: bool) -> tuple[list[str], bool]:
    """The command's arguments from a magic's line, split as a shell would; and whether its output is a
    delimited table (the user chose no format of their own)."""
    try:
        # $NAME left after IPython's own expansion of Python variables is an environment variable, as in a shell.
        args = [os.path.expandvars(arg) for arg in shlex.split(line)]
    except ValueError as error:
        raise SlurmRefused(name, str(error)) from None
    if not table or name not in TABLE_FORMATS:
        return args, False
    own = OWN_FORMAT[name]
    if any(arg.split("=", 1)[0] in own or (arg[:1] == "-" and arg[1:2] != "-" and arg[:2] in own) for arg in args):
        if name == "sacct" and not any(arg in ("-n", "--noheader", "--json", "--yaml") for arg in args):
            return [*args, "--parsable2"], True  # sacct's --format keeps its header with --parsable2
        return args, False
    return [*args, *TABLE_FORMATS[name]], True


def _run(name: str, args: list[str], stdin: str | None) -> Answer:
    return run_answer([name, *args], stdin=stdin, timeout=USER_TIMEOUT_S)


def run_slurm(name: str, line: str = "", stdin: str | None = None, table: bool = True) -> Table | str:
    """Run a Slurm command with a magic's line; its output as a Table where it is one, else as text."""
    args, delimited = arguments(name, line, table)
    done = _run(name, args, stdin)
    return parse_table(done.stdout) if delimited else done.stdout


def cancel(line: str) -> str:
    """scancel with a magic's line, verbose: Slurm 22.05's scancel exits 0 and says nothing of a job id it does
    not know unless asked to be verbose; then its "error:" lines are the failure."""
    args, _ = arguments("scancel", line, table=False)
    done = _run("scancel", ["--verbose", *args], None)
    errors = [text for text in done.stderr.splitlines() if "error:" in text]
    if errors:
        raise SlurmRefused("scancel", "; ".join(text.removeprefix("scancel: error: ") for text in errors[-20:]))
    return "\n".join(text.removeprefix("scancel: ") for text in done.stderr.splitlines() if "Terminating" in text)


def parse_table(text: str) -> Table:
    """`a|b|c` lines, the first one the header (sacct --parsable2, squeue and sinfo with a | format)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return Table([])
    columns = lines[0].split("|")
    rows = [line.split("|", len(columns) - 1) for line in lines[1:]]
    return Table(columns, [row + [""] * (len(columns) - len(row)) for row in rows])


def submit(line: str = "", script: str | None = None) -> Submitted:
    """sbatch with a magic's line (a script file among its arguments), or with `script` on its stdin."""
    text = run_slurm("sbatch", f"--parsable {line}".strip(), stdin=script, table=False)
    assert isinstance(text, str)
    found = SUBMITTED.match(text.strip().splitlines()[-1] if text.strip() else "")
    if not found:
        raise SlurmRefused("sbatch", f"no job id in its answer: {text.strip()[:200]!r}")
    return Submitted(found[1], found[2] or "")


def check_job_script(script: str) -> None:
    """SlurmError with Slurm's message when it would refuse the batch script (`sbatch --test-only`: checked like a
    submission, with the user's associations and the partitions' limits; nothing is submitted)."""
    try:
        _run("sbatch", ["--test-only"], script)
    except SlurmRefused as refused:
        raise SlurmRefused("sbatch", refused.reason.removeprefix("allocation failure: ")) from None
