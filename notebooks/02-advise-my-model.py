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
# # Advise my model
#
# Which techniques will make *this* model cheaper to run on *this* machine, why, and what do they
# really save here? This notebook builds a model (a small CNN trained on scikit-learn's digits;
# replace it with yours), opens the advisor form and lets you:
#
# 1. check the profile read off the model and the hardware detected on this machine,
# 2. set your goal and limits, then **Recommend**: a ranking with the literature's evidence, the
#    warnings for this machine and every exclusion with its reason,
# 3. **Measure** the techniques you pick against the baseline (latency, energy with its method,
#    CO2e for the region you give, accuracy), with the literature's prediction beside each figure,
# 4. **Export** the report (HTML, Markdown, JSON, BibTeX).
#
# The same notebook is a web app: `voila notebooks/02-advise-my-model.ipynb`.

# %% tags=["parameters"]
import os

# A small run for tests and CI: fewer training epochs. Set GREEN_ADVISOR_SMALL=1 to use it.
SMALL = os.environ.get("GREEN_ADVISOR_SMALL") == "1"
EPOCHS = 2 if SMALL else 15
OUT_DIR = os.environ.get("GREEN_ADVISOR_OUT", "green-advisor-report")

# %% [markdown]
# ## Your model
# Any `torch.nn.Module` with a batch of example inputs works; `eval_fn(model) -> accuracy in %` is
# optional (without it, measurements report fidelity to the original outputs).

# %%
from advisor.examples import digits_model

model, example_inputs, eval_fn = digits_model(epochs=EPOCHS)
print(f"digits CNN: test accuracy {eval_fn(model):.1f} %")

# %% [markdown]
# ## The advisor

# %%
from advisor.ui import advise

ui = advise(model, example_inputs, eval_fn=eval_fn, name="digits-cnn", out_dir=OUT_DIR)
ui
