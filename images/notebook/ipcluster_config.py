# Site defaults of IPython Parallel (/opt/jupyter/etc/ipython/ipcluster_config.py), read by
# ipp.Cluster() in a kernel and by the IPython Parallel sidebar: `ipp.Cluster(engines="slurm", n=4)` starts
# engines as one Slurm job that reaches the controller in the user's server; `engines="mpi"` as one MPI
# world (mpi4py's COMM_WORLD spans the engines).
import os

from hpc_slurm.contract import ENV_CLUSTER_WCKEY, ENV_JOB_ACCOUNT, ENV_JOB_PARTITION

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
# first). Upstream adds partition and account lines only to its own template, so ours names them.
_FROM_THE_SERVERS_JOB = (("partition", "queue", ENV_JOB_PARTITION), ("account", "account", ENV_JOB_ACCOUNT))
_where = "".join(
    f"#SBATCH --{option}={{{field}}}\n" for option, field, variable in _FROM_THE_SERVERS_JOB if os.environ.get(variable)
)
# Engines started from a user's server carry its wckey (hpchub-singleuser): Slurm cancels them when the
# server's job ends, running or pending. Engines started from a batch job do not: they outlive the server.
_server_wckey = os.environ.get(ENV_CLUSTER_WCKEY, "")
if _server_wckey:
    _where += f"#SBATCH --wckey={_server_wckey}\n"
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
c.MPIEngineSetLauncher.mpi_args = [
    f"--{option}={os.environ[variable]}" for option, _, variable in _FROM_THE_SERVERS_JOB if os.environ.get(variable)
]
if _server_wckey:  # srun makes its own allocation: spread it, and tag it
    c.MPIEngineSetLauncher.mpi_args += ["--spread-job", f"--wckey={_server_wckey}"]
