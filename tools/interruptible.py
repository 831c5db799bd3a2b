"""Run a command (ansible-playbook, for make) so that an interrupt always ends it, within seconds.

ansible-core 2.19 does not always end on Ctrl-C. Its main process forwards SIGINT to its workers and
resets its own handler; depending on where the signal lands, the run can then wait forever: for a
worker slot that never frees (seen with `forks` busy), or, in clean-up, for the results queue's lock that
a worker held when its signal handler made it exit (`os._exit`). Seen in `make test-faults`: `make up`
still running 60 s after a SIGINT; reproduced with a 40-host playbook of local tasks, 1 run in 8 hung.

Here the command runs in our process group, so a terminal's Ctrl-C reaches it directly and Ansible
handles it as it always does; in most runs it ends in under a second. If it has not ended `--grace`
seconds after the interrupt, it is sent SIGTERM (Ansible forwards it to its workers and exits), and
SIGKILL after as long again. Then what is left of its process tree is killed too: Ansible's workers start
sessions of their own and, when their main process is gone, would otherwise wait forever on a Mitogen
call that will not return. A SIGTERM sent to us is passed on at once. The exit status is the command's
own, or 130 when we had to stop it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType


class Interrupts:
    """When the first SIGINT or SIGTERM arrived (monotonic seconds), and which."""

    def __init__(self) -> None:
        self.at: float | None = None
        self.signal = 0

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        if self.at is None:
            self.at = time.monotonic()
            self.signal = signum


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time) of every process (Linux /proc; empty elsewhere)."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        found[int(entry.parent.name)] = (int(fields[1]), fields[19])
    return found


def tree(root: int) -> dict[int, str]:
    """The processes under `root` (not itself): pid -> start time, to tell them from a later pid's owner."""
    table = processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found[pid] = table[pid][1]
        todo.extend(children.get(pid, []))
    return found


def kill_left(snapshot: dict[int, str]) -> None:
    """SIGKILL each process of `snapshot` that still runs (the same process: same start time)."""
    table = processes()
    for pid, started in snapshot.items():
        if pid in table and table[pid][1] == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def run(argv: Sequence[str], grace_s: float) -> int:
    interrupts = Interrupts()
    signal.signal(signal.SIGINT, interrupts)
    signal.signal(signal.SIGTERM, interrupts)
    child = subprocess.Popen(argv)  # our process group: a terminal's Ctrl-C reaches it as well
    stopping: list[str] = []  # the signals we had to send
    left: dict[int, str] = {}  # the command's process tree when we began to stop it
    while True:
        try:
            code = child.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
        else:
            if not stopping:
                return code
            kill_left(left)
            return 130
        if interrupts.at is None:
            continue
        waited = time.monotonic() - interrupts.at
        if not stopping and (interrupts.signal == signal.SIGTERM or waited > grace_s):
            if interrupts.signal != signal.SIGTERM:
                print(f"{argv[0]}: still running {grace_s:.0f} s after the interrupt: stopping it (SIGTERM)",
                      file=sys.stderr, flush=True)  # fmt: skip
            left = tree(child.pid)
            stopping.append("SIGTERM")
            child.terminate()
        elif waited > 2 * grace_s and stopping == ["SIGTERM"]:
            print(f"{argv[0]}: still running after SIGTERM: killing it (SIGKILL)", file=sys.stderr, flush=True)
            stopping.append("SIGKILL")
            child.kill()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--grace", type=float, default=10.0, help="seconds a command may take to end after Ctrl-C")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command and its arguments")
    args = parser.parse_args(argv)
    if not args.command:
        parser.error("no command given")
    return run(args.command, args.grace)


if __name__ == "__main__":
    sys.exit(main())
