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
# # 02. Uncertainties
#
# [![Open In Colab](../book/_static/colab-badge.svg)](https://colab.research.google.com/github/reps4lhc/reps4lhc/blob/main/notebooks/02_uncertainties.ipynb)
#
# A precision surrogate has to know how wrong it is. This notebook trains four networks on the exact
# $gg \to ggg$ amplitudes of chapter 1, made noisy on purpose so that we know the right answer: a
# deterministic heteroscedastic network, a Bayesian network, a repulsive ensemble and an evidential network.
# Then it asks whether their uncertainties are calibrated: pulls and coverage, how the two kinds of
# uncertainty scale with the training-set size and with the noise, and whether a noisy window in phase
# space shows up. It accompanies the [lecture](../book/02_uncertainties.md), which derives every formula used
# here.
#
# **Learning goals.** After this notebook you can
# - write the loss of a Bayesian network (likelihood plus KL term), of a repulsive ensemble and of
#   evidential regression, and read $\sigma_\mathrm{stat}$ and $\sigma_\mathrm{syst}$ off each,
# - test an uncertainty with pulls and coverage curves,
# - tell the uncertainty that shrinks with more data from the one that measures the noise in the data.

# %% tags=["colab-install", "hide-cell"]
# On Colab, install the course package (Colab's own PyTorch is kept); elsewhere use the course environment.
import sys

if "google.colab" in sys.modules:
    # %pip install --quiet "reps4lhc_tutor[colab] @ git+https://github.com/reps4lhc/reps4lhc@main"
    print("reps4lhc_tutor installed; choose a GPU runtime (Runtime > Change runtime type) for the full run.")

# %% [markdown]
# ## Setup

# %%
import math
import time
from dataclasses import dataclass
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.special import erf

import reps4lhc_tutor as tutor
from reps4lhc_tutor.data import load_amplitudes
from reps4lhc_tutor.nn import (
    BayesianRegressor,
    EnsembleRegressor,
    EvidentialRegressor,
    GaussianRegressor,
    evidential_loss,
    repulsive_ensemble_loss,
    sample_predictions,
    split_uncertainty,
)
from reps4lhc_tutor.physics import lorentz
from reps4lhc_tutor.physics.noise import GaussianNoise
from reps4lhc_tutor.preprocessing import LogStandardScaler, StandardScaler

cfg = tutor.setup(seed=0)
tutor.plotting.use_style()

# %% [markdown]
# ## 1. The data: exact amplitudes with known noise
#
# The events and exact squared amplitudes are those of chapter 1. For training we replace each label by
# $A_\mathrm{train} = A_\mathrm{true}\,(1 + f_\mathrm{smear}\,\epsilon)$ with $\epsilon \sim \mathcal{N}(0, 1)$:
# a relative noise of known size, the stand-in for the finite precision of a loop amplitude. The test set
# keeps both labels, the noisy one (what $\sigma_\mathrm{syst}$ must cover) and the exact one (what the
# network should approach). The inputs are the outgoing momenta, standardised; the target is the
# standardised $\log A$, in which the noise is, to first order, a width $f_\mathrm{smear}$ times a constant.

# %%
n_events = tutor.pick(ci=10_000, cpu=40_000, gpu=200_000)
hidden = tutor.pick(ci=(64, 64, 64), cpu=(128, 128, 128), gpu=(256, 256, 256))
bnn_hidden = tutor.pick(ci=(32, 32, 32), cpu=(64, 64, 64), gpu=(128, 128, 128))  # see section 3
epochs = tutor.pick(ci=40, cpu=40, gpu=60)  # full-likelihood epochs, after half as many warm-up epochs
batch_size = tutor.pick(ci=128, cpu=256, gpu=1024)
learning_rate = tutor.pick(ci=5e-3, cpu=3e-3, gpu=2e-3)
n_members = tutor.pick(ci=5, cpu=8, gpu=10)  # ensemble members
n_draws = tutor.pick(ci=20, cpu=50, gpu=100)  # weight draws of the Bayesian network at evaluation
f_main = 0.05  # the noise of the main comparison

exact = load_amplitudes("gg->ggg", n_events=n_events, device=cfg.device)
x_scaler = StandardScaler().fit(exact.train[0][:, 2:].reshape(len(exact.train[0]), -1))
z_scaler = LogStandardScaler().fit(exact.train[1])  # one target scale for every noise level
log_width = z_scaler.log_scaler.std_.item()  # sigma_z * log_width = sigma / A
print(exact.metadata["split"], f"events; std of log A = {log_width:.3f}")


@dataclass
class Split:
    x: torch.Tensor  # (events, 12) standardised momenta
    z: torch.Tensor  # (events,) standardised log of the (noisy) label
    noisy: np.ndarray  # (events,) the label in GeV^-2
    true: np.ndarray  # (events,) the exact amplitude


