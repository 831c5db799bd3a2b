"""Slurm commands' (sbatch, scancel) errors as a user should read them."""

from __future__ import annotations

UNREACHABLE = ("contact slurm controller", "timed out", "unable to connect")


def slurm_refusal(stderr: str) -> tuple[int, str]:
    """(HTTP status, message) for sbatch or scancel errors: 503 when Slurm is unreachable (try again), else 400."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    reason = next((line for line in lines if "error:" in line), lines[-1] if lines else "sbatch failed")
    reason = reason.split("error:", 1)[-1].strip()
    if any(word in reason.lower() for word in UNREACHABLE):
        return 503, f"Slurm is not answering ({reason}); nothing was submitted, try again in a minute"
    return 400, f"Slurm refused the job: {reason}"
