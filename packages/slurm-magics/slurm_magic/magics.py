"""The IPython magics: each one a Slurm command, its result rich output, its failure Slurm's message."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class

from slurm_magic.commands import SlurmError, Submitted, Table, cancel, run_slurm, submit

DISPLAY_MODES = ("pandas", "raw")


class SlurmText(str):
    """A command's text, shown as it is (no quotes, no escaped newlines)."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self).rstrip("\n"))


@magics_class
class SlurmMagics(Magics):
    """%squeue, %sinfo, %sacct, %sbatch and %%sbatch, %scancel, %scontrol; %slurm display pandas|raw."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        self.display = "pandas"

    def _table(self, name: str, line: str) -> Any:
        try:
            result = run_slurm(name, line, table=self.display == "pandas")
        except SlurmError as error:
            raise UsageError(str(error)) from None
        return result.to_pandas() if isinstance(result, Table) else SlurmText(result)

    def _text(self, name: str, line: str) -> SlurmText | None:
        try:
            result = run_slurm(name, line, table=False)
        except SlurmError as error:
            raise UsageError(str(error)) from None
        assert isinstance(result, str)
        return SlurmText(result) if result.strip() else None

    @line_magic
    def squeue(self, line: str) -> Any:
        """squeue [options]: the queue as a table (add --me for your jobs only)."""
        return self._table("squeue", line)

    @line_magic
    def sinfo(self, line: str) -> Any:
        """sinfo [options]: partitions and node states as a table."""
        return self._table("sinfo", line)

    @line_magic
    def sacct(self, line: str) -> Any:
        """sacct [options]: your jobs' accounting as a table."""
        return self._table("sacct", line)

    @line_cell_magic
    def sbatch(self, line: str, cell: str | None = None) -> Submitted:
        """%sbatch [options] SCRIPT, or %%sbatch [options] with the script in the cell: the submitted job."""
        try:
            return submit(line, cell)
        except SlurmError as error:
            raise UsageError(str(error)) from None

    @line_magic
    def scancel(self, line: str) -> SlurmText | None:
        """scancel [options] JOBID...: cancel jobs (says which; an unknown job id is an error)."""
        try:
            said = cancel(line)
        except SlurmError as error:
            raise UsageError(str(error)) from None
        return SlurmText(said) if said else None

    @line_magic
    def scontrol(self, line: str) -> SlurmText | None:
        """scontrol COMMAND...: e.g. show job JOBID, hold JOBID, release JOBID."""
        return self._text("scontrol", line)

    @line_magic
    def slurm(self, line: str) -> str:
        """%slurm display [pandas|raw]: tables as DataFrames (pandas) or as Slurm's text (raw)."""
        words = line.split()
        if not words or words[0] != "display" or len(words) > 2 or (len(words) == 2 and words[1] not in DISPLAY_MODES):
            raise UsageError("usage: %slurm display [pandas|raw]")
        if len(words) == 2:
            self.display = words[1]
        return self.display
