"""Environment modules (Lmod) before a command: what a server's job and a kernel's job run when their environment
or kernel names modules. One writer of the wrapper for the hub (a server's batch script) and the kernels.

The wrapper is a login shell, where a site's `module` command is defined (Lmod's /etc/profile.d/lmod.sh), which
loads the modules and then replaces itself with the command: the command is the job's process, as without
modules. A module that cannot be loaded stops the job before the command starts, with Lmod's message in its log.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MODULE = re.compile(r"^[A-Za-z0-9_.+-]{1,64}(?:/[A-Za-z0-9_.+-]{1,64}){0,3}$")  # name, name/version, a/b/c


def bad_module(names: Sequence[str]) -> str:
    """The first name that is not a module name (letters, digits, _ . + -, parts separated by /); "" if none."""
    return next((str(name) for name in names if not isinstance(name, str) or not MODULE.match(name)), "")


def with_modules(modules: Sequence[str], argv: Sequence[str]) -> list[str]:
    """`argv` run after `module load MODULES` in a login shell; `argv` itself without modules."""
    if not modules:
        return list(argv)
    bad = bad_module(modules)
    if bad:
        raise ValueError(f"{bad!r} is not a module name")
    return ["/bin/bash", "-lc", f'module load {" ".join(modules)} && exec "$0" "$@"', *argv]


def command_of(argv: Sequence[str]) -> list[str]:
    """The command `with_modules` wrapped (argv itself when it is not wrapped)."""
    wrapped = len(argv) > 3 and argv[0] == "/bin/bash" and argv[1] == "-lc" and argv[2].startswith("module load ")
    return list(argv[3:] if wrapped else argv)


def main() -> None:
    """python -m hpc_slurm.modules < [{"modules": [...], "argv": [...]}, ...]: each command wrapped, as JSON (the
    notebook_env role writes the kernel specs of its module kernels from it); exits 1 naming a bad module name."""
    import json
    import sys

    try:
        print(json.dumps([with_modules(item["modules"], item["argv"]) for item in json.load(sys.stdin)]))
    except (ValueError, KeyError, TypeError) as error:
        raise SystemExit(f"hpc_slurm.modules: {error}") from None


if __name__ == "__main__":
    main()
