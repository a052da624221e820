"""A package's public names imported on first use (PEP 562's module ``__getattr__``).

A package that lists its public names eagerly makes every import of any of its modules import
all of them: a worker process of the disclosure audit, which needs one module, would load the
statistics, the database engine and the report's readers besides (1.5 s and 180 MB more per
worker). The package names each public name's module here instead; type checkers read the
same names from imports under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

__all__ = ["on_first_use"]


def on_first_use(package: str, modules: Mapping[str, str]) -> Callable[[str], object]:
    """The ``__getattr__`` of ``package``: each name in ``modules`` from its module, once."""

    def __getattr__(name: str) -> object:  # noqa: N807 - the hook's name is PEP 562's
        module = modules.get(name)
        if module is None:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
