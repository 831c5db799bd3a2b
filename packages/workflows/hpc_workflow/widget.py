"""A workflow run in a notebook (ipywidgets): the DAG drawn with each step's state, a table of state, node,
elapsed time and exit code, a step's log tail, and buttons to approve or reject a gate, cancel, and rerun
what failed. It refreshes itself every few seconds while the run is active; one refresh is one squeue and one
sacct, however many steps."""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as widgets

from hpc_workflow.graph import order
from hpc_workflow.run import Run, StepStatus

COLOURS = {
    "COMPLETED": "#2e7d32", "RUNNING": "#1565c0", "PENDING": "#9e9e9e", "WAITING FOR APPROVAL": "#ef6c00",
    "FAILED": "#c62828", "CANCELLED": "#6d4c41", "TIMEOUT": "#c62828", "NOT SUBMITTED": "#e0e0e0",
}  # fmt: skip
BOX_W, BOX_H, GAP_X, GAP_Y = 150, 44, 60, 18


def layers(run: Run) -> dict[str, int]:
    """Each step's column: the length of the longest chain of dependencies before it."""
    depth: dict[str, int] = {}
    for name in order(run.workflow.after):
        step = run.workflow.step(name)
        depth[name] = 1 + max((depth[dep] for dep in step.after), default=-1)
    return depth


def dag_svg(run: Run, statuses: list[StepStatus]) -> str:
    by_name = {s.name: s for s in statuses}
    depth = layers(run)
    rows: dict[int, int] = {}
    where: dict[str, tuple[int, int]] = {}
    for name, column in depth.items():
        row = rows.get(column, 0)
        rows[column] = row + 1
        where[name] = (10 + column * (BOX_W + GAP_X), 10 + row * (BOX_H + GAP_Y))
    width = 20 + (max(depth.values(), default=0) + 1) * (BOX_W + GAP_X)
    height = 20 + max(rows.values(), default=1) * (BOX_H + GAP_Y)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="hpc-workflow-dag">']
    for step in run.workflow.steps:
        x, y = where[step.name]
        for dep in step.after:
            dx, dy = where[dep]
            parts.append(f'<line x1="{dx + BOX_W}" y1="{dy + BOX_H / 2}" x2="{x}" y2="{y + BOX_H / 2}" '
                         'stroke="#757575" stroke-width="1.5"/>')  # fmt: skip
    for step in run.workflow.steps:
        x, y = where[step.name]
        status = by_name[step.name]
        colour = COLOURS.get(status.state, "#c62828")
        text_colour = "#000" if status.state in ("NOT SUBMITTED",) else "#fff"
        label = html.escape(step.name)
        detail = html.escape(status.state.lower() + (f" · {status.node}" if status.node else ""))
        parts.append(
            f'<g data-step="{label}" data-state="{html.escape(status.state)}">'
            f'<rect x="{x}" y="{y}" rx="6" width="{BOX_W}" height="{BOX_H}" fill="{colour}"/>'
            f'<text x="{x + 8}" y="{y + 18}" fill="{text_colour}" font-size="13" font-weight="bold">{label}</text>'
            f'<text x="{x + 8}" y="{y + 35}" fill="{text_colour}" font-size="11">{detail}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def status_html(statuses: list[StepStatus]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("step", "kind", "job", "state", "node", "elapsed", "exit", "detail"))
    body = "".join(
        f'<tr data-step="{html.escape(s.name)}">' + "".join(
            f"<td>{html.escape(str(v))}</td>"
            for v in (s.name, s.kind, s.job, s.state, s.node, s.elapsed, s.exit_code,
                      s.error or (s.reason if s.state not in ("RUNNING", "COMPLETED") else ""))) + "</tr>"
        for s in statuses
    )  # fmt: skip
    return f'<table class="hpc-workflow-steps"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class Monitor(widgets.VBox):
    """`Monitor(run)` in a notebook cell shows the run and keeps it current."""

    def __init__(self, run: Run, interval_s: float = 5.0, **kwargs: Any) -> None:
        self.run = run
        self.interval_s = interval_s
        self.title_view = widgets.HTML()
        self.dag_view = widgets.HTML()
        self.table_view = widgets.HTML()
        names = [step.name for step in run.workflow.steps]
        self.step_choice = widgets.Dropdown(options=names, description="step")
        self.log_view = widgets.HTML()
        self.message_view = widgets.HTML()
        buttons = []
        for label, action in (("Refresh", self.refresh), ("Approve", self._approve), ("Reject", self._reject),
                              ("Cancel", self._cancel), ("Rerun failed", self._rerun_failed)):  # fmt: skip
            button = widgets.Button(description=label)
            button.on_click(lambda _, act=action: self._act(act))
            buttons.append(button)
        self.action_buttons = buttons
        self.step_choice.observe(lambda _: self._show_log(), names="value")
        controls = widgets.HBox([self.step_choice, *buttons])
        views = [self.title_view, self.dag_view, self.table_view, controls, self.message_view, self.log_view]
        super().__init__(views, **kwargs)
        self._stop = threading.Event()
        self.run_state = ""
        self.refresh()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def refresh(self) -> None:
        statuses = self.run.status()
        state = self.run.state(statuses)
        self.step_statuses = statuses
        self.run_state = state
        self.title_view.value = (f"<b>{html.escape(self.run.workflow.name)}</b>: <span class='hpc-workflow-state'>"
                            f"{state}</span> <code>{html.escape(str(self.run.path))}</code>")  # fmt: skip
        self.dag_view.value = dag_svg(self.run, statuses)
        self.table_view.value = status_html(statuses)
        self._show_log()

    def _show_log(self) -> None:
        tail = self.run.log_tail(str(self.step_choice.value), 15)
        self.log_view.value = f"<pre class='hpc-workflow-log'>{html.escape(tail) or '(no log yet)'}</pre>"

    def _act(self, action: Any) -> None:
        try:
            action()
            self.message_view.value = ""
        except Exception as error:  # shown in the widget, not lost in a callback
            self.message_view.value = f"<span style='color:#c62828'>{html.escape(str(error))}</span>"
        self.refresh()

    def _approve(self) -> None:
        self.run.approve(str(self.step_choice.value))

    def _reject(self) -> None:
        self.run.reject(str(self.step_choice.value))

    def _cancel(self) -> None:
        self.run.cancel({str(self.step_choice.value)})

    def _rerun_failed(self) -> None:
        self.run.rerun(failed=True)

    def _follow(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self.run_state != "RUNNING":  # ended: a button's action (rerun) refreshes, and following resumes
                continue
            try:
                self.refresh()
            except Exception as error:
                failed = html.escape(f"refresh failed: {error}")
                self.message_view.value = f"<span style='color:#c62828'>{failed}</span>"

    def close(self) -> None:
        self._stop.set()
        super().close()
