"""The steps as a graph, given as each step's dependencies ({name: names it runs after}, in the definition's
order): an order to submit them in (dependencies first), a cycle named when there is one, and the steps downstream
of a set (what a partial run or a rerun submits). It knows nothing of a workflow's other fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class CycleError(ValueError):
    """The steps depend on each other in a circle; `cycle` names them in order (a, b, a)."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__(" -> ".join(cycle))
        self.cycle = cycle


def order(after: Mapping[str, Sequence[str]]) -> list[str]:
    """Step names, each after all it depends on, otherwise in the given order; CycleError on a cycle."""
    done: list[str] = []
    state: dict[str, str] = {}  # "visiting" | "done"

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise CycleError([*path[path.index(name) :], name])
        state[name] = "visiting"
        for dependency in after[name]:
            visit(dependency, [*path, name])
        state[name] = "done"
        done.append(name)

    for name in after:
        visit(name, [])
    return done


def downstream(after: Mapping[str, Sequence[str]], names: set[str]) -> set[str]:
    """`names` and every step that depends on one of them, directly or not."""
    dependants: dict[str, set[str]] = {name: set() for name in after}
    for name, dependencies in after.items():
        for dependency in dependencies:
            dependants[dependency].add(name)
    found, todo = set(names), list(names)
    while todo:
        for dependant in dependants[todo.pop()]:
            if dependant not in found:
                found.add(dependant)
                todo.append(dependant)
    return found
