"""Need measures, coverage tables and disclosure control over a linkwell release."""

from linkwell.analysis.needs import NEED_REGISTRY, NeedMeasure
from linkwell.analysis.services import SERVICE_REGISTRY, ServiceMeasure, ServiceScope

__all__ = ["NEED_REGISTRY", "SERVICE_REGISTRY", "NeedMeasure", "ServiceMeasure", "ServiceScope"]
