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
# # 01. Likelihood training
#
# [![Open In Colab](../book/_static/colab-badge.svg)](https://colab.research.google.com/github/reps4lhc/reps4lhc/blob/main/notebooks/01_likelihood_training.ipynb)
#
# A regression network is a fit, and the loss we minimise is a negative log-likelihood. This notebook makes
# that concrete on exact tree-level squared amplitudes of $gg \to ggg$: the same network is trained on three
# representations of the target, with two losses and two learning-rate schedules, then on data with known
# artificial noise, where it has to learn the size of that noise, and finally on $gg \to gggg$. It
# accompanies the [lecture](../book/01_likelihood_training.md), which derives the losses.
#
# **Learning goals.** After this notebook you can
# - write the mean-squared error and the heteroscedastic Gaussian likelihood as training losses,
# - explain why the logarithm of a target spanning orders of magnitude is the better thing to regress, and
#   what standardisation and a learning-rate schedule add,
# - measure a regression's accuracy with $\Delta = (A_\mathrm{NN} - A_\mathrm{true})/A_\mathrm{true}$, in its
#   core and its tails and over phase space,
# - check that a learned $\sigma_\theta(x)$ measures the noise in the data, not the network's own error.

# %% tags=["colab-install", "hide-cell"]
# On Colab, install the course package (Colab's own PyTorch is kept); elsewhere use the course environment.
import sys

if "google.colab" in sys.modules:
    # %pip install --quiet "reps4lhc_tutor[colab] @ git+https://github.com/reps4lhc/reps4lhc@main"
    print("reps4lhc_tutor installed; choose a GPU runtime (Runtime > Change runtime type) for the full run.")

# %% [markdown]
# ## Setup
#
# `tutor.setup` seeds every random generator and prints the profile (the size of this run), the device and
# the versions that produced the outputs below.

# %%
import time
from itertools import combinations

import matplotlib.pyplot as plt
import numpy as np
import torch

import reps4lhc_tutor as tutor
from reps4lhc_tutor.data import load_amplitudes
from reps4lhc_tutor.nn import MLP, GaussianRegressor
from reps4lhc_tutor.physics import lorentz
from reps4lhc_tutor.physics.noise import GaussianNoise
from reps4lhc_tutor.preprocessing import LogStandardScaler, StandardScaler

cfg = tutor.setup(seed=0)
tutor.plotting.use_style()

# %% [markdown]
# ## 1. The data: exact $gg \to ggg$ amplitudes
#
# Each event is a point in the phase space of three outgoing gluons at $\sqrt{s} = 1$ TeV, generated
# uniformly (RAMBO) with $p_T > 20$ GeV and $\Delta R > 0.4$ between the gluons, and its target is the exact
# squared matrix element $|\mathcal{M}|^2$ summed over colours and helicities. `load_amplitudes` computes
# them (on the GPU when there is one) and caches them on disk. The sizes of this run are set here for the
# three profiles.

# %%
n_events = tutor.pick(ci=20_000, cpu=100_000, gpu=200_000)
hidden = tutor.pick(ci=(64, 64, 64), cpu=(128, 128, 128), gpu=(256, 256, 256))
epochs = tutor.pick(ci=80, cpu=100, gpu=60)
batch_size = tutor.pick(ci=128, cpu=256, gpu=512)
learning_rate = tutor.pick(ci=5e-3, cpu=3e-3, gpu=2e-3)  # the start of the cosine schedule

data = load_amplitudes("gg->ggg", n_events=n_events, split=(0.8, 0.1, 0.1), device=cfg.device)
print({name: count for name, count in data.metadata["split"].items()}, "events")
print(f"|M|^2 spans {data.exact.min():.3g} to {data.exact.max():.3g} GeV^-2")

# %% [markdown]
# The exact values do not depend on the profile: a small dataset with the same seed gives the same first
# events whatever the size of the run.

# %%
# NBVAL_CHECK_OUTPUT
reference = load_amplitudes("gg->ggg", n_events=1_000, split=(0.8, 0.1, 0.1), progress=False)
print("first three |M|^2 [GeV^-2]:", ", ".join(f"{value:.6g}" for value in reference.exact[:3]))
print("split of 1000 events:", reference.metadata["split"])

