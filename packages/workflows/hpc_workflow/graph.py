"""The steps as a graph: an order to submit them in (dependencies first), a cycle named when there is one,
and the steps downstream of a set (what a partial run or a rerun submits)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hpc_workflow.spec import Workflow


def order(workflow: Workflow) -> list[str]:
    """Step names, each after all it depends on, otherwise in the definition's order; a cycle is an error that
    names its steps in order (a -> b -> a)."""
    from hpc_workflow.spec import WorkflowError

    after = {step.name: list(step.after) for step in workflow.steps}
    done: list[str] = []
    state: dict[str, str] = {}  # "visiting" | "done"

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = [*path[path.index(name) :], name]
            raise WorkflowError(f"workflow {workflow.name}: a cycle: {' -> '.join(cycle)}")
        state[name] = "visiting"
        for dependency in after[name]:
            visit(dependency, [*path, name])
        state[name] = "done"
        done.append(name)

    for step in workflow.steps:
        visit(step.name, [])
    return done


def downstream(workflow: Workflow, names: set[str]) -> set[str]:
    """`names` and every step that depends on one of them, directly or not."""
    dependants: dict[str, set[str]] = {step.name: set() for step in workflow.steps}
    for step in workflow.steps:
        for dependency in step.after:
            dependants[dependency].add(step.name)
    found, todo = set(names), list(names)
    while todo:
        for dependant in dependants[todo.pop()]:
            if dependant not in found:
                found.add(dependant)
                todo.append(dependant)
    return found
