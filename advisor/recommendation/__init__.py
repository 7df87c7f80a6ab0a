"""Recommendations: estimate each technique's effect here, rank, explain, and combine into stacks."""

from advisor.recommendation.estimate import Estimate, estimate
from advisor.recommendation.rank import Excluded, Recommendation, Recommendations, recommend
from advisor.recommendation.stacks import Stack, build_stacks

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
