"""slurm_conf_change: what a change of slurm.conf needs, `scontrol reconfigure` or restarting the daemons.

`{{ before | slurm_conf_change(after) }}` with both files' text: "none" when they say the same (comments and blank
lines aside), "reconfigure" when every difference is in a partition's line or in a parameter Slurm reads again on
`scontrol reconfigure` (RECONFIGURABLE, from slurm.conf(5) of Slurm 22.05), "restart" otherwise: a node's line
(adding, removing or reshaping a node needs slurmctld and slurmd restarted in 22.05), a plugin, a port, a path,
anything not known to be safe. A first write (no file before) is "restart": the daemons start with it anyway.
"""

from __future__ import annotations

from typing import Any

# Parameters slurmctld and slurmd take from `scontrol reconfigure`; when unsure, a parameter is not here.
RECONFIGURABLE = frozenset({
    "AccountingStorageEnforce", "BatchStartTimeout", "CompleteWait", "DebugFlags", "DefCpuPerGPU", "DefMemPerCPU",
    "DefMemPerGPU", "DefMemPerNode", "Epilog", "EpilogMsgTime", "HealthCheckInterval", "HealthCheckNodeState",
    "HealthCheckProgram", "InactiveLimit", "KillOnBadExit", "KillWait", "MaxArraySize", "MaxMemPerCPU",
    "MaxMemPerNode", "MaxStepCount", "MaxTasksPerNode", "MessageTimeout", "MinJobAge", "OverTimeLimit",
    "PriorityDecayHalfLife", "PriorityFavorSmall", "PriorityMaxAge", "PriorityUsageResetPeriod", "PriorityWeightAge",
    "PriorityWeightAssoc", "PriorityWeightFairshare", "PriorityWeightJobSize", "PriorityWeightPartition",
    "PriorityWeightQOS", "PriorityWeightTRES", "Prolog", "PrologEpilogTimeout", "ResumeTimeout", "ReturnToService",
    "SchedulerParameters", "SlurmctldDebug", "SlurmctldTimeout", "SlurmdDebug", "SlurmdTimeout", "SuspendTime",
    "TaskProlog", "TaskEpilog", "TCPTimeout", "UnkillableStepTimeout", "WaitTime",
})  # fmt: skip


def entries(text: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(parameters, node lines by node name, partition lines by partition name) of a slurm.conf's text."""
    parameters: dict[str, str] = {}
    nodes: dict[str, str] = {}
    partitions: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if key == "NodeName":
            nodes[value.split()[0]] = line
        elif key == "PartitionName":
            partitions[value.split()[0]] = line
        else:
            parameters[key] = value
    return parameters, nodes, partitions


def slurm_conf_change(before: Any, after: Any) -> str:
    if not before:
        return "restart"
    old, new = entries(str(before)), entries(str(after))
    if old == new:
        return "none"
    parameters = {key for key in old[0].keys() | new[0].keys() if old[0].get(key) != new[0].get(key)}
    if old[1] != new[1] or parameters - RECONFIGURABLE:
        return "restart"
    return "reconfigure"


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"slurm_conf_change": slurm_conf_change}
