"""The command-line tests use the seal tests' parties and identities."""

from tests.seal.conftest import world

__all__ = ["world"]
