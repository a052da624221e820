"""What importing one module loads, seen from a fresh interpreter (for start-up cost checks)."""

from __future__ import annotations

import subprocess
import sys


def modules_loaded_by(module: str) -> list[str]:
    """Every module a fresh interpreter holds after ``import module``, sorted."""
    command = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    return subprocess.run(
        [sys.executable, "-c", command], capture_output=True, text=True, check=True
    ).stdout.split()
