"""Workflows on Slurm (issue 17), side by side with plain Slurm, from the user's login shell on the login node.

- per-step overhead: a chain of 10 trivial steps through `hpc-workflow` against the same 10 commands as a plain
  `sbatch --dependency=afterok` chain; each job writes the time it ran (date +%s.%N), and the chain's span is the
  last one's less the first one's: nine links of Slurm starting the next job plus each job's own start-up;
- a notebook step against the same code as a Python script batch job: from the job's submission to its end,
  seen from the login node (squeue every 0.1 s); the step's log splits it (kernel start and cells, HTML);
- a 100-step DAG: the time `submit` takes (checks, 100 sbatch calls), and one status refresh of it.
Rounds interleave the two of each pair (the chains take turns to go first); a ratio is the median of the
rounds' ratios.
"""

from __future__ import annotations

import json
import re
import shlex
import statistics
from collections.abc import Callable
from typing import Any

from tests.support.docker import on

USER, ACCOUNT = "bob", "m1000"
WORK = f"/global/homes/{USER}/.bench-workflows"
DEFAULTS = f"{{partition: debug, account: {ACCOUNT}, time: 5, memory: 100M}}"

CHAIN = (
    "name: chain10\ndefaults: "
    + DEFAULTS
    + "\nsteps:\n"
    + "".join(
        f"  s{i}: {{command: 'date +%s.%N >> $STAMPS', after: [s{i - 1}]}}\n" if i
        else "  s0: {command: 'date +%s.%N >> $STAMPS'}\n"
        for i in range(10)
    )
)  # fmt: skip
DAG100 = (
    "name: dag100\ndefaults: "
    + DEFAULTS
    + "\nsteps:\n"
    + "".join(f"  s{i}: {{command: 'true'" + (f", after: [s{(i - 1) // 2}]" if i else "") + "}\n" for i in range(100))
)  # a binary tree: 100 steps, 99 dependencies
NOTEBOOK = json.dumps({
    "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
               "source": "total = sum(range(1000))\nprint(total)"}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
})  # fmt: skip
SCRIPT = "total = sum(range(1000))\nprint(total)\n"
PLAIN_CHAIN = f"""
prev=""
for i in $(seq 0 9); do
  dep=${{prev:+--dependency=afterok:$prev}}
  prev=$(sbatch --parsable --kill-on-invalid-dep=yes --partition=debug --account={ACCOUNT} --time=5 --mem=100M \\
         --job-name=plain-chain --output=/dev/null $dep --wrap 'date +%s.%N >> $STAMPS')
done
"""
# The span of a chain: its ten time stamps, once all are written.
SPAN = """
for i in $(seq 600); do [ "$(wc -l < "$1" 2>/dev/null || echo 0)" -ge 10 ] && break; sleep 0.1; done
sort -n "$1" | sed -n '1p;$p' | tr '\\n' ' '
"""
# From a job's submission to its end, seen from the login node: `bash -s SUBMIT`, SUBMIT printing the job id.
# Prints the job id, the seconds in all and the seconds the submitting command took.
UNTIL_GONE = """
start=$(date +%s.%N)
job=$(eval "$1")
submitted=$(date +%s.%N)
while squeue --noheader --jobs="$job" 2>/dev/null | grep -q .; do sleep 0.1; done
end=$(date +%s.%N)
awk -v j="$job" -v s="$start" -v m="$submitted" -v e="$end" 'BEGIN { print j, e - s, m - s }'
"""


def shell(command: str, stdin: str | None = None) -> str:
    done = on("login", f"mkdir -p {WORK} && cd {WORK} && {command}", user=USER, stdin=stdin, login=True)
    if done.returncode != 0:
        raise RuntimeError(f"{command!r} failed: {done.stdout[-500:]} {done.stderr[-1000:]}")
    return done.stdout


def put(name: str, text: str) -> None:
    shell(f"cat > {name}", stdin=text)


def span(stamps: str) -> float:
    first, last = (float(value) for value in shell(f"bash -s {stamps}", stdin=SPAN).split())
    return last - first


def workflow_chain(round_: int) -> float:
    stamps = f"{WORK}/stamps-workflow-{round_}"
    shell(f"STAMPS={stamps} hpc-workflow submit chain10.yaml")
    return span(stamps)


