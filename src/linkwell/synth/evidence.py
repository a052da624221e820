"""The evidence tags of the parameter sheet, attached to parameters as annotation metadata.

A parameter annotated ``Annotated[float, Evidence.PUBLISHED]`` says where its default comes from;
:func:`linkwell.synth.parameters.parameter_sheet` reads the tags back so every value can be
traced and corrected.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Evidence"]


class Evidence(StrEnum):
    """How well a parameter is founded: the tags of ``synth-parameters.md``."""

    PUBLISHED = "S"
    """From a named published source."""
    ESTIMATE = "E"
    """Estimated from published totals."""
    APPROXIMATE = "A"
    """Approximate, not checked against a source: a starting point to correct."""