# %% [markdown]
# The inputs are the four-momenta of the outgoing gluons, flattened to $4 n_g$ numbers and standardised
# feature by feature. The incoming gluons carry no information: in the centre-of-mass frame they are fixed.


# %%
def inputs(momenta: np.ndarray) -> np.ndarray:
    """Outgoing-gluon momenta ``(events, 2 + n_g, 4)`` flattened to ``(events, 4 n_g)``."""
    return momenta[:, 2:, :].reshape(len(momenta), -1)


x_scaler = StandardScaler().fit(inputs(data.train[0]))


def tensors(split, target_scaler, input_scaler=x_scaler) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, z)`` float32 tensors ``(events, 4 n_g)`` and ``(events,)`` of one split, on the device."""
    x = input_scaler.transform(inputs(split[0]))
    z = target_scaler.transform(split[1])
    as_tensor = lambda values: torch.as_tensor(values, dtype=torch.float32, device=cfg.device)  # noqa: E731
    return as_tensor(x), as_tensor(z)


# %% [markdown]
# ## 2. Preprocessing the target
#
# The amplitude spans many orders of magnitude. We compare three representations of the same target, each
# trained with the same network, loss and optimiser:
#
# - **$A$**, only rescaled to unit variance: a linear map changes nothing about its shape;
# - **$\log A$**: the logarithm, as it comes;
# - **$\log A$, standardised**: the logarithm shifted to mean zero and scaled to unit variance.
#
# Every representation needs an exact inverse, since $\Delta$ is measured on $A$ itself. The log-only one is
# two lines; the other two are in the package.


# %%
class LogScaler:
    """``z = log A`` and back; no shift or scale."""

    def transform(self, amplitudes: np.ndarray) -> np.ndarray:
        return np.log(amplitudes)

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        return np.exp(z)


target_scalers = {
    "A": StandardScaler().fit(data.train[1]),
    "log A": LogScaler(),
    "log A, standardised": LogStandardScaler().fit(data.train[1]),
}
fig, axes = plt.subplots(1, 3, figsize=(14, 3.5))
for ax, (name, scaler) in zip(axes, target_scalers.items(), strict=True):
    ax.hist(scaler.transform(data.train[1]), bins=100, histtype="step")
    ax.set(xlabel="training target", ylabel="events", title=name)
axes[0].set_yscale("log")
fig.tight_layout()
plt.show()

# %% [markdown]
# The rescaled $A$ is a spike near zero with a long tail of collinear and soft configurations (note the log
# axis); $\log A$ is compact but sits far from zero; standardised, it is what a network initialised for
# inputs and outputs of order one expects.
#
# We train with the mean-squared error, which is the Gaussian negative log-likelihood for a constant width
# (lecture, eq. for $\mathcal{L}_\mathrm{MSE}$). On $\log A$ it is a likelihood for a *relative* error of
# constant size, which is what $\Delta$ measures. `tutor.fit` calls `loss_fn(model, *batch)` on each batch;
# the recipe is Adam with a cosine learning-rate schedule.


# %%
def mse_loss(model: MLP, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return ((model(x).squeeze(-1) - z) ** 2).mean()


def train(
    model,
    loss_fn,
    target_scaler,
    desc,
    split_data=data,
    input_scaler=x_scaler,
    schedule="cosine",
    n_epochs=epochs,
):
    """Adam with a cosine (or constant) learning rate over ``n_epochs``; the same recipe for every model."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_epochs)
    start = time.perf_counter()
    history = tutor.fit(
        model,
        loss_fn,
        tensors(split_data.train, target_scaler, input_scaler),
        tensors(split_data.val, target_scaler, input_scaler),
        epochs=n_epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        scheduler=scheduler if schedule == "cosine" else None,
        device=cfg.device,
        desc=desc,
    )
    print(f"{desc}: {time.perf_counter() - start:.0f} s, best validation loss {min(history.val_loss):.4g}")
    return history


