"""python -m slurm_kernel.launch -f CONNECTION_FILE: the kernel, in its Slurm job.

ipykernel binds free ports on this node (the connection file has ports 0) and writes them into the file; then
the node's name is added as "ip", which tells the provisioner, on the user's server, that the kernel is ready
and where. ipykernel listens on every interface of the node: the connection file's key signs every message.

When Slurm ends the job (scancel, the time limit, the end of the server's job), it sends SIGTERM first: the
kernel says so in the running cell's output before it stops, so that the notebook shows why, not a hang.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from hpc_slurm import contract

# The time limit is known to have been reached when SIGTERM comes this close to it (Slurm checks limits
# every 30 s or so, and the kernel starts a few seconds after its job).
TIME_LIMIT_MARGIN_S = 60.0
CLOSE_DEADLINE_S = 5.0  # well within Slurm's KillWait (30 s by default) before its SIGKILL


def publish(connection_file: str, host: str) -> None:
    """Add the node's name to the connection file ipykernel has written (its ports), atomically."""
    path = Path(connection_file)
    info = json.loads(path.read_text())
    info["ip"] = host
    temporary = path.with_suffix(".ready")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(info, file)
    temporary.replace(path)


def ending_words(job: str, host: str, elapsed_s: float, limit_minutes: int) -> str:
    """What the kernel says when Slurm ends its job."""
    if limit_minutes and elapsed_s >= limit_minutes * 60 - TIME_LIMIT_MARGIN_S:
        why = f"reached its time limit ({limit_minutes} min)"
    else:
        why = "is cancelled (scancel, the end of the server's job, or an administrator)"
    return (
        f"\n[slurm kernel] Slurm job {job} on {host}, this kernel's job, {why}: the kernel stops now. "
        "Restart the kernel to run in a new job.\n"
    )


def main(argv: list[str] | None = None) -> None:
    import signal

    from ipykernel.kernelapp import IPKernelApp

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "-f":
        raise SystemExit("usage: python -m slurm_kernel.launch -f CONNECTION_FILE")
    started = time.monotonic()
    host = socket.gethostname()
    job = os.environ.get("SLURM_JOB_ID", "?")
    limit = int(os.environ.get(contract.ENV_KERNEL_TIME_LIMIT, "0") or 0)

    app = IPKernelApp.instance()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        """Say why in the running cell, then close the sockets in order: closing them sends what is queued (the
        words), where exiting at once would drop it. A watchdog ends the process if closing hangs."""
        watchdog = threading.Timer(CLOSE_DEADLINE_S, os._exit, args=(128 + signum,))
        watchdog.daemon = True
        watchdog.start()
        try:
            sys.stderr.write(ending_words(job, host, time.monotonic() - started, limit))
            sys.stderr.flush()
            app.close()
        finally:
            os._exit(128 + signum)

    app.initialize(["-f", args[1], "--ip=0.0.0.0"])
    publish(args[1], host)
    signal.signal(signal.SIGTERM, on_sigterm)
    app.start()


if __name__ == "__main__":
    main()