def splits(noise: GaussianNoise | None, n_train: int | None = None) -> dict[str, Split]:
    """Train, validation and test splits of the dataset with this noise; optionally fewer training events."""
    data = load_amplitudes("gg->ggg", n_events=n_events, noise=noise, progress=False)
    starts = np.cumsum([0, *(len(part[1]) for part in (data.train, data.val, data.test))])
    out = {}
    for k, name in enumerate(("train", "val", "test")):
        momenta, labels = (data.train, data.val, data.test)[k]
        keep = slice(0, n_train if name == "train" else None)
        x = x_scaler.transform(momenta[keep, 2:].reshape(len(momenta[keep]), -1))
        as_tensor = partial(torch.as_tensor, dtype=torch.float32, device=cfg.device)
        true = data.exact[starts[k] : starts[k + 1]][keep]
        out[name] = Split(as_tensor(x), as_tensor(z_scaler.transform(labels[keep])), labels[keep], true)
    return out


main = splits(GaussianNoise(f_main))
n_train = len(main["train"].z)
pulls_of_noise = (main["test"].noisy - main["test"].true) / (f_main * main["test"].true)
print(f"injected noise on the test labels: mean {pulls_of_noise.mean():.3f}, std {pulls_of_noise.std():.3f}")

# %% [markdown]
# ## 2. A deterministic baseline
#
# The heteroscedastic network of chapter 1: one set of weights, a mean and a width
# $\sigma_\theta(x)$ per event. Its width is all it has, so it plays the role of $\sigma_\mathrm{syst}$;
# there is no $\sigma_\mathrm{stat}$. Every model in this notebook is trained the same way: half the epochs
# on the mean alone (the warm-up of chapter 1, which keeps $\sigma$ from absorbing the early misfit), then
# its full loss, with Adam and a cosine learning rate.


# %%
def mean_only_loss(model, x, z, kl_weight=0.0):
    """Warm-up: squared error of the predicted mean(s); the Bayesian network keeps its KL term."""
    prediction = model(x)
    loss = ((prediction.mean - z) ** 2).mean(-1).sum()  # summed over ensemble members, if any
    return loss + kl_weight * model.kl_divergence() if kl_weight else loss


def train(model, loss_fn, data, desc, kl_weight=0.0):
    """Warm-up on the mean for ``epochs // 2``, then ``loss_fn`` for ``epochs``; returns the history."""
    start = time.perf_counter()
    for stage_loss, n_epochs, stage in (
        (partial(mean_only_loss, kl_weight=kl_weight), epochs // 2, "warm-up"),
        (loss_fn, epochs, "likelihood"),
    ):
        optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
        history = tutor.fit(
            model,
            stage_loss,
            (data["train"].x, data["train"].z),
            (data["val"].x, data["val"].z),
            epochs=n_epochs,
            batch_size=batch_size,
            optimizer=optimizer,
            scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_epochs),
            device=cfg.device,
            desc=f"{desc}, {stage}",
        )
    print(f"{desc}: {time.perf_counter() - start:.0f} s, best validation loss {min(history.val_loss):.4g}")
    return history


def heteroscedastic_loss(model, x, z):
    return -model(x).log_prob(z).mean()


# %% [markdown]
# ## 3. A Bayesian network
#
# Every weight is a Gaussian $q(\theta) = \mathcal{N}(\mu, s^2)$, and the loss per event is the
# likelihood averaged over $q$ plus the KL divergence to the prior $\mathcal{N}(0, 1)$, divided by the
# number of training events $N$ (lecture, eq. for $\mathcal{L}_\mathrm{BNN}$):
#
# $$
# \mathcal{L} = -\frac{1}{B}\sum_{i \in \text{batch}} \log p(z_i \mid x_i, \theta)\Big|_{\theta \sim q}
# + \frac{1}{N} D_\mathrm{KL}[q(\theta), p(\theta)] .
# $$
#
# `BayesianRegressor` draws the weights anew on every call (per event, with the local reparametrisation
# trick) and returns a `Normal`; its `kl_divergence()` is the closed form, which exercise 1 asks you to
# write.
#
# The KL term grows with the number of weights and shrinks with $N$: every weight that the data do not pin
# down costs about $\log(s_p/s)$ until its width reaches the prior's. With a few $10^4$ events and the
# $\sim 3 \times 10^4$ weights of the other networks of this notebook, that pull wins: in our trials the
# weight widths grew, the predictions became noisy, the learned $\sigma$ rose to cover them, which
# weakened the likelihood's grip on the weights further, and training collapsed to the prior. The Bayesian
# network therefore gets half the width of the others (`bnn_hidden`), about a quarter of their weights.


# %%
def bnn_loss(model, x, z, n_train):
    return -model(x).log_prob(z).mean() + model.kl_divergence() / n_train


# %% [markdown]
# At evaluation we draw the weights `n_draws` times. Each draw gives a mean $\bar A(\theta)$ and a learned
# width $\sigma(\theta)$; the spread of the means is $\sigma_\mathrm{stat}$ and the average width is
# $\sigma_\mathrm{syst}$. In four lines:


# %%
def split_by_hand(means: torch.Tensor, sigmas: torch.Tensor):
    """``(draws, events)`` means and widths -> mean, sigma_stat, sigma_syst, each ``(events,)``."""
    mean = means.mean(0)
    sigma_stat = ((means - mean) ** 2).mean(0).sqrt()
    sigma_syst = (sigmas**2).mean(0).sqrt()
    return mean, sigma_stat, sigma_syst


