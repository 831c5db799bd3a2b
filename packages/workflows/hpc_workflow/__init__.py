"""Notebooks and commands as Slurm jobs with dependencies: define a workflow in Python or YAML, submit it,
watch it (`Monitor(run)` in a notebook, `hpc-workflow status` in a shell), approve its gates, rerun what
failed. Slurm is the engine: nothing of ours stays up.

    from hpc_workflow import Step, Workflow, submit, Monitor
    run = submit(Workflow("demo", (Step("a", notebook="a.ipynb", parameters={"alpha": 0.5}),
                                   Step("b", command="python b.py", after=("a",)))))
    Monitor(run)
"""

from __future__ import annotations

from typing import Any

from hpc_workflow.run import Run, StepStatus, submit
from hpc_workflow.spec import Resources, Step, Workflow, WorkflowError

__all__ = ["Monitor", "Resources", "Run", "Step", "StepStatus", "Workflow", "WorkflowError", "submit"]


def __getattr__(name: str) -> Any:
    if name == "Monitor":  # ipywidgets only when a notebook asks for the widget
        from hpc_workflow.widget import Monitor

        return Monitor
    raise AttributeError(name)
