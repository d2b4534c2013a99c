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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/reps4lhc/reps4lhc/blob/main/notebooks/01_likelihood_training.ipynb)
#
# A regression network is a fit, and the loss we minimise is a negative log-likelihood. This notebook makes
# that concrete on exact tree-level squared amplitudes of $gg \to ggg$: the same network is trained with
# three losses and two target representations, and then on data with known artificial noise, where it has to
# learn the size of that noise. It accompanies the [lecture](../book/01_likelihood_training.md), which
# derives the losses.
#
# **Learning goals.** After this notebook you can
# - write the mean-squared error and the heteroscedastic Gaussian likelihood as training losses,
# - explain why the logarithm of a target spanning orders of magnitude is the better thing to regress,
# - measure a regression's accuracy with $\Delta = (A_\mathrm{NN} - A_\mathrm{true})/A_\mathrm{true}$, in its
#   core and its tails and over phase space,
# - check that a learned $\sigma_\theta(x)$ measures the noise in the data, not the network's own error.

# %% tags=["colab-install", "hide-cell"]
# On Colab, install the course package (Colab's own PyTorch is kept); elsewhere use the course environment.
import sys

if "google.colab" in sys.modules:
    # %pip install --quiet "reps4lhc_tutor[colab] @ git+https://github.com/reps4lhc/reps4lhc@main"
    print("reps4lhc_tutor installed; this notebook runs in a minute on a CPU runtime.")

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
# them once and caches them on disk. The sizes of this run are set here for the three profiles.

# %%
n_events = tutor.pick(ci=20_000, cpu=100_000, gpu=400_000)
hidden = tutor.pick(ci=(64, 64, 64), cpu=(128, 128, 128), gpu=(256, 256, 256, 256))
epochs = tutor.pick(ci=120, cpu=150, gpu=100)
batch_size = tutor.pick(ci=128, cpu=256, gpu=1024)
learning_rate = tutor.pick(ci=5e-3, cpu=3e-3, gpu=2e-3)  # peak of the cosine schedule

data = load_amplitudes("gg->ggg", n_events=n_events, split=(0.8, 0.1, 0.1))
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
# The inputs are the four-momenta of the three outgoing gluons, flattened to 12 numbers and standardised
# feature by feature. The incoming gluons carry no information: in the centre-of-mass frame they are fixed.
# For the target we compare two representations: $A$ itself, standardised, and $\log A$, standardised.


# %%
def inputs(momenta: np.ndarray) -> np.ndarray:
    """Outgoing-gluon momenta ``(events, 5, 4)`` flattened to ``(events, 12)``."""
    return momenta[:, 2:, :].reshape(len(momenta), -1)


x_scaler = StandardScaler().fit(inputs(data.train[0]))
log_scaler = LogStandardScaler().fit(data.train[1])
raw_scaler = StandardScaler().fit(data.train[1])


def tensors(split: tuple[np.ndarray, np.ndarray], target_scaler) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, z)`` float32 tensors ``(events, 12)`` and ``(events,)`` for one split."""
    x = x_scaler.transform(inputs(split[0]))
    z = target_scaler.transform(split[1])
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(z, dtype=torch.float32)


fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
axes[0].hist(raw_scaler.transform(data.train[1]), bins=100, histtype="step")
axes[0].set(xlabel="standardised $A$", ylabel="events", yscale="log", title="raw target")
axes[1].hist(log_scaler.transform(data.train[1]), bins=100, histtype="step")
axes[1].set(xlabel=r"standardised $\log A$", ylabel="events", title="log target")
fig.tight_layout()
plt.show()

# %% [markdown]
# The raw target is a spike near zero with a long tail of collinear and soft configurations; the log target
# is compact. A network trained with the MSE on the raw target spends its capacity on the few largest
# values and cannot resolve the bulk at the per-cent level.
#
# ## 2. Three losses
#
# For Gaussian noise of known, constant width the negative log-likelihood is the mean-squared error up to
# constants. When the width $\sigma$ is unknown and may depend on $x$, the network predicts it as well, and
# the loss keeps the $\log\sigma$ term that stops $\sigma$ from growing without bound:
#
# $$
# \mathcal{L}_\mathrm{MSE} = \frac{1}{N}\sum_i \big(z_i - f_\theta(x_i)\big)^2, \qquad
# \mathcal{L}_\mathrm{het} = \frac{1}{N}\sum_i \left[\frac{\big(z_i - \mu_\theta(x_i)\big)^2}{2\sigma_\theta(x_i)^2}
# + \log\sigma_\theta(x_i)\right].
# $$
#
# Both are written here in a few lines; `tutor.fit` calls `loss_fn(model, *batch)` on each batch.


# %%
def mse_loss(model: MLP, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return ((model(x).squeeze(-1) - z) ** 2).mean()


def heteroscedastic_loss(model: GaussianRegressor, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    prediction = model(x)  # a torch.distributions.Normal with .mean and .stddev of shape (batch,)
    pull = (z - prediction.mean) / prediction.stddev
    return (0.5 * pull**2 + torch.log(prediction.stddev)).mean()


def train(model: torch.nn.Module, loss_fn, target_scaler, desc: str, split_data=data) -> tutor.History:
    """Adam with a cosine learning-rate schedule over ``epochs``; the same recipe for every model."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    start = time.perf_counter()
    history = tutor.fit(
        model,
        loss_fn,
        tensors(split_data.train, target_scaler),
        tensors(split_data.val, target_scaler),
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        scheduler=scheduler,
        device=cfg.device,
        desc=desc,
    )
    print(f"{desc}: {time.perf_counter() - start:.0f} s, best validation loss {min(history.val_loss):.4g}")
    return history