toy_means, toy_sigmas = torch.rand(2, 30, 7, generator=torch.Generator().manual_seed(1))
for mine, package in zip(
    split_by_hand(toy_means, toy_sigmas), split_uncertainty(toy_means, toy_sigmas), strict=True
):
    torch.testing.assert_close(mine, package)
print("split_by_hand agrees with tutor.nn.split_uncertainty")

# %% [markdown]
# ## 4. A repulsive ensemble
#
# An ensemble of networks trained together, each member a particle that should sample the weight
# posterior. Trained independently they would all collapse into the nearest mode; the repulsive term, a
# kernel density estimate of the members' distribution, pushes them apart. We use the kernel in function
# space: it compares the members' predicted means $f_i$ on the batch,
# $k(f_i, f_j) = \exp(-\lVert f_i - f_j\rVert^2/h)$ with the median heuristic for $h$, and the loss whose
# gradient is the repulsive update is
#
# $$
# \mathcal{L}_\mathrm{RE} = \sum_i \Big[\mathrm{NLL}_i
# + \frac{1}{N} \log \sum_j k\big(f_i, \operatorname{stop\_grad}(f_j)\big)\Big].
# $$
#
# `EnsembleRegressor` evaluates all members in one batched product and returns a `Normal` of shape
# `(members, events)`. Written out, the loss is:


# %%
def repulsive_loss_by_hand(prediction, z, n_train):
    f = prediction.mean  # (members, batch)
    nll = -prediction.log_prob(z).mean(-1)  # (members,)
    distance2 = ((f[:, None] - f.detach()[None]) ** 2).sum(-1)  # (members, members)
    off_diagonal = distance2.detach()[~torch.eye(len(f), dtype=torch.bool, device=f.device)]
    h = off_diagonal.median() / math.log(len(f))
    return (nll + torch.log(torch.exp(-distance2 / h).sum(-1)) / n_train).sum()


check_ensemble = EnsembleRegressor(n_members, 12, hidden=(16,)).to(cfg.device)
check_batch = main["train"].x[:256], main["train"].z[:256]
torch.testing.assert_close(
    repulsive_loss_by_hand(check_ensemble(check_batch[0]), check_batch[1], n_train),
    repulsive_ensemble_loss(check_ensemble(check_batch[0]), check_batch[1], n_train),
)
print("repulsive_loss_by_hand agrees with tutor.nn.repulsive_ensemble_loss")


def ensemble_loss(model, x, z, n_train):
    return repulsive_ensemble_loss(model(x), z, n_train)


# %% [markdown]
# The ensemble's members give draws exactly like the Bayesian network's weight samples, so the same
# `split_uncertainty` turns them into $\sigma_\mathrm{stat}$ (spread of the members) and
# $\sigma_\mathrm{syst}$ (their average learned width).
#
# ## 5. Evidential regression
#
# One network, one pass, no sampling: it predicts the four parameters $(\gamma, \nu, \alpha, \beta)$ of a
# normal-inverse-gamma distribution over the Gaussian's mean and variance. The likelihood of a label is then
# a Student-$t$, and
#
# $$
# A_\mathrm{NN} = \gamma, \qquad \sigma_\mathrm{syst}^2 = \frac{\beta}{\alpha - 1}, \qquad
# \sigma_\mathrm{stat}^2 = \frac{\beta}{\nu(\alpha - 1)} .
# $$
#
# The loss is the Student-$t$ negative log-likelihood plus the evidence regulariser
# $\lambda\,|z - \gamma|\,(2\nu + \alpha)$ with $\lambda = 0.01$ (`tutor.nn.evidential_loss`; the lecture
# writes it out and exercise 3 reads the uncertainties off the parameters).


# %%
def evidential_training_loss(model, x, z):
    return evidential_loss(model(x), z, regularization=0.01)


# %% [markdown]
# ### All four, trained on the same data
#
# One table of recipes: how to build each model, its loss, and how to read the prediction and both
# uncertainties (in units of $z$) off it.


# %%
@torch.no_grad()
def evaluate(method: str, model, x: torch.Tensor):
    """Mean, sigma_stat and sigma_syst in units of z, each a numpy array ``(events,)``."""
    model.eval()
    if method == "Bayesian network":
        mean, stat, syst = split_uncertainty(*sample_predictions(model, x, n_draws))
    elif method == "repulsive ensemble":
        prediction = model(x)
        mean, stat, syst = split_uncertainty(prediction.mean, prediction.stddev)
    elif method == "evidential":
        prediction = model(x)
        mean, stat, syst = prediction.mean, prediction.sigma_stat, prediction.sigma_syst
    else:
        prediction = model(x)
        mean, syst = prediction.mean, prediction.stddev
        stat = torch.zeros_like(mean)
    return tuple(values.double().cpu().numpy() for values in (mean, stat, syst))


def train_method(method: str, data: dict[str, Split], tag: str = ""):
    n = len(data["train"].z)
    if method == "Bayesian network":
        model = BayesianRegressor(12, hidden=bnn_hidden)
        train(model, partial(bnn_loss, n_train=n), data, f"{method}{tag}", kl_weight=1 / n)
    elif method == "repulsive ensemble":
        model = EnsembleRegressor(n_members, 12, hidden=hidden)
        train(model, partial(ensemble_loss, n_train=n), data, f"{method}{tag}")
    elif method == "evidential":
        model = EvidentialRegressor(12, hidden=hidden)
        train(model, evidential_training_loss, data, f"{method}{tag}")
    else:
        model = GaussianRegressor(12, hidden=hidden)
        train(model, heteroscedastic_loss, data, f"{method}{tag}")
    return model


