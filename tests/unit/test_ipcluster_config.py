"""The notebook image's IPython Parallel site defaults (images/notebook/ipcluster_config.py), loaded as ipcluster
loads them: the engines' batch script and MPI arguments carry the server job's partition, account and wckey, as
written by the one job request type. Engines started this way run against Slurm in tests/e2e/test_parallel.py."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from hpc_slurm import contract
from hpc_slurm.jobs import JobRequestError
from traitlets.config import Config

CONFIG = Path(__file__).resolve().parents[2] / "images/notebook/ipcluster_config.py"


def load(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> Config:
    for name in (contract.ENV_JOB_PARTITION, contract.ENV_JOB_ACCOUNT, contract.ENV_CLUSTER_WCKEY):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    config = Config()
    runpy.run_path(str(CONFIG), init_globals={"get_config": lambda: config})
    return config


def test_engines_from_a_server_carry_its_partition_account_and_wckey(monkeypatch):
    config = load(monkeypatch, {contract.ENV_JOB_PARTITION: "interactive", contract.ENV_JOB_ACCOUNT: "m2000",
                                contract.ENV_CLUSTER_WCKEY: "hpchub-77"})  # fmt: skip
    assert config.SlurmLauncher.queue == "interactive" and config.SlurmLauncher.account == "m2000"
    script = config.SlurmEngineSetLauncher.batch_template.splitlines()
    # partition and account stay upstream's fields, so a user's own c.SlurmLauncher settings fill them
    assert script[6:9] == ["#SBATCH --partition={queue}", "#SBATCH --account={account}", "#SBATCH --wckey=hpchub-77"]
    assert script[-1] == "srun --mpi=pmix {program_and_args}"
    assert config.MPIEngineSetLauncher.mpi_args == ["--partition=interactive", "--account=m2000", "--wckey=hpchub-77",
                                                    "--spread-job"]  # fmt: skip


def test_engines_from_a_batch_job_carry_nothing_of_a_server(monkeypatch):
    config = load(monkeypatch, {})
    assert "--wckey" not in config.SlurmEngineSetLauncher.batch_template
    assert "{queue}" not in config.SlurmEngineSetLauncher.batch_template
    assert config.MPIEngineSetLauncher.mpi_args == []


def test_an_unsafe_value_is_refused_not_written(monkeypatch):
    with pytest.raises(JobRequestError, match="wckey"):
        load(monkeypatch, {contract.ENV_CLUSTER_WCKEY: "hpchub-1\n#SBATCH --uid=0"})
