# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Explore the literature
#
# The catalog places every technique on the axes of three surveys: Xu et al. 2021 (compact
# networks, efficient training, efficient inference, efficient data usage), Mehlin et al. 2023
# (lifecycle stages) and Lee et al. 2021 (model, arithmetic and implementation levels). Each
# quantitative claim carries its unit, its baseline and setting, and a locator in its source.
#
# The explorer below filters, searches and sorts the techniques and shows each one's evidence,
# references and neighbourhood; the cells after it ask the same questions in pandas.

# %%
import advisor
from advisor.ui import explorer

catalog = advisor.load_catalog()
print(catalog)
ex = explorer(catalog)
ex

# %% [markdown]
# ## The same data in pandas
# One row per technique; survey placements, applicability and evidence counts are columns.

# %%
frame = catalog.to_frame()
frame.head()

# %% [markdown]
# ## Where the surveys meet: lifecycle stage (Mehlin) x level (Lee)

# %%
from advisor.catalog.surveys import crosswalk, survey_tree_text

crosswalk(catalog, "mehlin2023", "lee2021")

# %%
print(survey_tree_text(catalog, "xu2021"))

# %% [markdown]
# ## What the papers report
# Every quantitative claim, with unit and source. Here: whole-model energy changes reported in
# percent (only figures in the same unit are sorted together).

# %%
evidence = catalog.evidence_frame()
energy = evidence.query("metric == 'energy' and scope == 'end-to-end' and unit == 'percent'")
energy[["technique", "direction", "value", "low", "high", "baseline", "setting", "reference", "locator"]].sort_values(
    "value", ascending=False, na_position="last"
).head(15)

# %% [markdown]
# ## A technique's neighbourhood
# Typed relations (requires, complements, conflicts-with, alternative-to, specializes) form a graph.

# %%
from advisor.catalog.graph import neighbourhood

graph = catalog.graph()
neighbourhood(graph, "post-training-dynamic-quantization")

# %% [markdown]
# ## Where the literature is thin

# %%
from advisor.catalog.gaps import coverage_gaps

print(coverage_gaps(catalog).to_text())