@dataclass
class Result:
    """Test-set prediction of one trained model, in amplitude units; arrays ``(events,)``."""

    amplitude: np.ndarray  # A_NN
    stat: np.ndarray  # sigma_stat / A
    syst: np.ndarray  # sigma_syst / A
    noisy: np.ndarray  # noisy test label
    true: np.ndarray  # exact amplitude

    @classmethod
    def of(cls, method, model, split: Split):
        mean, stat, syst = evaluate(method, model, split.x)
        amplitude = z_scaler.inverse_transform(mean)
        return cls(amplitude, stat * log_width, syst * log_width, split.noisy, split.true)

    @property
    def t_syst(self):  # (A_NN - A_train) / sigma_syst, on the noisy test labels
        return (self.amplitude - self.noisy) / (self.syst * self.amplitude)

    @property
    def t_stat(self):  # (A_NN - A_true) / sigma_stat, against the exact amplitudes
        return (self.amplitude - self.true) / (self.stat * self.amplitude)

    @property
    def delta(self):
        return self.amplitude / self.true - 1


methods = ("deterministic", "Bayesian network", "repulsive ensemble", "evidential")
models = {method: train_method(method, main) for method in methods}
results = {method: Result.of(method, model, main["test"]) for method, model in models.items()}

# %% [markdown]
# ## 6. Calibration: pulls and coverage
#
# If $\sigma_\mathrm{syst}$ is the noise, the pulls $t_\mathrm{syst} = (A_\mathrm{NN} - A_\mathrm{train}) /
# \sigma_\mathrm{syst}$ of the noisy test labels follow $\mathcal{N}(0, 1)$ (to the extent that the network's
# own error is small against the noise). If $\sigma_\mathrm{stat}$ measures the network's error, the pulls
# $t_\mathrm{stat} = (A_\mathrm{NN} - A_\mathrm{true}) / \sigma_\mathrm{stat}$ against the exact values do too.
# We quote the *width* of a pull distribution as half its central 68 % interval, which a few outliers
# cannot inflate; the legends give the standard deviation as well.


# %%
def width(values: np.ndarray) -> float:
    lo, hi = np.quantile(values, [0.16, 0.84])
    return float((hi - lo) / 2)


fig, axes = plt.subplots(1, 4, figsize=(18, 3.8), sharey=True)
for ax, (method, result) in zip(axes, results.items(), strict=True):
    tutor.plotting.plot_pulls(result.t_syst, ax=ax, label=r"$t_\mathrm{syst}$")
    ax.set_title(method)
fig.tight_layout()
plt.show()

# %% [markdown]
# A coverage curve asks the same question at every confidence level: for each nominal probability
# $p = \operatorname{erf}(k/\sqrt{2})$, the fraction of events with $|t| < k$. A calibrated uncertainty lies
# on the diagonal, an overconfident one below it.

# %%
levels = np.linspace(0.01, 4, 200)
nominal = erf(levels / np.sqrt(2))
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
for method, result in results.items():
    axes[0].plot(nominal, [np.mean(np.abs(result.t_syst) < k) for k in levels], label=method)
    if result.stat.any():
        axes[1].plot(nominal, [np.mean(np.abs(result.t_stat) < k) for k in levels], label=method)
for ax, title in zip(
    axes, (r"$t_\mathrm{syst}$ vs noisy labels", r"$t_\mathrm{stat}$ vs exact"), strict=True
):
    ax.plot([0, 1], [0, 1], color="grey", ls="--", label="calibrated")
    ax.set(xlabel="nominal coverage", ylabel="empirical coverage", title=title)
    ax.legend(fontsize="small")
fig.tight_layout()
plt.show()

print(f"| {'method':<20} | core width of Delta | <syst/A> | <stat/A> | t_syst mean, width | 68 % | 95 % |")
print(f"| {'-' * 20} | {'-' * 19} | {'-' * 8} | {'-' * 8} | {'-' * 18} | {'-' * 4} | {'-' * 4} |")
for method, r in results.items():
    coverage = [np.mean(np.abs(r.t_syst) < k) for k in (1, 2)]
    print(
        f"| {method:<20} | {width(r.delta):>19.4f} | {r.syst.mean():>8.4f} | {r.stat.mean():>8.4f} | "
        f"{np.median(r.t_syst):>8.2f}, {width(r.t_syst):>8.2f} | {coverage[0]:.2f} | {coverage[1]:.2f} |"
    )