def plain_chain(round_: int) -> float:
    stamps = f"{WORK}/stamps-plain-{round_}"
    shell(f"STAMPS={stamps} bash -s", stdin=PLAIN_CHAIN)
    return span(stamps)


PYTHON_SNIPPET = """
import time, sys
sys.argv = ["hpc-workflow"]
from hpc_workflow import Workflow, submit
from hpc_workflow.run import Run
workflow = Workflow.from_yaml(open("dag100.yaml").read())
started = time.monotonic(); run = submit(workflow); submitted = time.monotonic() - started
started = time.monotonic(); run.status(); refreshed = time.monotonic() - started
run.cancel()
print(submitted, refreshed)
"""


def until_gone(submit: str) -> tuple[str, float, float]:
    """Run `submit` (it prints a job id) and wait for that job's end: the id, the seconds in all, and the seconds
    the submitting command took."""
    job, seconds, submitting = shell(f"bash -s {shlex.quote(submit)}", stdin=UNTIL_GONE).split()
    return job, float(seconds), float(submitting)


RUN_NOTEBOOK = (
    f"run=$(hpc-workflow run one.ipynb --partition debug --account {ACCOUNT} --time 5 | head -1); "
    'echo "$run" > last-run; '
    'python3 -c \'import json, sys; print(json.load(open(sys.argv[1]))["jobs"]["one"][-1])\' "$run/run.json"'
)


def notebook_step() -> tuple[float, float, float, float]:
    """Seconds from `hpc-workflow run` to the job's end; of them, the command's own, the kernel start with the
    cells, and the HTML rendering (the step's log)."""
    job, seconds, submitting = until_gone(RUN_NOTEBOOK)
    log = shell(f'cat "$(cat last-run)/steps/one/slurm-{job}.log"')
    found = re.search(r"kernel start and cells ([0-9.]+) s, HTML ([0-9.]+) s", log)
    if not found:
        raise RuntimeError(f"no timing line in the step's log: {log[-500:]}")
    return seconds, submitting, float(found.group(1)), float(found.group(2))


def script_job() -> tuple[float, float]:
    submit = f"sbatch --parsable --partition=debug --account={ACCOUNT} --time=5 --output=/dev/null "
    submit += "--wrap 'python3 one.py'"
    return until_gone(submit)[1:]


def paired_ratio(ours: list[float], reference: list[float]) -> float:
    return statistics.median(a / max(b, 1e-9) for a, b in zip(ours, reference, strict=True))


def measure(rounds: int, say: Callable[[str], None]) -> dict[str, Any]:
    shell(f"rm -rf {WORK} && mkdir -p {WORK}")
    put("chain10.yaml", CHAIN)
    put("dag100.yaml", DAG100)
    put("one.ipynb", NOTEBOOK)
    put("one.py", SCRIPT)
    keys = ("chain_workflow_s", "chain_plain_s", "notebook_step_s", "notebook_submit_s", "notebook_cells_s",
            "notebook_html_s", "script_job_s", "script_submit_s", "dag100_submit_s", "dag100_status_s")  # fmt: skip
    samples: dict[str, list[float]] = {key: [] for key in keys}
    for i in range(rounds):
        say(f"   round {i + 1}/{rounds}")
        pair = (("chain_workflow_s", workflow_chain), ("chain_plain_s", plain_chain))
        for key, chain in pair if i % 2 == 0 else pair[::-1]:  # each goes first every other round
            samples[key].append(chain(i))
        for key, value in zip(("notebook_step_s", "notebook_submit_s", "notebook_cells_s", "notebook_html_s"),
                              notebook_step(), strict=True):  # fmt: skip
            samples[key].append(value)
        total, submitting = script_job()
        samples["script_job_s"].append(total)
        samples["script_submit_s"].append(submitting)
        submitted, refreshed = (float(v) for v in shell("python3 -", stdin=PYTHON_SNIPPET).split()[-2:])
        samples["dag100_submit_s"].append(submitted)
        samples["dag100_status_s"].append(refreshed)
    medians = {key: statistics.median(values) for key, values in samples.items()}
    return {
        "samples": samples,
        "medians": medians,
        "ratios": {  # the median of each round's ratio: a round's two runs saw the same cluster
            "chain workflow / plain": paired_ratio(samples["chain_workflow_s"], samples["chain_plain_s"]),
            "notebook step / script job": paired_ratio(samples["notebook_step_s"], samples["script_job_s"]),
        },
    }
