"""Ansible's linear strategy, run through Mitogen when it is installed (tools/requirements.txt has it).

Mitogen keeps one Python interpreter per host for the whole run and sends it each module, where stock
Ansible starts a new interpreter, unpacks the module and imports its utilities for every task on every
host. On the local test cluster (6 hosts, 2 cores) that was about 0.3 CPU-s per task and host, and a
`make up` after `make down` took 92 s; with Mitogen it takes 40 s (docs/performance.md). ansible.cfg
selects this strategy; without Mitogen, this is Ansible's own linear strategy, with a warning.
"""

from __future__ import annotations

from ansible.utils.display import Display

try:
    from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule
except ImportError:
    from ansible.plugins.strategy.linear import StrategyModule

    Display().warning(
        "Mitogen is not installed: running Ansible's linear strategy (slower). "
        "`pip install -r tools/requirements.txt` installs it."
    )

__all__ = ["StrategyModule"]