# %% [markdown]
# How well the networks are calibrated depends on how well they fit: where the mean is off by more than the
# noise, $\sigma_\mathrm{syst}$ grows to cover the misfit (chapter 1), and the mean of $\sigma_\mathrm{syst}/A$
# lies above its median. Read the table with the core width of $\Delta$ next to $f_\mathrm{smear}$ = 5 %: only
# a network whose own error is well below the noise can measure the noise cleanly.
#
# The Bayesian network pays most for a small training set. Its KL term is divided by $N$, so with a few
# $10^4$ events it still holds many weights close to the prior: the draws scatter (a large
# $\sigma_\mathrm{stat}$), and because the likelihood is averaged over draws, every draw's learned width has to
# cover its own deviation too, which inflates $\sigma_\mathrm{syst}$ and narrows the pulls. The ensemble has
# no such penalty and its $t_\mathrm{syst}$ comes out close to a unit Gaussian. The evidential
# $\sigma_\mathrm{syst}$ alone is too small to cover the noisy labels; its $\sigma_\mathrm{stat}$ is set by
# $\nu$, which the likelihood does not fix (lecture), so the split between the two is largely an accident of
# the regulariser.
#
# ## 7. Statistics: training-set size
#
# $\sigma_\mathrm{stat}$ should shrink as the training set grows, roughly like $1/\sqrt{N}$, while
# $\sigma_\mathrm{syst}$ should stay at the noise, $f_\mathrm{smear}$. We retrain the two sampling methods
# on a quarter and a half of the training set (same noise, same epochs).

# %%
fractions = (0.25, 0.5, 1.0)
size_scan = {method: {} for method in ("Bayesian network", "repulsive ensemble")}
for method in size_scan:
    for fraction in fractions:
        if fraction == 1.0:
            size_scan[method][n_train] = results[method]
            continue
        n = int(fraction * n_train)
        subset = splits(GaussianNoise(f_main), n_train=n)
        model = train_method(method, subset, tag=f", {n} events")
        size_scan[method][n] = Result.of(method, model, subset["test"])

fig, ax = plt.subplots(figsize=(7, 4.5))
for (method, scan), colour in zip(size_scan.items(), ("C1", "C2"), strict=True):
    sizes = list(scan)
    ax.plot(sizes, [r.stat.mean() for r in scan.values()], "o-", color=colour, label=f"{method}: stat")
    ax.plot(sizes, [r.syst.mean() for r in scan.values()], "s--", color=colour, label=f"{method}: syst")
ax.axhline(f_main, color="grey", ls=":", label=r"$f_\mathrm{smear}$")
ax.set(xscale="log", yscale="log", xlabel="training events $N$", ylabel=r"mean $\sigma / A$ (test)")
ax.legend(fontsize="small")
plt.show()
for method, scan in size_scan.items():
    print(
        f"{method:<20}",
        "; ".join(f"N = {n}: stat {r.stat.mean():.4f}, syst {r.syst.mean():.4f}" for n, r in scan.items()),
    )

# %% [markdown]
# Four times more data should shrink $\sigma_\mathrm{stat}$ by about a factor two, if it behaves like the
# width of a posterior; the results section checks the ratio. $\sigma_\mathrm{syst}$ falls as well while
# the network's own misfit is a large part of it, and should flatten towards $f_\mathrm{smear}$ once the
# network is precise enough.

# %% [markdown]
# ## 8. Noise scaling and the plateau
#
# With less and less noise, $\sigma_\mathrm{syst}$ cannot follow it to zero: it levels off where the
# network's own limitations start. The lectures parametrise this as
# $\sigma_\mathrm{syst}^2 - \sigma_{\mathrm{syst},0}^2 \approx \sigma_\mathrm{train}^2$. We train every method
# at every noise level, including $f_\mathrm{smear} = 0$ (exact labels), where $\sigma_\mathrm{syst}$ *is*
# the plateau $\sigma_{\mathrm{syst},0}$, and compare it with the value extrapolated from the noisy runs,
# $\sqrt{\langle\sigma_\mathrm{syst}/A\rangle^2 - f_\mathrm{smear}^2}$.

# %%
noise_levels = tutor.pick(ci=(0.0, 0.05, 0.10), cpu=(0.0, 0.05, 0.10), gpu=(0.0, 0.01, 0.05, 0.10))
noise_scan = {method: {f_main: results[method]} for method in methods}
for f_smear in noise_levels:
    if f_smear == f_main:
        continue
    data = splits(GaussianNoise(f_smear) if f_smear else None)
    for method in methods:
        model = train_method(method, data, tag=f", f_smear = {f_smear}")
        noise_scan[method][f_smear] = Result.of(method, model, data["test"])

fig, ax = plt.subplots(figsize=(7, 4.5))
grid = np.linspace(0, max(noise_levels) * 1.05, 100)
for method, scan in noise_scan.items():
    levels_run = sorted(scan)
    mean_syst = np.array([scan[f].syst.mean() for f in levels_run])
    line = ax.plot(levels_run, mean_syst, "o", label=f"{method}: mean")[0]
    ax.plot(levels_run, [np.median(scan[f].syst) for f in levels_run], "x", color=line.get_color())
    ax.plot(grid, np.sqrt(grid**2 + mean_syst[0] ** 2), color=line.get_color(), ls=":", lw=1)
ax.plot(grid, grid, color="grey", ls="--", label=r"$\sigma_\mathrm{syst}/A = f_\mathrm{smear}$")
ax.set(xlabel=r"injected $f_\mathrm{smear}$", ylabel=r"$\sigma_\mathrm{syst}/A$ (test): mean (o), median (x)")
ax.legend(fontsize="small")
plt.show()

