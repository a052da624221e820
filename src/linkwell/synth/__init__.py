"""A realistic synthetic partnership area with its ground truth, for demos, tests and benchmarks.

Rates come from :class:`SynthParameters`, whose defaults are the published figures of the
parameter sheet, each tagged with its evidence.
"""

from linkwell.synth.evidence import Evidence
from linkwell.synth.parameters import (
    AuthorityParameters,
    ParameterRow,
    StructureParameters,
    SynthParameters,
    parameter_sheet,
)
from linkwell.synth.survey_parameters import SurveyParameters

__all__ = [
    "AuthorityParameters",
    "Evidence",
    "ParameterRow",
    "StructureParameters",
    "SurveyParameters",
    "SynthParameters",
    "parameter_sheet",
]
