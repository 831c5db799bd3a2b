#!/usr/bin/env python3
"""hub-state: the hub's state folder into a backup, or back from one (deploy/backup.yml, deploy/restore.yml).

    hub-state backup STATE OUT      OUT/jupyterhub.sqlite (SQLite's online backup: a consistent copy while the
                                    hub writes) and OUT/state.tar (the rest: MFA keys, failed logins)
    hub-state restore STATE IN USER the same back into STATE, owned by USER; the hub must be stopped

Run by the jupyterhub role with the hub's own Python: in a throwaway container of the hub's image on the state
volume (runtime docker), or on the hub host (runtime systemd). The standard library only.
"""

from __future__ import annotations

import os
import pwd
import sqlite3
import sys
import tarfile
from pathlib import Path

DATABASE = "jupyterhub.sqlite"
# The database's own files, and the copies JupyterHub (upgrade-db) and the role (before a new hub image) keep.
LEFT_OUT = (DATABASE, f"{DATABASE}-journal", f"{DATABASE}-wal", f"{DATABASE}-shm", "backups")


def left_out(name: str) -> bool:
    first = name.removeprefix("./").split("/", 1)[0]
    return first in LEFT_OUT or first.startswith(f"{DATABASE}.")


def backup(state: Path, out: Path) -> None:
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    if (state / DATABASE).exists():
        source = sqlite3.connect(f"file:{state / DATABASE}?mode=ro", uri=True)
        copy = sqlite3.connect(out / DATABASE)
        with copy:
            source.backup(copy)
        source.close()
        copy.close()
        (out / DATABASE).chmod(0o600)
    with tarfile.open(out / "state.tar", "w") as tar:
        for path in sorted(state.iterdir()):
            if not left_out(path.name):
                tar.add(path, arcname=path.name)
    (out / "state.tar").chmod(0o600)


def restore(state: Path, source: Path, user: str) -> None:
    owner = pwd.getpwnam(user)
    for name in LEFT_OUT[:4]:
        (state / name).unlink(missing_ok=True)
    if (source / DATABASE).exists():
        (state / DATABASE).write_bytes((source / DATABASE).read_bytes())
    with tarfile.open(source / "state.tar") as tar:
        members = [m for m in tar.getmembers() if (m.isfile() or m.isdir()) and not left_out(m.name)
                   and not m.name.startswith("/") and ".." not in m.name.split("/")]  # fmt: skip
        tar.extractall(state, members=members)
    for root, folders, files in os.walk(state):
        for name in [*folders, *files]:
            os.chown(Path(root) / name, owner.pw_uid, owner.pw_gid)
    os.chown(state, owner.pw_uid, owner.pw_gid)
    if (state / DATABASE).exists():
        (state / DATABASE).chmod(0o600)


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "backup":
        backup(Path(argv[1]), Path(argv[2]))
        return 0
    if len(argv) == 4 and argv[0] == "restore":
        restore(Path(argv[1]), Path(argv[2]), argv[3])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