plateau = {method: scan[0.0].syst.mean() for method, scan in noise_scan.items()}
for method, scan in noise_scan.items():
    extrapolated = [np.sqrt(max(scan[f].syst.mean() ** 2 - f**2, 0)) for f in sorted(scan) if f > 0]
    print(
        f"{method:<20} plateau <sigma_syst/A> at f = 0: {plateau[method]:.4f}; "
        f"extrapolated from f > 0: {', '.join(f'{value:.4f}' for value in extrapolated)}"
    )

# %% [markdown]
# The dotted curves are $\sqrt{f_\mathrm{smear}^2 + \sigma_{\mathrm{syst},0}^2}$ with the mean plateau measured
# at $f_\mathrm{smear} = 0$: where the points follow them, and where the extrapolated plateaus printed above
# agree with the measured one, the noise and the network's floor add in quadrature, as the lectures' scaling
# law says. The plateau is the precision of the network itself, and its mean over events is dominated by
# the few collinear corners where the network is worst (the crosses, the medians, lie lower). The
# lectures quote about 0.4 % for a loop amplitude with far more data and training than here. Where the
# extrapolation fails, the method does not add its floor and the noise in quadrature: the Bayesian
# network's floor at small $N$ is mostly its own weight scatter, and the evidential mean is at the mercy of
# the few events with $\alpha$ close to 1, whose $\beta/(\alpha - 1)$ is huge.
#
# ## 9. A phase-space gap
#
# Now the labels are exact everywhere except in a window of the invariant mass $m_{12}$ of the first two
# outgoing gluons, $400 < m_{12} < 500$ GeV, where they carry a relative noise $\epsilon$. An honest
# uncertainty rises inside the window and stays at its floor outside. The noise must exceed that floor to
# be seen: $\epsilon = 10\,\%$, except at the ci profile, whose small networks are not precise enough and
# get $20\,\%$.

# %%
window, f_gap = (400.0, 500.0), tutor.pick(ci=0.2, cpu=0.1, gpu=0.1)
gap_data = splits(GaussianNoise(f_gap, window=window))
test_momenta = load_amplitudes("gg->ggg", n_events=n_events, progress=False).test[0]
m12 = lorentz.invariant_mass(test_momenta[:, [2, 3]])
inside = (m12 > window[0]) & (m12 < window[1])
gap_results = {}
for method in methods:
    model = train_method(method, gap_data, tag=", gap")
    gap_results[method] = Result.of(method, model, gap_data["test"])

mass_bins = np.linspace(100, 900, 33)
centres = (mass_bins[1:] + mass_bins[:-1]) / 2
index = np.digitize(m12, mass_bins) - 1
fig, ax = plt.subplots(figsize=(8, 4.5))
for method, result in gap_results.items():
    binned = [
        np.median(result.syst[index == k]) if np.any(index == k) else np.nan for k in range(len(centres))
    ]
    ax.plot(centres, binned, "o-", ms=3, label=method)
ax.axvspan(*window, color="grey", alpha=0.2, label=rf"noise $\epsilon$ = {f_gap}")
ax.set(xlabel=r"$m_{12}$ [GeV]", ylabel=r"median $\sigma_\mathrm{syst}/A$ (test)", yscale="log")
ax.legend(fontsize="small")
plt.show()

# Medians: a few events far outside the window with a huge width (a corner of phase space, or an evidential
# alpha close to 1) must not decide whether the window is seen.
gap_ratio = {
    method: np.median(r.syst[inside]) / np.median(r.syst[~inside]) for method, r in gap_results.items()
}
for method, r in gap_results.items():
    print(
        f"{method:<20} median sigma_syst/A inside {np.median(r.syst[inside]):.4f}, "
        f"outside {np.median(r.syst[~inside]):.4f} (ratio {gap_ratio[method]:.1f})"
    )

# %% [markdown]
# A method sees the window when its $\sigma_\mathrm{syst}$ inside clearly exceeds that outside; it can only
# do so if its floor outside lies below the injected noise, which is why the smallest profile needs the
# larger $\epsilon$, and why a Bayesian network still dominated by its weight scatter may miss it. Where the
# window is seen, the learned noise is local in phase space: its edges are as sharp as the network's
# resolution in $m_{12}$, which is not one of its inputs but a function of them.
#
# ## Results
#
# The headline numbers, checked against their bands for the active profile with `tutor.expect`.

