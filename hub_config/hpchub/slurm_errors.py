"""Slurm commands' (sbatch, scancel) errors as a user should read them: batchspawner raises a RuntimeError with
the command's standard error, which hpc_slurm tells apart as "not answering" or "refused"."""

from __future__ import annotations

from hpc_slurm import SlurmNotAnswering, error_from


def slurm_refusal(stderr: str) -> tuple[int, str]:
    """(HTTP status, message) for sbatch or scancel errors: 503 when Slurm is unreachable (try again), else 400."""
    error = error_from("sbatch", stderr)
    if isinstance(error, SlurmNotAnswering):
        return 503, f"Slurm is not answering ({error.reason}); nothing was submitted, try again in a minute"
    return 400, f"Slurm refused the job: {error.reason}"
