"""Fixtures the command-line tests share with the tests of the areas they drive."""

from tests.seal.conftest import world
from tests.transport.conftest import server_root

__all__ = ["server_root", "world"]