# %%
# Where the bands come from. ci: measured in CI runs (seeds 0 and 1, 2 CPU cores). cpu: measured in
# cpu-profile runs (seed 0, 2-core AMD EPYC; the latest is the run shown here). Both are widened for
# seed-to-seed scatter. gpu: targets (tutor.target), since no gpu run has measured them: the course's goals
# (pull widths within [0.8, 1.2], <sigma_syst/A> within 20 % of f_smear) or, where there is none, sanity
# bounds. The evidential means are wide: a few events with alpha close to 1 carry a huge beta / (alpha - 1).
bands = {  # method: bands of <sigma_syst/A> / f_smear, of the gap ratio, of the plateau <sigma_syst/A>
    "deterministic": (
        dict(ci=(1.2, 6), cpu=(0.9, 3), gpu=tutor.target(0.8, 1.2)),
        dict(ci=(1.05, 10), cpu=(1.3, 10), gpu=tutor.target(1.5, 20)),
        dict(ci=(0.05, 0.5), cpu=(0.02, 0.2), gpu=tutor.target(0, 0.15)),
    ),
    "Bayesian network": (
        dict(ci=(1.5, 12), cpu=(1.2, 6), gpu=tutor.target(0.8, 1.2)),
        dict(ci=(0.6, 10), cpu=(0.6, 10), gpu=tutor.target(1.5, 20)),
        dict(ci=(0.1, 1), cpu=(0.04, 0.4), gpu=tutor.target(0, 0.15)),
    ),
    "repulsive ensemble": (
        dict(ci=(1.2, 6), cpu=(0.9, 3), gpu=tutor.target(0.8, 1.2)),
        dict(ci=(1.05, 10), cpu=(1.3, 10), gpu=tutor.target(1.5, 20)),
        dict(ci=(0.05, 0.5), cpu=(0.02, 0.2), gpu=tutor.target(0, 0.15)),
    ),
    "evidential": (
        dict(ci=(0.5, 10), cpu=(0.4, 5), gpu=tutor.target(0.8, 1.2)),
        dict(ci=(1.05, 10), cpu=(1.3, 10), gpu=tutor.target(1.5, 20)),
        dict(ci=(0.05, 3), cpu=(0.02, 2), gpu=tutor.target(0, 1)),
    ),
}
for method in ("Bayesian network", "repulsive ensemble"):
    tutor.expect(
        f"{method}: width of t_syst at f_smear = {f_main}",
        width(results[method].t_syst),
        ci=(0.4, 1.3),
        cpu=(0.6, 1.3),
        gpu=tutor.target(0.8, 1.2),
    )
for method, (tracking, gap, floor) in bands.items():
    for f_smear in (f for f in noise_levels if f > 0):
        ratio = noise_scan[method][f_smear].syst.mean() / f_smear
        tutor.expect(f"{method}: <sigma_syst/A> / f_smear at {f_smear}", ratio, **tracking)
    tutor.expect(f"{method}: gap, median sigma_syst/A inside / outside", gap_ratio[method], **gap)
    tutor.expect(f"{method}: plateau <sigma_syst/A>", plateau[method], **floor)
for method, band in (
    ("Bayesian network", dict(ci=(0.5, 4), cpu=(1.3, 5), gpu=tutor.target(1.3, 6))),
    ("repulsive ensemble", dict(ci=(1.2, 4), cpu=(1.3, 5), gpu=tutor.target(1.3, 6))),
):
    scan = size_scan[method]
    tutor.expect(
        f"{method}: sigma_stat ratio, N/4 over N",
        scan[min(scan)].stat.mean() / scan[max(scan)].stat.mean(),
        **band,
    )

print(
    "| method | core width of Delta | <syst/A> | median syst/A | <stat/A> | t_syst mean, width "
    "| 68 % | 95 % | plateau |"
)
print("| --- " * 9 + "|")
for method, r in results.items():
    coverage = [np.mean(np.abs(r.t_syst) < k) for k in (1, 2)]
    print(
        f"| {method} | {width(r.delta):.4f} | {r.syst.mean():.4f} | {np.median(r.syst):.4f} | "
        f"{r.stat.mean():.4f} | "
        f"{np.median(r.t_syst):.2f}, {width(r.t_syst):.2f} | {coverage[0]:.2f} | {coverage[1]:.2f} | "
        f"{plateau[method]:.4f} |"
    )

# %% [markdown]
# **How this compares with the literature.** [Bahl et al.](https://arxiv.org/abs/2412.12069) train Bayesian
# networks and repulsive ensembles on the one-loop amplitudes of $gg \to \gamma\gamma g(g)$ with millions of
# events and long trainings, and find calibrated pulls for artificial noise, $\sigma_\mathrm{syst}$ that
# follows the noise down to a plateau of about 0.4 %, and, in
# [the follow-up](https://arxiv.org/abs/2509.00155), that all three methods flag a noisy phase-space window.
# This notebook uses tree-level $gg \to ggg$ with at most $2 \times 10^5$ events and minutes of training, so
# its plateau is higher and its calibration rougher, the more so at the smaller profiles; what carries over
# is the pattern: $\sigma_\mathrm{syst}$ follows the noise in quadrature with a floor, $\sigma_\mathrm{stat}$
# falls with more data, and a local noise is learned locally.
#
# ## Exercises
#
# ### Exercise 1: the KL term of a Gaussian weight posterior
#
# For a factorised Gaussian posterior $q = \prod_k \mathcal{N}(\mu_k, s_k^2)$ and the prior
# $\mathcal{N}(0, s_p^2)$ for every weight,
# $D_\mathrm{KL}[q, p] = \sum_k \big[\log(s_p/s_k) + (s_k^2 + \mu_k^2)/(2 s_p^2) - 1/2\big]$.
# Write `gaussian_kl(mu, log_s, prior_sigma)` returning this sum as a scalar tensor. The check compares it
# with `torch.distributions.kl_divergence` and with `BayesianRegressor.kl_divergence()`, and tests that it
# vanishes when posterior and prior agree.


