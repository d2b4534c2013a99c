# %% [markdown]
# # NN. Chapter title
#
# [![Open In Colab](../book/_static/colab-badge.svg)](https://colab.research.google.com/github/reps4lhc/reps4lhc/blob/main/notebooks/chapter_template.ipynb)
#
# One or two sentences on what this notebook does and which lecture page it accompanies
# ([the lecture](../book/NN_topic.md)).
#
# **Learning goals.** After this notebook you can
# - state the idea of the chapter in one line,
# - train a small network on it and read its loss curve,
# - check a result against the number the lecture quotes.
#
# *For authors:* copy this file to `notebooks/NN_topic.py`, replace the placeholder data and model, then run
# `reps4lhc links` (fixes the badge and the install line) and `reps4lhc notebooks run NN` (writes the
# `.ipynb`). See CONTRIBUTING.md.

# %% tags=["colab-install", "hide-cell"]
# On Colab, install the course package (Colab's own PyTorch is kept); elsewhere use the course environment.
import sys

if "google.colab" in sys.modules:
    # %pip install --quiet "reps4lhc_tutor[colab] @ git+https://github.com/reps4lhc/reps4lhc@main"
    print("reps4lhc_tutor installed; on a CPU runtime choose Runtime > Change runtime type > GPU.")

# %% [markdown]
# ## Setup
#
# `tutor.setup` seeds every random generator and prints the profile (the size of this run), the device and
# the versions that produced the outputs below.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

import reps4lhc_tutor as tutor

cfg = tutor.setup(seed=1)

# %% [markdown]
# ## Data
#
# Every size is chosen in plain sight for the three profiles: `ci` (a quick check on two CPU cores),
# `cpu` (a laptop or Colab without a GPU) and `gpu` (full size on a GPU).
#
# *Placeholder:* a straight line with Gaussian noise. A chapter loads real physics data here.

# %%
n_train = tutor.pick(ci=2_000, cpu=20_000, gpu=200_000)
n_val = n_train // 4
true_slope, true_intercept, noise = 2.0, 1.0, 0.1

generator = torch.Generator().manual_seed(cfg.seed)
x = torch.rand(n_train + n_val, 1, generator=generator)
y = true_slope * x + true_intercept + noise * torch.randn(n_train + n_val, 1, generator=generator)
train, val = (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])
print(f"{n_train} training and {n_val} validation points")

# %% [markdown]
# ## 1. A first section
#
# Each section shows the idea in its own cells (here the loss, written out), then may call the tested
# package version (`tutor.fit` runs batches, progress bar, validation and early stopping).


# %%
def mse_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error of a batch: x and y have shape (batch, 1)."""
    return ((model(x) - y) ** 2).mean()


model = nn.Linear(1, 1)
epochs = tutor.pick(ci=15, cpu=30, gpu=30)
history = tutor.fit(model, mse_loss, train, val, epochs=epochs, batch_size=256, lr=0.05, device=cfg.device)

# %% [markdown]
# End plotting cells with `plt.show()`, so they print no `<matplotlib...>` text that changes from run to run.

# %%
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(history.train_loss, label="training")
ax.plot(history.val_loss, label="validation")
ax.set(xlabel="epoch", ylabel="mean squared error", yscale="log")
ax.legend()
plt.show()

# %% [markdown]
# A cell whose output is deterministic and the same at every profile can be compared by nbval: mark it with
# `# NBVAL_CHECK_OUTPUT`. Here, the least-squares line through three exact points.

# %%
# NBVAL_CHECK_OUTPUT
slope, intercept = np.polyfit([0.0, 1.0, 2.0], [1.0, 3.0, 5.0], deg=1)
print(f"slope {slope:.6f}, intercept {intercept:.6f}")

# %% [markdown]
# ## Results
#
# The headline numbers, each checked against its band for the active profile with `tutor.expect` (in CI a
# regression fails the notebook; in a student's session a miss warns), next to the reference value the
# lecture quotes.

# %%
# With validation data, tutor.fit ends with the weights of the best epoch.
fitted_slope, val_mse = model.weight.item(), history.val_loss[history.best_epoch]
# Where the bands come from. ci and cpu: measured in recorded runs at those profiles (name them: seeds,
# device, date). gpu: targets (tutor.target) until a gpu run measures them.
tutor.expect("slope", fitted_slope, ci=(1.8, 2.2), cpu=(1.95, 2.05), gpu=tutor.target(1.98, 2.02))
tutor.expect("validation MSE", val_mse, ci=(0.005, 0.03), cpu=(0.009, 0.011), gpu=tutor.target(0.0095, 0.0105))

print(f"{'quantity':<16} {'this run':>10} {'reference':>10}")
for name, value, reference in [("slope", fitted_slope, true_slope), ("validation MSE", val_mse, noise**2)]:
    print(f"{name:<16} {value:>10.4f} {reference:>10.4f}")

# %% [markdown]
# ## Exercises
#
# ### Exercise 1: residuals
#
# Compute `residuals`, the tensor of differences `y - model(x)` on the validation set (shape `(n_val, 1)`),
# without tracking gradients.

# %% tags=["solution", "hide-input"]
# Hint: torch.no_grad() switches off gradient tracking; the validation set is the tuple `val`.
with torch.no_grad():
    residuals = val[1] - model(val[0].to(cfg.device)).cpu()

# %% tags=["check"]
assert residuals.shape == (n_val, 1), f"residuals should have shape ({n_val}, 1), not {tuple(residuals.shape)}"
mean_square = float((residuals**2).mean())
assert abs(mean_square - val_mse) < 1e-4, f"mean squared residual {mean_square:.5f} != validation loss {val_mse:.5f}"
print("Exercise 1: correct")

# %% [markdown]
# ### Exercise 2: the closed form
#
# A straight line has a least-squares solution in closed form. Compute `ls_slope`, the slope
# $\mathrm{cov}(x, y) / \mathrm{var}(x)$ on the training set, as a Python float.

# %% tags=["solution", "hide-input"]
# Hint: centre x and y first; then the slope is a ratio of two means.
x_centred, y_centred = train[0] - train[0].mean(), train[1] - train[1].mean()
ls_slope = float((x_centred * y_centred).mean() / (x_centred**2).mean())

# %% tags=["check"]
assert isinstance(ls_slope, float), "ls_slope should be a Python float (use float(...))"
assert abs(ls_slope - fitted_slope) < 0.05, f"closed form {ls_slope:.3f} should be close to the fit {fitted_slope:.3f}"
print("Exercise 2: correct")
