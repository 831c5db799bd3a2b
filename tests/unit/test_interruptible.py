"""tools/interruptible.py: an interrupted `make up` ends within seconds, whatever ansible-playbook does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READY = "ready\n"


def start(child_code: str, grace_s: float = 0.5) -> subprocess.Popen[str]:
    """interruptible.py running `python -c child_code` in a new process group (as a terminal's job)."""
    runner = [sys.executable, str(ROOT / "tools/interruptible.py"), f"--grace={grace_s}"]
    argv = [*runner, sys.executable, "-c", child_code]
    run = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert run.stdout is not None and run.stdout.readline() == READY  # the child's handlers are in place
    return run


def interrupt(run: subprocess.Popen[str]) -> tuple[int, float, str]:
    """Ctrl-C as a terminal sends it (to the whole process group): exit status, seconds to end, stderr."""
    sent = time.monotonic()
    os.killpg(run.pid, signal.SIGINT)
    _, err = run.communicate(timeout=20)
    return run.returncode, time.monotonic() - sent, err


def test_a_command_that_ends_on_ctrl_c_keeps_its_own_exit_status():
    run = start("import sys, signal, time\nsignal.signal(signal.SIGINT, lambda *_: sys.exit(99))\n"
                "print('ready', flush=True)\ntime.sleep(60)")  # fmt: skip
    code, seconds, err = interrupt(run)
    assert (code, err) == (99, "")
    assert seconds < 5


def test_a_command_that_ignores_ctrl_c_is_stopped_after_the_grace_time():
    run = start("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                "print('ready', flush=True)\ntime.sleep(60)")  # fmt: skip
    code, seconds, err = interrupt(run)
    assert code == 130
    assert 0.5 <= seconds < 10
    assert "still running 0 s after the interrupt: stopping it (SIGTERM)" in err


def test_a_command_that_ignores_sigterm_too_is_killed():
    run = start("import signal, time\nfor s in (signal.SIGINT, signal.SIGTERM): signal.signal(s, signal.SIG_IGN)\n"
                "print('ready', flush=True)\ntime.sleep(60)")  # fmt: skip
    code, seconds, err = interrupt(run)
    assert code == 130 and "SIGKILL" in err
    assert 1.0 <= seconds < 10


def test_sigterm_to_the_runner_is_passed_on_at_once():
    run = start("import sys, signal, time\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(7))\n"
                "print('ready', flush=True)\ntime.sleep(60)", grace_s=30)  # fmt: skip
    run.send_signal(signal.SIGTERM)  # to the runner only, as systemd or `timeout` would
    run.communicate(timeout=10)
    assert run.returncode == 130


def test_without_an_interrupt_the_status_is_the_commands():
    done = subprocess.run([sys.executable, str(ROOT / "tools/interruptible.py"), "sh", "-c", "exit 3"], check=False)
    assert done.returncode == 3


def test_what_is_left_of_a_stopped_commands_tree_is_killed_too(tmp_path):
    # A worker in a session of its own (as Ansible's are) that would wait forever once its parent is gone.
    pid_file = tmp_path / "worker.pid"
    run = start(
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "worker = subprocess.Popen([sys.executable, '-c', 'import signal, time\\n"
        "for s in (signal.SIGINT, signal.SIGTERM): signal.signal(s, signal.SIG_IGN)\\ntime.sleep(60)'],"
        " start_new_session=True)\n"
        f"open({str(pid_file)!r}, 'w').write(str(worker.pid))\n"
        "print('ready', flush=True)\ntime.sleep(60)"
    )
    worker = int(pid_file.read_text())
    code, _, _ = interrupt(run)
    assert code == 130
    deadline = time.monotonic() + 5
    while Path(f"/proc/{worker}").exists() and "Z" not in Path(f"/proc/{worker}/stat").read_text().split()[2]:
        assert time.monotonic() < deadline, "the worker outlived the stopped command"
        time.sleep(0.05)
