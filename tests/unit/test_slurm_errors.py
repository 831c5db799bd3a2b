"""sbatch's refusals become a clear HTTP answer (hub_config/hpchub/slurm_errors.py)."""

from __future__ import annotations

import pytest
from hpchub.slurm_errors import slurm_refusal


@pytest.mark.parametrize(
    "stderr",
    [
        "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)\n",
        "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation",
    ],
)
def test_an_unreachable_controller_is_503_try_again(stderr):
    status, message = slurm_refusal(stderr)
    assert status == 503
    assert "nothing was submitted, try again" in message and "sbatch: error" not in message


def test_a_refusal_is_400_with_slurms_reason():
    status, message = slurm_refusal(
        "sbatch: error: invalid partition specified: nosuch\n"
        "sbatch: error: Batch job submission failed: Invalid partition name specified\n"
    )
    assert (status, message) == (400, "Slurm refused the job: invalid partition specified: nosuch")


def test_no_output_still_says_something():
    assert slurm_refusal("") == (400, "Slurm refused the job: sbatch failed")
