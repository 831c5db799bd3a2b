"""Our scripts and Ansible modules imported as modules, for tests of their functions: files with or without a .py
name (images/proxy/install-from-lock, roles/*/library/*.py, docs/_ext/*.py)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_script(path: Path, name: str) -> ModuleType:
    """The file at `path` executed as module `name`, registered in sys.modules (dataclasses look their module up)."""
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    assert spec
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
