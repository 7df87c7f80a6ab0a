"""Recommendations: estimate each technique's effect here, rank, explain, group, and combine into stacks.

``recommend`` imports neither the measurement engine nor the appliers: callers pass the ids they can
measure here (``measurable``) and this machine's measurements (``knowledge``, :class:`Observation` records).
"""

from advisor.recommendation._context import evidence_weight, hardware_class_of
from advisor.recommendation._groups import GROUP_TITLES, GROUPS, Group, group_of, parent_of
from advisor.recommendation._knowledge import Observation, base_technique, similarity
from advisor.recommendation.estimate import Estimate, estimate
from advisor.recommendation.rank import Excluded, Recommendation, Recommendations, measurable_ids, recommend
from advisor.recommendation.stacks import Stack, build_stacks

__all__ = [
    "GROUPS",
    "GROUP_TITLES",
    "Estimate",
    "Excluded",
    "Group",
    "Observation",
    "Recommendation",
    "Recommendations",
    "Stack",
    "base_technique",
    "build_stacks",
    "estimate",
    "evidence_weight",
    "group_of",
    "hardware_class_of",
    "measurable_ids",
    "parent_of",
    "recommend",
    "similarity",
]