n_inputs = 12
models = {
    "MSE on A": MLP(n_inputs, 1, hidden=hidden),
    "MSE on log A": MLP(n_inputs, 1, hidden=hidden),
    "heteroscedastic": GaussianRegressor(n_inputs, hidden=hidden),
}
setups = {
    "MSE on A": (mse_loss, raw_scaler),
    "MSE on log A": (mse_loss, log_scaler),
    "heteroscedastic": (heteroscedastic_loss, log_scaler),
}
histories = {}
for name, model in models.items():
    loss_fn, scaler = setups[name]
    histories[name] = train(model, loss_fn, scaler, desc=name)

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
for ax, (name, history) in zip(axes, histories.items(), strict=True):
    tutor.plotting.plot_history(history, ax=ax)
    ax.set_title(name)
fig.tight_layout()
plt.show()

# %% [markdown]
# The heteroscedastic loss goes negative: $\log\sigma$ is negative once the network is accurate, which is
# why its curve is drawn on a linear axis.
#
# ## 3. Accuracy: $\Delta$ in the core, in the tails and over phase space
#
# On the test set we convert each prediction back to an amplitude and compute
# $\Delta = (A_\mathrm{NN} - A_\mathrm{true}) / A_\mathrm{true}$. The *core width* is half the central 68 %
# interval of $\Delta$; the *tail* is the fraction of events with $|\Delta| > 10\,\%$.

# %%
x_test = tensors(data.test, log_scaler)[0].to(cfg.device)


@torch.no_grad()
def predict(name: str) -> np.ndarray:
    """Predicted amplitudes ``(test events,)`` of one model, in GeV^-2."""
    model = models[name].eval()
    output = model(x_test)
    z = (output.mean if isinstance(model, GaussianRegressor) else output.squeeze(-1)).cpu().double().numpy()
    return setups[name][1].inverse_transform(z)


def core_width(delta: np.ndarray) -> float:
    lo, hi = np.quantile(delta, [0.16, 0.84])
    return float((hi - lo) / 2)


deltas = {name: predict(name) / data.test[1] - 1 for name in models}
print(f"| {'loss':<16} | {'core width of Delta':>19} | {'median Delta':>12} | {'|Delta| > 10 %':>14} |")
print(f"| {'-' * 16} | {'-' * 19} | {'-' * 12} | {'-' * 14} |")
for name, delta in deltas.items():
    tail = np.mean(np.abs(delta) > 0.1)
    print(f"| {name:<16} | {core_width(delta):>19.4f} | {np.median(delta):>12.4f} | {tail:>14.4f} |")

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
ax.legend()
plt.show()

# %% [markdown]
# Regressing $\log A$ turns the loss into a relative error, which is what $\Delta$ measures; the raw target
# gives a broad core and a heavy tail of events that the network gets wrong by factors. The events
# accumulated in the outermost bins are the overflow.
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
fig, ax = plt.subplots(figsize=(7, 4))
for name in ("MSE on log A", "heteroscedastic"):
    index = np.digitize(m_min, mass_bins[1:-1])
    widths = [core_width(deltas[name][index == k]) for k in range(len(centres))]
    ax.plot(centres, widths, "o-", label=name)
ax.set(xlabel=r"$m_\mathrm{min}$ [GeV]", ylabel=r"core width of $\Delta$", yscale="log")
ax.legend()
plt.show()

# %% [markdown]
# ## 4. Learning the noise
#
# Now we make the targets noisy on purpose: each training amplitude is multiplied by
# $1 + f_\mathrm{smear}\,\epsilon$ with $\epsilon \sim \mathcal{N}(0, 1)$. In $\log A$ this is, to first
# order, Gaussian noise of width $f_\mathrm{smear}$, so a heteroscedastic network should learn
# $\sigma_\theta(x) / A \approx f_\mathrm{smear}$ everywhere. `LogStandardScaler.inverse_transform_sigma`
# converts the predicted width back to amplitude units. The test targets are exact, so $\Delta$ still
# measures the mean.

