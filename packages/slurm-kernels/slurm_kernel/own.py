"""hpc-kernel add ENV [--name NAME] [--on PLACE] [--module MODULE] [--local]: a user's own Python environment (a
venv, a conda prefix) as kernels that run as Slurm jobs on compute nodes, beside its local kernel (`ipykernel install
--user`, or --local here). With --module, each kernel loads those environment modules (Lmod) before it starts.

For each of the site's compute-node kernels (slurm-PLACE, which the notebook_env role writes from site_places)
or the one named by --on, a kernel spec slurm-PLACE-NAME in the user's kernels folder: the same provisioner and
job size, with the user's interpreter. The interpreter must import ipykernel; our launcher (slurm_kernel.launch)
and the Slurm layer it uses are pure Python and reach it through a folder of links on PYTHONPATH, which holds
nothing else: the user's packages are the environment's own.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import hpc_slurm
from hpc_slurm.modules import bad_module, with_modules

import slurm_kernel
from slurm_kernel.jobs import KernelJobSize

PROVISIONER = "slurm-provisioner"
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,40}$")
LINKED = (hpc_slurm, slurm_kernel)  # what slurm_kernel.launch imports of ours


class KernelSpecs(Protocol):
    """What is used of jupyter_client's KernelSpecManager: every spec found, and the user's kernels folder."""

    user_kernel_dir: str

    def get_all_specs(self) -> dict[str, Any]: ...


class OwnKernelError(ValueError):
    """The environment or the choice of place cannot make a kernel: the message says what to do."""


@dataclass(frozen=True)
class SiteKernel:
    """One of the site's compute-node kernels: its spec's name (slurm-PLACE) and provisioner config."""

    name: str
    config: dict[str, Any]

    @property
    def place(self) -> str:
        return self.name.removeprefix("slurm-")

    def size(self) -> KernelJobSize:
        c = self.config
        return KernelJobSize(str(c.get("partition", "")), int(c.get("cpus", 1)), str(c.get("memory", "")),
                             int(c.get("time", 30)), int(c.get("gpus", 0)), str(c.get("account", "")),
                             str(c.get("qos", "")))  # fmt: skip


def site_kernels(manager: KernelSpecs, prefix: str = sys.prefix) -> list[SiteKernel]:
    """The Python compute-node kernels of the site's environment (specs slurm-PLACE under `prefix`; not its R
    kernels, slurm-PLACE-r)."""
    found = []
    for name, entry in sorted(manager.get_all_specs().items()):
        spec = entry["spec"]
        provisioner = spec.get("metadata", {}).get("kernel_provisioner", {})
        if (name.startswith("slurm-") and provisioner.get("provisioner_name") == PROVISIONER
                and spec.get("language", "python") == "python"
                and Path(entry["resource_dir"]).resolve().is_relative_to(Path(prefix).resolve())):  # fmt: skip
            found.append(SiteKernel(name, dict(provisioner.get("config", {}))))
    return found


def interpreter(environment: str) -> Path:
    """The environment's Python (ENV/bin/python, or ENV itself when it is the interpreter), checked for ipykernel."""
    path = Path(environment).expanduser()
    python = path / "bin" / "python" if path.is_dir() else path
    if not (python.is_file() and os.access(python, os.X_OK)):
        raise OwnKernelError(f"{environment}: no Python there (give a venv or conda prefix, or its bin/python)")
    checked = subprocess.run([str(python), "-c", "import ipykernel"], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        raise OwnKernelError(f"{python} cannot import ipykernel: `{python} -m pip install ipykernel`, then again")
    return python.absolute()


def default_name(python: Path) -> str:
    """The environment's folder name (~/envs/analysis/bin/python: analysis)."""
    folder = python.parent.parent if python.parent.name == "bin" else python.parent
    return re.sub(r"[^a-z0-9_.-]", "-", folder.name.lower()).strip("-.") or "mine"


def with_modules_named(name: str, modules: list[str]) -> str:
    return f"{name} (module{'s' if len(modules) > 1 else ''} {', '.join(modules)})" if modules else name


def fresh_folder(where: Path) -> Path:
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    return where


def write_local_spec(folder: Path, python: Path, name: str, modules: list[str]) -> Path:
    """The spec NAME in `folder`: the environment's kernel on the server, after its modules are loaded."""
    where = fresh_folder(folder / name)
    spec = {
        "argv": with_modules(modules, [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]),
        "display_name": with_modules_named(name, modules),
        "language": "python",
        "metadata": {"debugger": True},
    }
    (where / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    return where


def write_spec(folder: Path, python: Path, name: str, kernel: SiteKernel, modules: list[str] | None = None) -> Path:
    """The spec slurm-PLACE-NAME in `folder` (the user's kernels), with its folder of links; replaced if there."""
    where = fresh_folder(folder / f"{kernel.name}-{name}")
    links = where / "pythonpath"
    links.mkdir()
    for package in LINKED:
        (links / package.__name__).symlink_to(Path(str(package.__file__)).parent)
    spec = {
        "argv": with_modules(modules or [], [str(python), "-m", "slurm_kernel.launch", "-f", "{connection_file}"]),
        "display_name": f"{with_modules_named(name, modules or [])} on a compute node ({kernel.size().describe()})",
        "language": "python",
        "interrupt_mode": "message",
        "env": {"PYTHONPATH": str(links)},
        "metadata": {"debugger": False,
                     "kernel_provisioner": {"provisioner_name": PROVISIONER, "config": kernel.config}},
    }  # fmt: skip
    (where / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    return where


def add(environment: str, name: str | None, places: list[str], manager: KernelSpecs,
        prefix: str = sys.prefix, modules: list[str] | None = None, local: bool = False) -> list[Path]:  # fmt: skip
    """The kernel specs of `environment` for the site's compute-node kernels in `prefix` (those of `places`), each
    loading `modules` first; with `local`, its kernel on the server too."""
    modules = list(modules or [])
    if bad_module(modules):
        raise OwnKernelError(f"--module {bad_module(modules)!r}: not a module name such as gcc/12.2")
    python = interpreter(environment)
    name = name or default_name(python)
    if not NAME.match(name):
        raise OwnKernelError(f"--name {name!r}: lower-case letters, digits, '.', '_' or '-'")
    kernels = site_kernels(manager, prefix)
    if not kernels:
        raise OwnKernelError("this environment has no compute-node kernels (the site's places define none)")
    offered = {kernel.place: kernel for kernel in kernels}
    unknown = [place for place in places if place not in offered]
    if unknown:
        raise OwnKernelError(f"--on {unknown[0]}: not a place with kernels here ({', '.join(offered)})")
    chosen = [offered[place] for place in places] if places else kernels
    folder = Path(manager.user_kernel_dir)
    written = [write_local_spec(folder, python, name, modules)] if local else []
    return written + [write_spec(folder, python, name, kernel, modules) for kernel in chosen]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hpc-kernel", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    adding = commands.add_parser("add", help="your environment as kernels on compute nodes")
    adding.add_argument("environment", help="a venv or conda prefix (or its bin/python) that has ipykernel")
    adding.add_argument("--name", help="the kernels' name (default: the environment's folder name)")
    adding.add_argument(
        "--on",
        action="append",
        default=[],
        metavar="PLACE",
        help="a place whose compute-node kernel to follow (default: each); repeatable",
    )
    adding.add_argument(
        "--module",
        action="append",
        default=[],
        metavar="MODULE",
        help="an environment module (Lmod) each kernel loads first; repeatable",
    )
    adding.add_argument("--local", action="store_true", help="also its kernel on the server, named NAME")  # fmt: skip
    args = parser.parse_args(argv)
    from jupyter_client.kernelspec import KernelSpecManager  # Jupyter's own search path (here, not at import)

    try:
        written = add(args.environment, args.name, args.on, KernelSpecManager(), modules=args.module, local=args.local)
    except OwnKernelError as error:
        raise SystemExit(f"hpc-kernel: {error}") from None
    for where in written:
        spec = json.loads((where / "kernel.json").read_text())
        print(f"{where.name}: {spec['display_name']}")
    print("In JupyterLab's launcher now (refresh the page); `jupyter kernelspec remove NAME` removes one.")


if __name__ == "__main__":
    main()
