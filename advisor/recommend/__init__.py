"""Recommendations: estimate each technique's effect here, rank, explain, and combine into stacks."""

from advisor.recommend.estimate import Estimate, estimate
from advisor.recommend.rank import Excluded, Recommendation, Recommendations, recommend
from advisor.recommend.stacks import Stack, build_stacks

__all__ = [
    "Estimate",
    "Excluded",
    "Recommendation",
    "Recommendations",
    "Stack",
    "build_stacks",
    "estimate",
    "recommend",
]