# %%
noise_levels = tutor.pick(ci=(0.05, 0.10), cpu=(0.05, 0.10), gpu=(0.01, 0.05, 0.10))
learned_sigma = {}
for f_smear in noise_levels:
    noisy = load_amplitudes("gg->ggg", n_events=n_events, noise=GaussianNoise(f_smear), progress=False)
    noisy_scaler = LogStandardScaler().fit(noisy.train[1])
    model = GaussianRegressor(n_inputs, hidden=hidden)
    train(model, heteroscedastic_loss, noisy_scaler, desc=f"f_smear = {f_smear:.2f}", split_data=noisy)
    with torch.no_grad():
        prediction = model.eval()(x_test)
    z, sigma = prediction.mean.cpu().double().numpy(), prediction.stddev.cpu().double().numpy()
    amplitude = noisy_scaler.inverse_transform(z)
    learned_sigma[f_smear] = noisy_scaler.inverse_transform_sigma(z, sigma) / amplitude
    noisy_pulls = (noisy_scaler.transform(noisy.test[1]) - z) / sigma  # kept for exercise 3
    print(f"f_smear = {f_smear:.2f}: mean sigma/A = {learned_sigma[f_smear].mean():.4f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for f_smear, ratio in learned_sigma.items():
    axes[0].hist(
        ratio, bins=np.linspace(0, 0.2, 101), histtype="step", label=f"$f_\\mathrm{{smear}}$ = {f_smear}"
    )
    axes[0].axvline(f_smear, color="grey", ls=":")
axes[0].set(xlabel=r"learned $\sigma_\theta / A$ (test events)", ylabel="events")
axes[0].legend()
levels = np.array(list(learned_sigma))
means = np.array([ratio.mean() for ratio in learned_sigma.values()])
axes[1].plot([0, levels.max() * 1.1], [0, levels.max() * 1.1], color="grey", ls="--", label="ideal")
axes[1].plot(levels, means, "o", label="mean learned")
axes[1].set(xlabel=r"injected $f_\mathrm{smear}$", ylabel=r"mean $\sigma_\theta / A$")
axes[1].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# The likelihood only sees the spread of the targets around the network's mean, so $\sigma_\theta$ learns the
# noise in the data plus whatever residual error the mean still has; it is not an estimate of how wrong the
# network is on exact data. With a small network and little data (the ci profile) that residual is a few
# per cent, and the learned width clearly overshoots 5 % noise; with more data and capacity (cpu, gpu) the
# residual shrinks and $\sigma_\theta/A$ approaches $f_\mathrm{smear}$.
#
# ## Results
#
# The headline numbers, each checked against its band for the active profile with `tutor.expect` (a
# regression fails the notebook).

# %%
# Bands from runs with seeds 0 and 1 at ci and seed 0 at cpu, widened for seed-to-seed scatter; the gpu
# bands are the targets of the course: a core width of at most 2 % and sigma/A within 20 % of f_smear.
# The raw-target network is off by orders of magnitude for small amplitudes at every profile.
best = min(("MSE on log A", "heteroscedastic"), key=lambda name: core_width(deltas[name]))
tutor.expect(
    "core width of Delta, MSE on A",
    core_width(deltas["MSE on A"]),
    ci=(20, 5000),
    cpu=(20, 5000),
    gpu=(5, 5000),
)
tutor.expect(
    "core width of Delta, MSE on log A",
    core_width(deltas["MSE on log A"]),
    ci=(0.02, 0.15),
    cpu=(0.005, 0.05),
    gpu=(0, 0.04),
)
tutor.expect(
    f"core width of Delta, best ({best})",
    core_width(deltas[best]),
    ci=(0, 0.04),
    cpu=(0, 0.012),
    gpu=(0, 0.02),
)
tutor.expect(
    "mean sigma/A / f_smear at 0.05",
    learned_sigma[0.05].mean() / 0.05,
    ci=(1.2, 2.6),
    cpu=(0.95, 1.6),
    gpu=(0.8, 1.2),
)
tutor.expect(
    "mean sigma/A / f_smear at 0.10",
    learned_sigma[0.10].mean() / 0.10,
    ci=(0.9, 1.7),
    cpu=(0.85, 1.35),
    gpu=(0.8, 1.2),
)

print(f"| {'quantity':<34} | {'value':>10} | {'target (gpu)':>12} |")
print(f"| {'-' * 34} | {'-' * 10} | {'-' * 12} |")
for name, delta in deltas.items():
    print(
        f"| {'core width of Delta, ' + name:<34} | {core_width(delta):>10.4f} | {'<= 0.02' if name == best else '':>12} |"
    )
for f_smear, ratio in learned_sigma.items():
    print(
        f"| {f'mean sigma/A at f_smear = {f_smear}':<34} | {ratio.mean():>10.4f} | {f'{f_smear} ± 20 %':>12} |"
    )

# %% [markdown]
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
# of section 4. Is the network over- or under-confident, and why might that differ between profiles?


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
