# Site defaults of IPython Parallel (/opt/jupyter/etc/ipython/ipcluster_config.py), read by
# ipp.Cluster() in a kernel and by the IPython Parallel sidebar: `ipp.Cluster(engines="slurm", n=4)` starts
# engines as one Slurm job that reaches the controller in the user's server; `engines="mpi"` as one MPI
# world (mpi4py's COMM_WORLD spans the engines).
import os

from hpc_slurm.contract import ENV_CLUSTER_WCKEY, ENV_JOB_ACCOUNT, ENV_JOB_PARTITION
from hpc_slurm.jobs import JobRequest

c = get_config()  # type: ignore[name-defined]  # noqa: F821

# The controller runs in the user's kernel or server; engines on other nodes connect to it. Upstream's
# default, 127.0.0.1, leaves engine jobs running with no engine ever registered.
c.Cluster.controller_ip = "*"

# Engines in the server job's partition and account (hpchub-singleuser keeps them from the server's job);
# a user's own c.SlurmLauncher.queue/account, or Cluster(..., config=...), wins.
if os.environ.get(ENV_JOB_PARTITION):
    c.SlurmLauncher.queue = os.environ[ENV_JOB_PARTITION]
if os.environ.get(ENV_JOB_ACCOUNT):
    c.SlurmLauncher.account = os.environ[ENV_JOB_ACCOUNT]

# Upstream's template with the engines spread over the job's nodes (--spread-job: one engine per node
# first). Upstream adds partition and account lines only to its own template, so ours names them, as its
# fields ({queue}, {account}: a user's own c.SlurmLauncher settings fill them).
_FIELDS = (("partition", "queue", ENV_JOB_PARTITION), ("account", "account", ENV_JOB_ACCOUNT))
_where = "".join(f"#SBATCH --{option}={{{field}}}\n" for option, field, variable in _FIELDS if os.environ.get(variable))
# Engines started from a user's server carry its wckey (hpchub-singleuser): Slurm cancels them when the
# server's job ends, running or pending. Engines started from a batch job do not: they outlive the server.
# Our own values are written by the one job request type (hpc_slurm.jobs), which refuses an unsafe one.
_server = JobRequest(
    partition=os.environ.get(ENV_JOB_PARTITION, ""),
    account=os.environ.get(ENV_JOB_ACCOUNT, ""),
    wckey=os.environ.get(ENV_CLUSTER_WCKEY, ""),
)
_where += "".join(f"{line}\n" for line in JobRequest(wckey=_server.wckey).directives())
c.SlurmEngineSetLauncher.batch_template = (
    "#!/bin/sh\n"
    "#SBATCH --export=ALL\n"
    "#SBATCH --job-name=ipengine-{cluster_id}\n"
    "#SBATCH --ntasks={n}\n"
    "#SBATCH --spread-job\n"
    "#SBATCH --output={output_file}\n" + _where + "srun --mpi=pmix {program_and_args}\n"
)

# engines="mpi": the engines are one MPI world started by srun with Slurm's PMIx (Debian's Open MPI has no
# other launcher for Slurm). From a server, srun makes its own allocation, spread over the nodes, in the
# server job's partition and account, tagged like the Slurm engines; inside a batch job, it uses the job's.
c.MPIEngineSetLauncher.mpi_cmd = ["srun", "--mpi=pmix"]
c.MPIEngineSetLauncher.mpi_args = _server.sbatch_options()
if _server.wckey:  # srun makes its own allocation: spread it
    c.MPIEngineSetLauncher.mpi_args.append("--spread-job")
