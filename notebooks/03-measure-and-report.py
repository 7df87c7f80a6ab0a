# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Measure and report
#
# The same steps as the advisor form, in code: profile, recommend, measure the top techniques on
# this machine, compare with the literature, and write a report you can share. Every energy figure
# says how it was obtained: `measured-nvml` (GPU counters), `measured-rapl` (CPU counters) or
# `estimated-…` when no counter can be read.

# %% tags=["parameters"]
import os

SMALL = os.environ.get("GREEN_ADVISOR_SMALL") == "1"
EPOCHS = 2 if SMALL else 15
BUDGET_S = 15 if SMALL else 60
REGION = os.environ.get("GREEN_ADVISOR_REGION", "FRA")  # where the energy is drawn: sets the CO2e
OUT_DIR = os.environ.get("GREEN_ADVISOR_OUT", "green-advisor-report")

# %%
import advisor
from advisor.examples import digits_model

model, example_inputs, eval_fn = digits_model(epochs=EPOCHS)
profile = advisor.profile_model(model, example_inputs, name="digits-cnn")
hardware = advisor.detect_hardware()
print("\n".join(profile.summary_lines() + hardware.summary_lines()))

# %% [markdown]
# ## Recommend
# Goal: less inference energy, at most 1 percentage point of accuracy, no retraining.

# %%
constraints = advisor.Constraints(phase="inference", objective="energy", max_accuracy_drop_pp=1.0, retraining="none")
from advisor.measurement.appliers import available_ids  # what can be measured here: the group "apply now"

recs = advisor.recommend(profile, hardware, constraints, measurable=available_ids())
recs.table(8)

# %%
print(recs.explain(recs.recommended[0].id))

# %% [markdown]
# ## Measure
# The top measurable recommendations, each applied to a copy of the model and timed against the
# baseline until its confidence interval is narrow or its share of the budget runs out.

# %%
ids = [r.id for r in recs.recommended if r.measurable_here][:4]
run = advisor.measure(model, example_inputs, ids, eval_fn=eval_fn, budget_s=BUDGET_S, region=REGION)
run.table()

# %% [markdown]
# ## Predicted vs measured
# The advisor's hardware-adjusted range for the latency ratio (new / baseline) next to what this
# machine measured; `outside_prediction` flags a disagreement worth a closer look.

# %%
table = run.table()
table[["technique", "speedup", "predicted_latency_ratio", "outside_prediction", "energy_method"]]

# %% [markdown]
# ## Report
# One call writes a self-contained HTML page, Markdown, JSON and the BibTeX of every cited work.

# %%
paths = advisor.report(measurement=run, recommendations=recs, out=OUT_DIR)
for kind, path in paths.items():
    print(f"{kind}: {path}")
