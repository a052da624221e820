"""A realistic synthetic partnership area with its ground truth, for demos, tests and benchmarks.

:func:`synthesise` writes the files the providers would send (the secondary survey as CSV, the
primary survey as SPSS, each authority's extract as a spreadsheet), with realistic problems
planted at chosen rates, the mapping that reads them, the clean tables as Parquet, and the truth:
every pupil's real values and every planted problem. Rates come from :class:`SynthParameters`,
whose defaults are the published figures of the parameter sheet.
"""

from linkwell.synth.evidence import Evidence
from linkwell.synth.mess import MessKind, MessRates
from linkwell.synth.parameters import (
    AuthorityParameters,
    ParameterRow,
    StructureParameters,
    SynthParameters,
    parameter_sheet,
)
from linkwell.synth.provider import FileFormat
from linkwell.synth.survey_parameters import SurveyParameters
from linkwell.synth.synthesise import (
    SourceFile,
    SynthFormats,
    SynthResult,
    TruthFiles,
    load_synthesis,
    synthesise,
)

__all__ = [
    "AuthorityParameters",
    "Evidence",
    "FileFormat",
    "MessKind",
    "MessRates",
    "ParameterRow",
    "SourceFile",
    "StructureParameters",
    "SurveyParameters",
    "SynthFormats",
    "SynthParameters",
    "SynthResult",
    "TruthFiles",
    "load_synthesis",
    "parameter_sheet",
    "synthesise",
]