# %% tags=["solution", "hide-input"]
# Hint: s_k = exp(log_s); sum over all elements.
def gaussian_kl(mu: torch.Tensor, log_s: torch.Tensor, prior_sigma: float = 1.0) -> torch.Tensor:
    return (math.log(prior_sigma) - log_s + (torch.exp(2 * log_s) + mu**2) / (2 * prior_sigma**2) - 0.5).sum()


# %% tags=["check"]
generator = torch.Generator().manual_seed(7)
mu_check, log_s_check = torch.randn(2, 5, 3, generator=generator)
reference_kl = torch.distributions.kl_divergence(
    torch.distributions.Normal(mu_check, log_s_check.exp()), torch.distributions.Normal(0.0, 2.0)
).sum()
assert torch.allclose(gaussian_kl(mu_check, log_s_check, 2.0), reference_kl, atol=1e-5), "KL is off"
assert abs(float(gaussian_kl(torch.zeros(4), torch.zeros(4)))) < 1e-6, "posterior = prior must give zero"
bnn = models["Bayesian network"]
with torch.no_grad():
    by_hand = sum(
        gaussian_kl(layer.weight_mu, layer.weight_log_sigma)
        + gaussian_kl(layer.bias_mu, layer.bias_log_sigma)
        for layer in bnn.layers
    )
assert torch.allclose(by_hand, bnn.kl_divergence(), rtol=1e-4), "does not match the trained network's KL"
print(f"Exercise 1: correct (KL of the trained network: {by_hand.item():.4g}, over N = {n_train} events)")

# %% [markdown]
# ### Exercise 2: the repulsive update
#
# For member $i$, the repulsive part of the update is the force
# $F_i = -\sum_j \nabla_{f_i} k(f_i, f_j) \,/\, \sum_j k(f_i, f_j)$ with $k = \exp(-\lVert f_i - f_j\rVert^2/h)$.
# Write `repulsive_force(f, h)` for predictions `f` of shape `(members, events)`, returning the forces of shape
# `(members, events)` in closed form: $\nabla_{f_i} k(f_i, f_j) = -2 (f_i - f_j)\, k(f_i, f_j) / h$. The check
# compares with autograd and tests that the force points away from the other members.


# %% tags=["solution", "hide-input"]
# Hint: broadcast f[:, None] - f[None] to (members, members, events).
def repulsive_force(f: torch.Tensor, h: float) -> torch.Tensor:
    difference = f[:, None] - f[None]  # (members, members, events)
    kernel = torch.exp(-(difference**2).sum(-1) / h)  # (members, members)
    return (2 / h) * (kernel[..., None] * difference).sum(1) / kernel.sum(1, keepdim=True)


# %% tags=["check"]
f_check = torch.randn(4, 6, generator=torch.Generator().manual_seed(2), requires_grad=True)
h_check = 3.0
kernel_rows = torch.exp(-((f_check[:, None] - f_check.detach()[None]) ** 2).sum(-1) / h_check).sum(-1)
(autograd_force,) = torch.autograd.grad(-torch.log(kernel_rows).sum(), f_check)
force = repulsive_force(f_check.detach(), h_check)
assert force.shape == (4, 6), f"expected shape (4, 6), got {tuple(force.shape)}"
assert torch.allclose(force, autograd_force, atol=1e-5), "does not match the gradient of -log sum_j k"
pair = repulsive_force(torch.tensor([[0.0], [1.0]]), 1.0)
assert pair[0, 0] < 0 < pair[1, 0], "two members should be pushed apart"
print("Exercise 2: correct")

# %% [markdown]
# ### Exercise 3: reading the evidential network
#
# Write `evidential_uncertainties(gamma, nu, alpha, beta)` returning `(sigma_syst, sigma_stat)` from the
# normal-inverse-gamma parameters. The check compares with `NormalInverseGamma` and tests
# $\sigma_\mathrm{stat}^2 + \sigma_\mathrm{syst}^2 = \mathrm{Var}[A]$ of the Student-$t$ predictive.
# Then: on the test events of the main run, which is larger on average, and what does that say about
# $\nu$?


# %% tags=["solution", "hide-input"]
# Hint: sigma_syst^2 = beta / (alpha - 1); sigma_stat^2 = sigma_syst^2 / nu.
def evidential_uncertainties(gamma, nu, alpha, beta):
    sigma_syst = torch.sqrt(beta / (alpha - 1))
    return sigma_syst, sigma_syst / torch.sqrt(nu)


# %% tags=["check"]
with torch.no_grad():
    nig = models["evidential"](main["test"].x[:1000])
mine_syst, mine_stat = evidential_uncertainties(nig.gamma, nig.nu, nig.alpha, nig.beta)
assert torch.allclose(mine_syst, nig.sigma_syst) and torch.allclose(mine_stat, nig.sigma_stat), "formulas"
variance = nig.predictive().variance  # finite: 2 alpha > 2 degrees of freedom
assert torch.allclose(mine_syst**2 + mine_stat**2, variance, rtol=1e-3), (
    "should add up to Var of the Student-t"
)
print(f"Exercise 3: correct; mean nu on test events {nig.nu.mean():.3g}")
