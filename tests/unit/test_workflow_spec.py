"""A workflow's definition (packages/workflows, module hpc_workflow): one schema for Python and YAML,
refused before anything is submitted with a message naming the step and field; the YAML round trip."""

from __future__ import annotations

import pytest
from hpc_workflow import Resources, Step, Workflow, WorkflowError
from hpc_workflow.graph import downstream, order

DIAMOND = """
name: diamond
defaults: {partition: debug, account: m1000, time: 10}
steps:
  prepare: {notebook: prepare.ipynb, parameters: {alpha: 0.5, label: first}}
  left: {notebook: left.ipynb, after: [prepare], cpus: 2}
  right: {command: "python right.py", after: [prepare], memory: 500M}
  check: {gate: true, after: [left, right]}
  report: {notebook: report.ipynb, after: [check], partition: interactive}
"""


def test_yaml_loads_and_orders_dependencies_first():
    workflow = Workflow.from_yaml(DIAMOND)
    assert [step.kind for step in workflow.steps] == ["notebook", "notebook", "command", "gate", "notebook"]
    assert order(workflow.after) == ["prepare", "left", "right", "check", "report"]
    assert workflow.resources(workflow.step("report")) == Resources("interactive", "m1000", None, None, 10, None)
    assert workflow.step("prepare").parameters == {"alpha": 0.5, "label": "first"}


def test_python_to_yaml_and_back_is_the_same_workflow():
    built = Workflow(
        "made-in-python",
        (
            Step("a", notebook="a.ipynb", parameters={"n": 3, "values": [1, 2]}),
            Step("gate", gate=True, after=("a",)),
            Step("b", command="echo done", after=("gate",), resources=Resources(cpus=2, time=5)),
        ),
        defaults=Resources(account="m1000"),
    )
    assert Workflow.from_yaml(built.to_yaml()) == built
    assert Workflow.from_yaml(Workflow.from_yaml(DIAMOND).to_yaml()) == Workflow.from_yaml(DIAMOND)


def test_downstream_is_the_steps_and_all_that_depends_on_them():
    workflow = Workflow.from_yaml(DIAMOND)
    assert downstream(workflow.after, {"right"}) == {"right", "check", "report"}
    assert downstream(workflow.after, {"report"}) == {"report"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("  left: {notebook: left.ipynb, after: [prepare, nowhere]}", "step left: after names 'nowhere'"),
        ("  left: {notebook: left.ipynb, after: [report]}", "a cycle: left -> report -> check -> left"),
        ("  left: {notebook: left.ipynb, command: ls}", "step left: exactly one of notebook, command or gate"),
        ("  left: {notebook: left.ipynb, cpu: 2}", "step left: unknown field(s) cpu"),
        ("  left: {notebook: left.ipynb, time: 0}", "step left: time must be a positive integer (minutes)"),
        ("  left: {notebook: left.ipynb, memory: lots}", "step left: memory 'lots' is not Slurm's form"),
        ("  left: {notebook: left.py}", "step left: notebook 'left.py' is not an .ipynb file"),
        ("  left: {command: ls, parameters: {a: 1}}", "step left: parameters are for notebook steps"),
        ("  left: {notebook: left.ipynb, partition: 'de bug'}", "step left: partition 'de bug' is not a Slurm name"),
    ],
)
def test_a_bad_step_is_refused_naming_the_step_and_field(change, message):
    text = DIAMOND.replace("  left: {notebook: left.ipynb, after: [prepare], cpus: 2}", change)
    with pytest.raises(WorkflowError) as refused:
        Workflow.from_yaml(text)
    assert message in str(refused.value)


def test_a_bad_workflow_is_refused():
    with pytest.raises(WorkflowError, match="workflow: name is required"):
        Workflow.from_yaml("steps: {a: {command: ls}}")
    with pytest.raises(WorkflowError, match="not YAML"):
        Workflow.from_yaml("name: [")
    with pytest.raises(WorkflowError, match="step a: two steps have this name"):
        Workflow("w", (Step("a", command="ls"), Step("a", command="ls")))
