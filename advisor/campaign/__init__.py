"""Measurement campaigns: every model on every node type, on Ray or locally, into one store.

::

    from advisor.campaign import run_campaign, resume_campaign
    result = run_campaign("campaign.yaml")                 # locally, cell by cell
    result = run_campaign("campaign.yaml", ray="local")    # a Ray cluster on this machine
    result = run_campaign("campaign.yaml", ray="head:6379")  # a running cluster

A cell is (model, node group, batch size). On Ray each cell is one task, pinned to its group's
resources and to the one measuring slot each node offers, so measurements never compete for the
hardware they measure; the driver writes each result to the SQLite store as it arrives.
"""

from advisor.campaign._cell import node_hardware, run_cell
from advisor.campaign._driver import CampaignResult, resume_campaign, run_campaign
from advisor.campaign._ledger import Ledger
from advisor.campaign._plan import Cell, ModelEntry, NodeGroup, Plan, load_plan
from advisor.campaign._runners import SLOT

__all__ = [
    "SLOT",
    "CampaignResult",
    "Cell",
    "Ledger",
    "ModelEntry",
    "NodeGroup",
    "Plan",
    "load_plan",
    "node_hardware",
    "resume_campaign",
    "run_campaign",
    "run_cell",
]