n_inputs = 12
models, histories, scaler_of = {}, {}, {}
for name, scaler in target_scalers.items():
    models[name] = MLP(n_inputs, 1, hidden=hidden)
    histories[name] = train(models[name], mse_loss, scaler, desc=f"MSE on {name}")
    scaler_of[name] = scaler

# %% [markdown]
# ## 3. Learning the width too: the heteroscedastic loss
#
# When the width $\sigma$ is unknown and may depend on $x$, the network predicts it as well, and the
# negative log-likelihood keeps the $\log\sigma$ term that stops $\sigma$ from growing without bound:
#
# $$
# \mathcal{L}_\mathrm{het} = \frac{1}{N}\sum_i \left[\frac{\big(z_i - \mu_\theta(x_i)\big)^2}{2\sigma_\theta(x_i)^2}
# + \log\sigma_\theta(x_i)\right].
# $$
#
# `GaussianRegressor` returns a `torch.distributions.Normal`, so the loss reads like the formula.


# %%
def heteroscedastic_loss(model: GaussianRegressor, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    prediction = model(x)  # a torch.distributions.Normal with .mean and .stddev of shape (batch,)
    pull = (z - prediction.mean) / prediction.stddev
    return (0.5 * pull**2 + torch.log(prediction.stddev)).mean()


standardised = target_scalers["log A, standardised"]
models["heteroscedastic"] = GaussianRegressor(n_inputs, hidden=hidden)
histories["heteroscedastic"] = train(
    models["heteroscedastic"], heteroscedastic_loss, standardised, "heteroscedastic"
)
scaler_of["heteroscedastic"] = standardised

# %% [markdown]
# ## 4. The learning-rate schedule
#
# Adam's step size sets the noise floor of stochastic training: with a constant rate the weights keep
# jumping around the minimum by an amount set by that rate. A schedule that lowers it towards the end lets
# them settle. Same network, same standardised $\log A$, constant rate instead of the cosine decay:

# %%
models["constant learning rate"] = MLP(n_inputs, 1, hidden=hidden)
histories["constant learning rate"] = train(
    models["constant learning rate"], mse_loss, standardised, "constant learning rate", schedule="constant"
)
scaler_of["constant learning rate"] = standardised

fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
for name in ("A", "log A", "log A, standardised"):
    axes[0].plot(histories[name].val_loss, label=name)
axes[0].set(xlabel="epoch", ylabel="validation MSE (own units)", yscale="log", title="preprocessing")
axes[0].legend()
tutor.plotting.plot_history(histories["heteroscedastic"], ax=axes[1])
axes[1].set_title("heteroscedastic loss")
for name in ("log A, standardised", "constant learning rate"):
    label = "cosine schedule" if name == "log A, standardised" else name
    axes[2].plot(histories[name].val_loss, label=label)
axes[2].set(xlabel="epoch", ylabel="validation MSE", yscale="log", title="learning-rate schedule")
axes[2].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# The three MSE curves of the left panel are in different units and cannot be compared with each other;
# $\Delta$ below can. The heteroscedastic loss goes negative, because $\log\sigma < 0$ once the network is
# accurate, hence its linear axis. With the cosine schedule the validation loss keeps falling as the rate
# decays, while at a constant rate it stalls at a noisy plateau.
#
# ## 5. Accuracy: $\Delta$ in the core, in the tails and over phase space
#
# On the test set we convert each prediction back to an amplitude and compute
# $\Delta = (A_\mathrm{NN} - A_\mathrm{true}) / A_\mathrm{true}$. The *core width* is half the central 68 %
# interval of $\Delta$; the *tail* is the fraction of events with $|\Delta| > 10\,\%$.


# %%
@torch.no_grad()
def predict(model, target_scaler, split, input_scaler=x_scaler) -> np.ndarray:
    """Predicted amplitudes ``(events,)`` of one model on one split, in GeV^-2."""
    output = model.eval()(tensors(split, target_scaler, input_scaler)[0])
    z = output.mean if isinstance(output, torch.distributions.Distribution) else output.squeeze(-1)
    return target_scaler.inverse_transform(z.cpu().double().numpy())


def core_width(delta: np.ndarray) -> float:
    lo, hi = np.quantile(delta, [0.16, 0.84])
    return float((hi - lo) / 2)


deltas = {
    name: predict(model, scaler_of[name], data.test) / data.test[1] - 1 for name, model in models.items()
}
print(f"| {'setup':<24} | {'core width of Delta':>19} | {'median Delta':>12} | {'|Delta| > 10 %':>14} |")
print(f"| {'-' * 24} | {'-' * 19} | {'-' * 12} | {'-' * 14} |")
for name, delta in deltas.items():
    tail = np.mean(np.abs(delta) > 0.1)
    print(f"| {name:<24} | {core_width(delta):>19.4f} | {np.median(delta):>12.4f} | {tail:>14.4f} |")

# %%
fig, ax = plt.subplots(figsize=(7, 4))
bins = np.linspace(-0.3, 0.3, 121)
for name, delta in deltas.items():
    ax.hist(np.clip(delta, bins[0], bins[-1]), bins=bins, histtype="step", label=name)
ax.set(
    xlabel=r"$\Delta = (A_\mathrm{NN} - A_\mathrm{true}) / A_\mathrm{true}$",
    ylabel="test events",
    yscale="log",
)
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# Regressing $\log A$ turns the loss into a relative error; the rescaled raw target gives a broad core and a
# heavy tail of events that the network gets wrong by factors (the events piled up in the outermost bins
# are the overflow). Whether the logarithm is also standardised hardly matters here: Adam scales every
# step by the typical size of its gradient, so the offset of the target costs the last layer only a few
# epochs. The schedule matters more: at a constant learning rate the core is clearly wider, the noise floor
# of the lecture. The heteroscedastic network has by far the narrowest core, yet not the smallest tail:
# the factor $1/\sigma_\theta^2$ lets it declare the hardest events noisy and spend its capacity on the
# rest. A good trade for the bulk, a bad one for the corners of phase space.
#
# Where in phase space are the errors? Amplitudes grow where two gluons become collinear, so the smallest
# pairwise invariant mass $m_\mathrm{min} = \min_{i<j} m_{ij}$ of the outgoing gluons is a natural axis.

# %%
outgoing = data.test[0][:, 2:]
m_min = np.min(
    [lorentz.invariant_mass(outgoing[:, i], outgoing[:, j]) for i, j in combinations(range(3), 2)], axis=0
)
mass_bins = np.quantile(m_min, np.linspace(0, 1, 11))
centres = (mass_bins[1:] + mass_bins[:-1]) / 2
index = np.digitize(m_min, mass_bins[1:-1])
fig, ax = plt.subplots(figsize=(7, 4))
for name in ("log A, standardised", "constant learning rate", "heteroscedastic"):
    decile_widths = [core_width(deltas[name][index == k]) for k in range(len(centres))]
    ax.plot(centres, decile_widths, "o-", label=name)
ax.set(xlabel=r"$m_\mathrm{min}$ [GeV] (deciles)", ylabel=r"core width of $\Delta$", yscale="log")
ax.legend()
plt.show()

# %% [markdown]
# ## 6. Learning the noise
#
# Now we make the targets noisy on purpose: each training amplitude is multiplied by
# $1 + f_\mathrm{smear}\,\epsilon$ with $\epsilon \sim \mathcal{N}(0, 1)$. In $\log A$ this is, to first
# order, Gaussian noise of width $f_\mathrm{smear}$, so a heteroscedastic network should learn
# $\sigma_\theta(x) / A \approx f_\mathrm{smear}$ everywhere. `LogStandardScaler.inverse_transform_sigma`
# converts the predicted width back to amplitude units.
#
# The likelihood only sees the spread of the targets around the network's *current* mean, so wherever the
# mean is still poor, $\sigma_\theta$ grows to cover the misfit, and the term $(z-\mu)^2/2\sigma^2$ then gives
# those events less weight: the mean there learns even more slowly. Training the mean first (the MSE on
# $\mu_\theta$, for half as many epochs) and only then the full likelihood avoids that trap; the
# exercise-style comparison is left to you (exercise 3 measures the calibration).


# %%
def mean_only_loss(model: GaussianRegressor, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return ((model(x).mean - z) ** 2).mean()


@torch.no_grad()
def relative_width(model, target_scaler, split) -> tuple[np.ndarray, np.ndarray]:
    """Learned ``sigma / A`` and the pulls ``(z - mu) / sigma`` of the split's targets, each ``(events,)``."""
    prediction = model.eval()(tensors(split, target_scaler)[0])
    z, sigma = (values.cpu().double().numpy() for values in (prediction.mean, prediction.stddev))
    ratio = target_scaler.inverse_transform_sigma(z, sigma) / target_scaler.inverse_transform(z)
    return ratio, (target_scaler.transform(split[1]) - z) / sigma


noise_levels = tutor.pick(ci=(0.05, 0.10), cpu=(0.05, 0.10), gpu=(0.01, 0.05, 0.10))
learned_sigma = {}
for f_smear in noise_levels:
    noisy = load_amplitudes("gg->ggg", n_events=n_events, noise=GaussianNoise(f_smear), progress=False)
    noisy_scaler = LogStandardScaler().fit(noisy.train[1])
    model = GaussianRegressor(n_inputs, hidden=hidden)
    name = f"f_smear = {f_smear:.2f}"
    train(model, mean_only_loss, noisy_scaler, f"{name}, mean", split_data=noisy, n_epochs=epochs // 2)
    train(model, heteroscedastic_loss, noisy_scaler, f"{name}, mean and sigma", split_data=noisy)
    learned_sigma[f_smear], noisy_pulls = relative_width(model, noisy_scaler, noisy.test)  # pulls: exercise 3
    ratio = learned_sigma[f_smear]
    print(f"{name}: sigma/A mean {ratio.mean():.4f}, median {np.median(ratio):.4f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for f_smear, ratio in learned_sigma.items():
    axes[0].hist(
        ratio, bins=np.linspace(0, 0.2, 101), histtype="step", label=f"$f_\\mathrm{{smear}}$ = {f_smear}"
    )
    axes[0].axvline(f_smear, color="grey", ls=":")
axes[0].set(xlabel=r"learned $\sigma_\theta / A$ (test events)", ylabel="events", yscale="log")
axes[0].legend()
levels = np.array(list(learned_sigma))
axes[1].plot([0, levels.max() * 1.1], [0, levels.max() * 1.1], color="grey", ls="--", label="ideal")
axes[1].plot(levels, [ratio.mean() for ratio in learned_sigma.values()], "o", label="mean")
axes[1].plot(levels, [np.median(ratio) for ratio in learned_sigma.values()], "x", label="median")
axes[1].set(xlabel=r"injected $f_\mathrm{smear}$", ylabel=r"learned $\sigma_\theta / A$")
axes[1].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# The bulk of the test events sits at the injected noise. The tail to large $\sigma_\theta/A$ comes from
# the collinear corners of phase space, where the mean is least accurate: there the learned width is the
# noise *plus* the network's residual error, which is why the mean of $\sigma_\theta/A$ lies above the
# median. The learned width measures the spread of the training targets around the network, not how wrong
# the network is on exact data; that is the job of the Bayesian networks and ensembles of chapter 2. With
# more data and capacity (cpu, gpu) the residual shrinks and the mean approaches $f_\mathrm{smear}$.
#
# And the network trained on exact labels in section 3? The ideal width is zero, but what it reports is the
# part of its own approximation error that it sees in the training residuals:

# %%
sigma_exact, _ = relative_width(models["heteroscedastic"], standardised, data.test)
print(f"exact labels: sigma/A mean {sigma_exact.mean():.4f}, median {np.median(sigma_exact):.4f}")
print(
    f"              core width of Delta {core_width(deltas['heteroscedastic']):.4f} on the same test events"
)

# %% [markdown]
# The median width is of the order of the core width of $\Delta$: on exact data $\sigma_\theta$ tracks the
# training residuals, a floor on the learned width that [Bahl et al.](https://arxiv.org/abs/2412.12069) find
# at about 0.4 % for their loop amplitudes. The mean is far larger, pulled up by the hard events that the
# network has declared noisy, the tail of section 5. How far the network itself may be off is a different
# question, left to chapter 2.
#
# ## 7. One more gluon: $gg \to gggg$
#
# The same recipe on four outgoing gluons: 16 inputs instead of 12, an amplitude that varies over a larger
# range, and a phase space with more collinear and soft corners. We train the heteroscedastic network on the
# noise-free amplitudes with a dataset of half the size.

# %%
data4 = load_amplitudes("gg->gggg", n_events=n_events // 2, split=(0.8, 0.1, 0.1), device=cfg.device)
x_scaler4 = StandardScaler().fit(inputs(data4.train[0]))
scaler4 = LogStandardScaler().fit(data4.train[1])
model4 = GaussianRegressor(16, hidden=hidden)
train(
    model4,
    heteroscedastic_loss,
    scaler4,
    "gg -> gggg, heteroscedastic",
    split_data=data4,
    input_scaler=x_scaler4,
)
delta4 = predict(model4, scaler4, data4.test, x_scaler4) / data4.test[1] - 1
tail4 = np.mean(np.abs(delta4) > 0.1)
print(f"gg -> gggg: core width of Delta {core_width(delta4):.4f}, |Delta| > 10 %: {tail4:.4f}")

fig, ax = plt.subplots(figsize=(7, 4))
for label, delta in (("$gg \\to ggg$", deltas["heteroscedastic"]), ("$gg \\to gggg$", delta4)):
    ax.hist(np.clip(delta, bins[0], bins[-1]), bins=bins, histtype="step", density=True, label=label)
ax.set(xlabel=r"$\Delta$", ylabel="density", yscale="log", title="heteroscedastic network")
ax.legend()
plt.show()

# %% [markdown]
# Each additional gluon makes the function harder to learn at fixed training-set size: the core of
# $\Delta$ widens, and the precision one can reach becomes a question of data, network size and training
# time, as in the studies cited in the lecture.
#
# ## Results
#
# The headline numbers, each checked against its band for the active profile with `tutor.expect` (a
# regression fails the notebook).

# %%
# Where the bands come from. ci: measured in CI runs (seeds 0 and 1, 2 CPU cores). cpu: measured in
# cpu-profile runs (seed 0, 2-core AMD EPYC; the latest is the run shown here). Both are widened for
# seed-to-seed scatter. gpu: targets (tutor.target), since no gpu run has measured them; those of the best
# core width and of sigma/A are the course's goals: at most 2 %, and within 20 %.
best = min(("log A, standardised", "heteroscedastic"), key=lambda name: core_width(deltas[name]))
widths = {name: core_width(delta) for name, delta in deltas.items()}
tutor.expect(
    "core width of Delta, MSE on A",
    widths["A"],
    ci=(20, 5000),
    cpu=(20, 5000),
    gpu=tutor.target(20, 5000),
)
tutor.expect(
    "core width of Delta, MSE on log A, standardised",
    widths["log A, standardised"],
    ci=(0.04, 0.12),
    cpu=(0.01, 0.04),
    gpu=tutor.target(0.008, 0.035),
)
tutor.expect(
    "constant / cosine learning rate, ratio of core widths",
    widths["constant learning rate"] / widths["log A, standardised"],
    ci=(1.05, 2.5),
    cpu=(1.2, 3.0),
    gpu=tutor.target(1.2, 3.5),
)
tutor.expect(
    f"core width of Delta, best ({best})",
    widths[best],
    ci=(0, 0.04),
    cpu=(0, 0.01),
    gpu=tutor.target(0, 0.02),
)
tutor.expect(
    "core width of Delta, gg -> gggg",
    core_width(delta4),
    ci=(0.3, 0.8),
    cpu=(0.05, 0.15),
    gpu=tutor.target(0.03, 0.12),
)
for f_smear, ci_band, cpu_band in ((0.05, (1.15, 1.9), (0.95, 1.25)), (0.10, (1.0, 1.4), (0.9, 1.15))):
    ratio = learned_sigma[f_smear].mean() / f_smear
    tutor.expect(
        f"mean sigma/A / f_smear at {f_smear}",
        ratio,
        ci=ci_band,
        cpu=cpu_band,
        gpu=tutor.target(0.8, 1.2),
    )

print(f"| {'quantity':<56} | {'value':>8} | {'target (gpu)':>12} |")
print(f"| {'-' * 56} | {'-' * 8} | {'-' * 12} |")
for name, width in widths.items():
    target = "<= 0.02" if name == best else ""
    print(f"| {'gg -> ggg: core width of Delta, ' + name:<56} | {width:>8.4f} | {target:>12} |")
print(f"| {'gg -> gggg: core width of Delta, heteroscedastic':<56} | {core_width(delta4):>8.4f} | {'':>12} |")
quantity = "median sigma/A on exact labels (Bahl et al.: ~0.004)"
print(f"| {quantity:<56} | {np.median(sigma_exact):>8.4f} | {'':>12} |")
for f_smear, ratio in learned_sigma.items():
    quantity = f"mean sigma/A at f_smear = {f_smear}"
    print(f"| {quantity:<56} | {ratio.mean():>8.4f} | {f'{f_smear} ± 20 %':>12} |")

# %% [markdown]
# **How this compares with the literature.** The amplitude networks of
# [Badger et al.](https://arxiv.org/abs/2206.14831) and [Bahl et al.](https://arxiv.org/abs/2412.12069) regress
# one-loop amplitudes of $gg \to \gamma\gamma g(g)$ with far larger training sets, networks and training
# times, and add uncertainty estimates on top; this notebook regresses tree-level $gg \to ggg$ and
# $gg \to gggg$ with at most a few $10^5$ events and minutes of training. The numbers above are therefore a
# benchmark of the method on this dataset, not a reproduction. What carries over is the pattern: the
# logarithm of the target is essential, the learned width follows injected noise, and on exact labels it
# settles, in the bulk, at the level of the training residuals (the row "exact labels" above; about 0.4 % in
# their case).
#
# ## Exercises
#
# ### Exercise 1: a two-component Gaussian mixture
#
# One Gaussian cannot describe a target whose conditional density has two peaks or a heavy tail. A mixture
# of $K$ Gaussians with weights $w_k = \mathrm{softmax}(\ell)_k$ can:
#
# $$
# -\log p(z\,|\,x) = -\log \sum_{k=1}^K \frac{w_k}{\sqrt{2\pi}\,\sigma_k}
# \exp\!\left(-\frac{(z-\mu_k)^2}{2\sigma_k^2}\right).
# $$
#
# Write `mixture_nll(logits, means, log_sigmas, target)` for parameters of shape `(batch, K)` and a target
# of shape `(batch,)`, returning the mean of this negative log-density as a scalar tensor. Use
# `torch.logsumexp` so that it stays finite when one term underflows. The check compares it with
# `torch.distributions.MixtureSameFamily` and, for $K = 1$, with `tutor.losses.heteroscedastic_nll`. (To go
# further: `tutor.nn.GaussianMixtureRegressor` returns such a mixture; train it on the noisy data.)


# %% tags=["solution", "hide-input"]
# Hint: log w_k = log_softmax(logits); add the log-density of each Gaussian, then logsumexp over k.
def mixture_nll(
    logits: torch.Tensor, means: torch.Tensor, log_sigmas: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    pull = (target.unsqueeze(-1) - means) * torch.exp(-log_sigmas)
    log_density = -0.5 * pull**2 - log_sigmas - 0.5 * np.log(2 * np.pi)
    return -torch.logsumexp(torch.log_softmax(logits, dim=-1) + log_density, dim=-1).mean()


# %% tags=["check"]
check_generator = torch.Generator().manual_seed(3)
check_logits, check_means, check_log_sigmas = torch.randn(3, 40, 2, generator=check_generator)
check_target = 3 * torch.randn(40, generator=check_generator)
mixture = torch.distributions.MixtureSameFamily(
    torch.distributions.Categorical(logits=check_logits),
    torch.distributions.Normal(check_means, torch.exp(check_log_sigmas)),
)
mine = mixture_nll(check_logits, check_means, check_log_sigmas, check_target)
assert mine.shape == (), f"the loss should be a scalar, got shape {tuple(mine.shape)}"
assert torch.allclose(mine, -mixture.log_prob(check_target).mean(), atol=1e-5), "does not match the mixture"
single = mixture_nll(check_logits[:, :1], check_means[:, :1], check_log_sigmas[:, :1], check_target)
reference = tutor.losses.heteroscedastic_nll(
    check_means[:, 0], check_log_sigmas[:, 0], check_target, full=True
)
assert torch.allclose(single, reference, atol=1e-5), "with K = 1 it should be the heteroscedastic loss"
print("Exercise 1: correct")

# %% [markdown]
# ### Exercise 2: Lorentz invariants as inputs
#
# The amplitude is a Lorentz-invariant function, so it depends on the momenta only through the invariants
# $s_{ij} = (p_i + p_j)^2 = 2\,p_i \cdot p_j$ of the massless gluons. Write `pairwise_invariants(momenta)`,
# which maps momenta of shape `(events, particles, 4)` to the $s_{ij}$ for all pairs $i < j$, shape
# `(events, particles * (particles - 1) / 2)`, in the order of `itertools.combinations`. The check tests
# them against `lorentz.invariant_mass` and under a boost. (To go further: train the heteroscedastic
# network on the standardised logarithms of the ten $s_{ij}$ of $gg \to ggg$ instead of the momenta and
# compare the core width of $\Delta$.)


# %% tags=["solution", "hide-input"]
# Hint: lorentz.minkowski_dot(p, q) contracts the last axis with the metric (+,-,-,-).
def pairwise_invariants(momenta: np.ndarray) -> np.ndarray:
    pairs = combinations(range(momenta.shape[1]), 2)
    return np.stack([2 * lorentz.minkowski_dot(momenta[:, i], momenta[:, j]) for i, j in pairs], axis=-1)


# %% tags=["check"]
sample = data.test[0][:100]
invariants = pairwise_invariants(sample)
assert invariants.shape == (100, 10), f"expected shape (100, 10) for five gluons, got {invariants.shape}"
expected = lorentz.invariant_mass(sample[:, 2], sample[:, 4]) ** 2  # the pair (2, 4) is the 9th in order
assert np.allclose(invariants[:, 8], expected, rtol=1e-6), "s_24 does not match the invariant mass squared"
boosted = lorentz.boost(sample, np.array([0.3, -0.2, 0.5]))
assert np.allclose(pairwise_invariants(boosted), invariants, rtol=1e-6, atol=1e-6), "not boost invariant"
print("Exercise 2: correct")

# %% [markdown]
# ### Exercise 3: is the learned uncertainty calibrated?
#
# If $\sigma_\theta$ is right, the pulls $(z - \mu_\theta)/\sigma_\theta$ of the noisy test targets follow
# a standard normal distribution, and about 68.3 % of them lie within $\pm 1$. Write
# `coverage(pulls, k=1.0)`, returning the fraction of entries of a 1-d array with $|\text{pull}| < k$ as a
# float. The check tests it on Gaussian numbers and applies it to `noisy_pulls` from the last noise level
# of section 6. Is the network over- or under-confident, and why might that differ between profiles?


# %% tags=["solution", "hide-input"]
# Hint: a mean over a boolean array is the fraction of True entries.
def coverage(pulls: np.ndarray, k: float = 1.0) -> float:
    return float(np.mean(np.abs(pulls) < k))


# %% tags=["check"]
gaussian = np.random.default_rng(5).standard_normal(100_000)
assert abs(coverage(gaussian) - 0.6827) < 0.01, f"{coverage(gaussian):.4f} for Gaussian pulls, expected 0.683"
assert abs(coverage(gaussian, 2.0) - 0.9545) < 0.01, "k is not used"
network_coverage = coverage(noisy_pulls)
print(f"coverage of the learned sigma at f_smear = {noise_levels[-1]}: {network_coverage:.3f}")
assert 0.5 < network_coverage < 0.95, "the learned sigma is far from calibrated: is the loss right?"
print("Exercise 3: correct")
