"""The job clock's server side (packages/job-clock, module hpc_job_clock.time_left) against a stand-in squeue
that prints what Slurm 22.05 prints for `--format %L` (its forms are read by hpc_slurm.durations, tested in
tests/unit/test_hpc_slurm.py). The clock itself is tested in a browser against
the cluster (tests/e2e/test_lab_browser.py)."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest
from hpc_job_clock import time_left
from hpc_job_clock.time_left import job_time_left
from hpc_slurm import DurationError, SlurmError


def stand_in_squeue(tmp_path: Path, out: str, err: str = "", code: int = 0) -> Path:
    script = tmp_path / "squeue"
    script.write_text(
        f'#!/bin/sh\necho "$@" > {tmp_path}/argv\nprintf %s "{out}"\nprintf %s "{err}" >&2\nexit {code}\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_the_jobs_time_left_comes_from_squeue(tmp_path, monkeypatch):
    monkeypatch.setattr(time_left, "SQUEUE", str(stand_in_squeue(tmp_path, "17:05\n")))
    assert asyncio.run(job_time_left("42")) == 17 * 60 + 5
    assert (tmp_path / "argv").read_text().split() == ["--noheader", "--jobs", "42", "--format", "%L"]


def test_slurms_message_is_kept_when_squeue_fails(tmp_path, monkeypatch):
    err = "slurm_load_jobs error: Invalid job id specified"
    monkeypatch.setattr(time_left, "SQUEUE", str(stand_in_squeue(tmp_path, "", err, 1)))
    with pytest.raises(SlurmError, match="Invalid job id specified"):
        asyncio.run(job_time_left("42"))


def test_a_job_squeue_no_longer_lists_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(time_left, "SQUEUE", str(stand_in_squeue(tmp_path, "")))
    with pytest.raises(SlurmError, match="does not know job 42"):
        asyncio.run(job_time_left("42"))


def test_a_time_left_that_is_not_a_duration_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(time_left, "SQUEUE", str(stand_in_squeue(tmp_path, "soon\n")))
    with pytest.raises(DurationError, match="not a duration"):
        asyncio.run(job_time_left("42"))


def test_a_job_without_a_limit_has_no_end(tmp_path, monkeypatch):
    monkeypatch.setattr(time_left, "SQUEUE", str(stand_in_squeue(tmp_path, "UNLIMITED\n")))
    assert asyncio.run(job_time_left("42")) is None
