"""python -m slurm_kernel.launch -f CONNECTION_FILE [-- COMMAND...]: the kernel, in its Slurm job.

ipykernel binds free ports on this node (the connection file has ports 0) and writes them into the file; then
the node's name is added as "ip", which tells the provisioner, on the user's server, that the kernel is ready
and where. ipykernel listens on every interface of the node: the connection file's key signs every message.

When Slurm ends the job (scancel, the time limit, the end of the server's job), it sends SIGTERM first: the
kernel says so in the running cell's output before it stops, so that the notebook shows why, not a hang.

Any other kernel (IRkernel: `-- R --slave -e IRkernel::main() --args {connection_file}`) binds the ports its
connection file names, not free ones: the launcher picks free ports on this node, writes them, starts the command
as its child, and publishes the node once the kernel listens; Slurm's signals (an interrupt, the end of the job)
are passed on to the kernel.
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

PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
LISTEN_DEADLINE_S = 120.0  # an R kernel starts in a second or two; a node under load may take longer

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


def free_ports(count: int) -> list[int]:
    """Ports free on this node now: each bound at once (so all differ), then released for the kernel to bind."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def write_ports(connection_file: str, ports: list[int]) -> None:
    """The ports the kernel is to bind, on every interface (ip 0.0.0.0: not yet published), atomically."""
    path = Path(connection_file)
    info = {**json.loads(path.read_text()), **dict(zip(PORTS, ports, strict=True)), "ip": "0.0.0.0"}
    temporary = path.with_suffix(".ports")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(info, file)
    temporary.replace(path)


def listening(port: int) -> bool:
    """Whether something on this node accepts connections on the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def run_command(connection_file: str, command: list[str]) -> int:
    """Any kernel's command, its connection file given free ports; the node published once it listens on all of
    them. Returns the kernel's exit code (128 + the signal when a signal ended it)."""
    import signal
    import subprocess

    write_ports(connection_file, free_ports(len(PORTS)))
    ports = [int(json.loads(Path(connection_file).read_text())[name]) for name in PORTS]
    kernel = subprocess.Popen([part.replace("{connection_file}", connection_file) for part in command])
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT):
        signal.signal(signum, lambda received, frame: kernel.send_signal(received))
    deadline = time.monotonic() + LISTEN_DEADLINE_S
    while kernel.poll() is None and not all(listening(port) for port in ports):
        if time.monotonic() > deadline:
            sys.stderr.write(f"slurm_kernel.launch: the kernel did not listen within {LISTEN_DEADLINE_S:.0f} s\n")
            kernel.terminate()
            break
        time.sleep(0.1)
    else:
        if kernel.poll() is None:
            publish(connection_file, socket.gethostname())
    code = kernel.wait()
    return 128 - code if code < 0 else code


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

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 3 and args[:1] == ["-f"] and args[2] == "--":
        raise SystemExit(run_command(args[1], args[3:]))
    if len(args) != 2 or args[0] != "-f":
        raise SystemExit("usage: python -m slurm_kernel.launch -f CONNECTION_FILE [-- COMMAND...]")

    from ipykernel.kernelapp import IPKernelApp

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
