"""The linker role: opens content and the linkage key, never an identifiers package.

It joins all sources into one row per surveyed child, replaces link IDs with fresh release IDs,
applies the release policy, checks that nothing identifying is left, and reports disclosure risk
and linkage quality (counts only) beside the release.
"""

from linkwell.roles.linker.release import (
    ContentFile,
    JoinCounts,
    check_rows_counted,
    join_release,
)
from linkwell.roles.linker.reports import disclosure_risk, linkage_quality
from linkwell.roles.linker.steps import (
    ReleaseResult,
    release,
)

__all__ = [
    "ContentFile",
    "JoinCounts",
    "ReleaseResult",
    "check_rows_counted",
    "disclosure_risk",
    "join_release",
    "linkage_quality",
    "release",
]
