"""Slurm's job states, and what each means to a server, a kernel or a workflow step.

- `ACTIVE`: Slurm has not finished with the job. It waits in the queue or holds nodes; COMPLETING is in it,
  since its nodes are not yet free. The hub keeps a server whose job is ACTIVE.
- `ANSWERING`: ACTIVE without COMPLETING: the job's processes may still run and answer (a kernel's, a server's).
- `SUCCEEDED`: the job's processes exited 0. A step whose dependants may start.
Every other state (FAILED, CANCELLED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, PREEMPTED, BOOT_FAIL, DEADLINE) has ended.
"""

from __future__ import annotations

ANSWERING = frozenset({"PENDING", "CONFIGURING", "RUNNING", "SUSPENDED", "REQUEUED", "RESIZING"})
ACTIVE = ANSWERING | {"COMPLETING"}
SUCCEEDED = frozenset({"COMPLETED"})


def base_state(state: str) -> str:
    """squeue's or sacct's state without its decorations: 'CANCELLED by 1000' -> 'CANCELLED', 'RUNNING+' ->
    'RUNNING'."""
    words = state.split()
    return words[0].rstrip("+*") if words else ""
