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
# # 00. Networks are fits
#
# [![Open In Colab](../book/_static/colab-badge.svg)](https://colab.research.google.com/github/reps4lhc/reps4lhc/blob/main/notebooks/00_networks_are_fits.ipynb)
#
# Training a neural network for regression is a fit, the same statistics physicists use every day, only
# with a different representation of the function. This notebook fits one and the same measurement twice:
# the muon-pair cross section around the Z pole, once with the Standard-Model formula and its three
# parameters, and once with a small network that knows nothing about physics. It accompanies the lecture
# page [Representation learning](../book/00_representation_learning.md), which derives the formula.
#
# **Learning goals.** After this notebook you can
# - write the Gaussian likelihood loss of a regression and see that it is $\chi^2/2$,
# - preprocess inputs and targets so that a network can fit them, and train it with `tutor.fit`,
# - judge a fit by its $\chi^2$ and its pulls, whether the function is a formula or a network,
# - explain why the physics fit extrapolates beyond the measured range and the network does not.

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
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import optimize

import reps4lhc_tutor as tutor
from reps4lhc_tutor.nn import MLP
from reps4lhc_tutor.physics import electroweak as ew

cfg = tutor.setup(seed=0)
tutor.plotting.use_style()

# %% [markdown]
# ## 1. The physics: $e^+e^- \to \mu^+\mu^-$ near the Z pole
#
# At leading order an electron and a positron annihilate into a photon or a Z boson, which decays into a
# muon pair. For massless fermions the distribution of the angle $\theta$ between the incoming electron
# and the outgoing muon is a quadratic polynomial in $\cos\theta$:
#
# $$
# \frac{d\sigma}{d\cos\theta} = \frac{\pi\alpha^2}{2s}\Big[A_0(s)\,(1+\cos^2\theta) + A_1(s)\cos\theta\Big],
# \qquad
# \chi(s) = \frac{1}{4\sin^2\theta_W\cos^2\theta_W}\,\frac{s}{s - M_Z^2 + i M_Z\Gamma_Z},
# $$
#
# $$
# A_0 = 1 + 2 v_e v_\mu \,\mathrm{Re}\,\chi + (v_e^2+a_e^2)(v_\mu^2+a_\mu^2)\,|\chi|^2,
# \qquad
# A_1 = 4 a_e a_\mu \,\mathrm{Re}\,\chi + 8 v_e a_e v_\mu a_\mu\,|\chi|^2 ,
# $$
#
# with the lepton couplings to the Z, $a = -\tfrac12$ and $v = -\tfrac12 + 2\sin^2\theta_W$. The "1" in
# $A_0$ is pure photon exchange (QED), the terms linear in $\chi$ are the photon–Z interference, and the
# $|\chi|^2$ terms are the Z resonance. Integrating over the angle gives the total cross section and the
# forward–backward asymmetry,
#
# $$
# \sigma(s) = \frac{4\pi\alpha^2}{3s} A_0(s), \qquad
# A_{FB}(s) = \frac{\sigma_{\cos\theta>0} - \sigma_{\cos\theta<0}}{\sigma} = \frac{3A_1(s)}{8A_0(s)} .
# $$
#
# Three numbers shape everything near the pole: the Z mass $M_Z$ (where), its width $\Gamma_Z$ (how
# broad) and the weak mixing angle $\sin^2\theta_W$ (the couplings, hence the height and the asymmetry).
# `reps4lhc_tutor.physics.electroweak` implements these formulas in NumPy, with cross sections in pb.

# %%
truth = ew.ElectroweakParameters()  # measured values; our pseudo-data are generated with them
print(truth)

cos_grid = np.linspace(-1, 1, 101)
energy_grid = np.linspace(20, 130, 1101)

fig, axes = plt.subplots(1, 3, figsize=(14, 4))
for sqrt_s in (35.0, 88.0, truth.m_z, 94.0):
    shape = ew.differential_cross_section(sqrt_s, cos_grid, truth) / ew.total_cross_section(sqrt_s, truth)
    axes[0].plot(cos_grid, shape, label=f"{sqrt_s:.1f} GeV")
axes[0].set(xlabel=r"$\cos\theta$", ylabel=r"$\sigma^{-1}\, d\sigma/d\cos\theta$", title="angular shape")
axes[0].legend()

axes[1].plot(energy_grid, ew.total_cross_section(energy_grid, truth), label=r"$\gamma$ + Z")
qed = 4 * np.pi * truth.alpha**2 / (3 * energy_grid**2) * ew.GEV2_TO_PB
axes[1].plot(energy_grid, qed, "--", label=r"$\gamma$ only")
axes[1].set(xlabel=r"$\sqrt{s}$ [GeV]", ylabel=r"$\sigma$ [pb]", yscale="log", title="total cross section")
axes[1].legend()

axes[2].plot(energy_grid, ew.forward_backward_asymmetry(energy_grid, truth))
axes[2].axhline(0, color="grey", lw=0.8)
axes[2].axvline(truth.m_z, color="grey", lw=0.8, ls=":")
axes[2].set(xlabel=r"$\sqrt{s}$ [GeV]", ylabel=r"$A_{FB}$", title="forward-backward asymmetry")
fig.tight_layout()
plt.show()

# %% [markdown]
# Below the pole the interference makes muons go backwards ($A_{FB}<0$), above it forwards. At the pole
# $\mathrm{Re}\,\chi = 0$: the interference vanishes and only the small vector coupling $v\approx -0.04$
# leaves an asymmetry, $A_{FB} \approx \tfrac34 \mathcal{A}_e\mathcal{A}_\mu$ with
# $\mathcal{A}_f = 2v_fa_f/(v_f^2+a_f^2)$. These numbers do not depend on the profile or the seed:

# %%
# NBVAL_CHECK_OUTPUT
v, a = ew.lepton_couplings(truth)
lepton_asymmetry = 2 * v * a / (v**2 + a**2)
print(f"sigma(M_Z)       = {float(ew.total_cross_section(truth.m_z, truth)):.6g} pb")
print(f"A_FB(M_Z)        = {float(ew.forward_backward_asymmetry(truth.m_z, truth)):.6g}")
print(f"(3/4) A_e A_mu   = {0.75 * lepton_asymmetry**2:.6g}")
print(f"sigma(10 GeV)    = {float(ew.total_cross_section(10.0, truth)):.6g} pb")
print(f"A_FB(10 GeV)     = {float(ew.forward_backward_asymmetry(10.0, truth)):.6g}")

# %% [markdown]
# ## 2. Pseudo-data: a scan of the Z line shape
#
# We simulate a LEP-like scan: at each centre-of-mass energy in the training range the muon pairs are
# counted in bins of $\cos\theta$. The expected count in a bin is the integrated luminosity times the
# integral of $d\sigma/d\cos\theta$ over the bin; the observed count is Poisson distributed around it.
# The measurement is the count divided by luminosity and bin width, with the statistical error
# $\sqrt{N}/(L\,\Delta\cos\theta)$. All sizes are chosen here, in plain sight, for the three profiles.

# %%
n_energies = tutor.pick(ci=15, cpu=29, gpu=57)  # energy points in the training range
n_cos_bins = tutor.pick(ci=10, cpu=20, gpu=40)  # bins in cos(theta) at each energy
luminosity = tutor.pick(ci=20.0, cpu=100.0, gpu=500.0)  # integrated luminosity per energy point, pb^-1
train_range = (84.0, 98.0)  # GeV: the scan; everything outside is extrapolation

rng = np.random.default_rng(cfg.seed)
data = ew.sample_pseudodata(rng, np.linspace(*train_range, n_energies), n_cos_bins, luminosity, truth)
cos_edges = np.linspace(-1, 1, n_cos_bins + 1)
n_points = data.dsigma.size
print(f"{n_energies} energies x {n_cos_bins} cos bins = {n_points} measurements, L = {luminosity:g}/pb each")
relative_error = data.error / data.dsigma
print(f"relative errors from {relative_error.min():.1%} to {relative_error.max():.1%}")

fig, ax = plt.subplots(figsize=(7, 4))
for index in (0, n_cos_bins // 2, n_cos_bins - 1):
    ax.errorbar(
        data.sqrt_s[:, index],
        data.dsigma[:, index],
        data.error[:, index],
        fmt="o",
        ms=3,
        label=rf"$\cos\theta = {data.cos_theta[0, index]:+.2f}$",
    )
ax.set(xlabel=r"$\sqrt{s}$ [GeV]", ylabel=r"$d\sigma/d\cos\theta$ [pb]", yscale="log")
ax.legend()
plt.show()

# %% [markdown]
# ## 3. The physics fit: three parameters
#
# The physics representation of the data is the formula above with $(M_Z, \Gamma_Z, \sin^2\theta_W)$
# free and $\alpha$ fixed. We minimise
#
# $$
# \chi^2(\theta) = \sum_i \frac{\big(y_i - f_\theta(x_i)\big)^2}{\sigma_i^2},
# $$
#
# where $f_\theta$ is the bin-averaged cross section, so that model and measurement mean the same thing.
# `scipy.optimize.least_squares` takes the vector of residuals $(y_i - f_\theta(x_i))/\sigma_i$; its
# Jacobian $J$ at the minimum gives the covariance $(J^TJ)^{-1}$ of the parameters.

# %%
parameter_names = ("m_z", "width_z", "sin2_theta_w")


def physics_model(theta: np.ndarray) -> np.ndarray:
    """Bin-averaged dsigma/dcos in pb for theta = (M_Z, Gamma_Z, sin^2 theta_W); shape (energies, bins)."""
    params = ew.ElectroweakParameters(**dict(zip(parameter_names, theta, strict=True)), alpha=truth.alpha)
    return ew.bin_averaged_cross_section(data.sqrt_s, cos_edges[:-1], cos_edges[1:], params)


def residuals(theta: np.ndarray) -> np.ndarray:
    return ((data.dsigma - physics_model(theta)) / data.error).ravel()


start = np.array([90.0, 3.0, 0.22])  # a deliberately rough starting point
result = optimize.least_squares(residuals, start, bounds=([80, 0.1, 0.01], [100, 10, 0.5]), x_scale="jac")
covariance = np.linalg.inv(result.jac.T @ result.jac)
fit_errors = np.sqrt(np.diag(covariance))
fitted = ew.ElectroweakParameters(**dict(zip(parameter_names, result.x, strict=True)), alpha=truth.alpha)
chi2 = float(np.sum(result.fun**2))
ndf = n_points - len(parameter_names)

print(f"converged: {result.success}, chi2/ndf = {chi2:.1f}/{ndf} = {chi2 / ndf:.3f}")
for name, value, error in zip(parameter_names, result.x, fit_errors, strict=True):
    true_value = getattr(truth, name)
    pull = (value - true_value) / error
    print(f"{name:>13} = {value:.5f} +- {error:.5f}   (truth {true_value:.5f}, pull {pull:+.2f})")

# %% [markdown]
# With correct errors, $\chi^2/\mathrm{ndf}$ scatters around 1 with a width of $\sqrt{2/\mathrm{ndf}}$, and
# each parameter lies within about one standard error of the truth. The physics fit needs three numbers
# to describe all measurements, and each number means something.
#
# ## 4. The network fit: thousands of parameters
#
# Now we replace the formula by a multilayer perceptron $f_\theta(\sqrt{s}, \cos\theta)$. Nothing else
# changes: it is still a fit, and the statistics decide the loss. For Gaussian errors $\sigma_i$ the
# likelihood of the measurements is $\prod_i \exp[-(y_i - f_\theta(x_i))^2/(2\sigma_i^2)]$ up to
# constants, so the negative log-likelihood is
#
# $$
# \mathcal{L}(\theta) = \sum_i \frac{\big(y_i - f_\theta(x_i)\big)^2}{2\sigma_i^2} = \frac{\chi^2}{2} .
# $$
#
# Two choices make the fit work in practice (the *preprocessing*):
# - **Inputs** are standardised to mean 0 and variance 1. A freshly initialised network is most flexible
#   for inputs of order one; raw energies around 90 GeV would saturate it.
# - **The target** is $y = \log(d\sigma/d\cos\theta)$. The cross section varies by two orders of magnitude
#   across the scan; in the logarithm the resonance becomes a bump a few units high, and an error becomes
#   relative, $\sigma_y = \sigma_i / (d\sigma/d\cos\theta)_i$, so every bin counts by its precision rather
#   than its size.
#
# A random fifth of the bins is held out as validation data: `tutor.fit` keeps the weights of the epoch
# with the best validation loss.

# %%
inputs = np.stack([data.sqrt_s.ravel(), data.cos_theta.ravel()], axis=-1)  # (n_points, 2)
input_mean, input_std = inputs.mean(axis=0), inputs.std(axis=0)
target = np.log(data.dsigma.ravel())  # (n_points,)
target_error = (data.error / data.dsigma).ravel()  # error propagation: d(log y) = dy / y


def standardise(sqrt_s: np.ndarray, cos_theta: np.ndarray) -> torch.Tensor:
    """Network inputs of shape (..., 2) from energies and cosines of any common shape."""
    x = np.stack(np.broadcast_arrays(sqrt_s, cos_theta), axis=-1)
    return torch.as_tensor((x - input_mean) / input_std, dtype=torch.float32)


x_all = standardise(data.sqrt_s.ravel(), data.cos_theta.ravel())
y_all = torch.as_tensor(target, dtype=torch.float32)
sigma_all = torch.as_tensor(target_error, dtype=torch.float32)

order = torch.randperm(n_points, generator=torch.Generator().manual_seed(cfg.seed))
is_val = torch.zeros(n_points, dtype=torch.bool)
is_val[order[: n_points // 5]] = True
train = (x_all[~is_val], y_all[~is_val], sigma_all[~is_val])
val = (x_all[is_val], y_all[is_val], sigma_all[is_val])
print(f"{len(train[0])} training and {len(val[0])} validation bins")

# %% [markdown]
# The loss, in five lines: the network returns shape `(batch, 1)`, the targets and errors have shape
# `(batch,)`. We take the mean instead of the sum, which only rescales the learning rate.


# %%
def gaussian_nll(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, sigma: torch.Tensor):
    """chi^2 / 2 per bin for inputs (batch, 2), targets (batch,) and known errors (batch,)."""
    prediction = model(x).squeeze(-1)  # (batch,)
    return 0.5 * (((prediction - y) / sigma) ** 2).mean()


# %% [markdown]
# With a few hundred to a few thousand bins the whole data set fits in one batch, so every step sees all of
# it (full-batch training). Adam with a learning rate that decays along a cosine does the minimisation.

# %%
hidden = tutor.pick(ci=(64, 64), cpu=(64, 64), gpu=(128, 128))
epochs = tutor.pick(ci=3_000, cpu=6_000, gpu=15_000)  # full-batch steps

model = MLP(2, 1, hidden=hidden)
n_parameters = sum(p.numel() for p in model.parameters())
print(f"MLP {hidden}: {n_parameters} parameters for {len(train[0])} measurements")
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
history = tutor.fit(
    model,
    gaussian_nll,
    train,
    val,
    epochs=epochs,
    batch_size=n_points,
    optimizer=optimizer,
    scheduler=scheduler,
    device=cfg.device,
    desc="MLP fit",
)
best = history.best_epoch
train_chi2, val_chi2 = 2 * history.train_loss[best], 2 * history.val_loss[best]
print(f"best epoch {best}: chi2 per bin {train_chi2:.3f} (training), {val_chi2:.3f} (validation)")

# %%
fig, ax = plt.subplots(figsize=(6, 4))
tutor.plotting.plot_history(history, ax=ax)
ax.set(ylabel=r"loss $= \chi^2 / (2\,n_\mathrm{bins})$")
plt.show()

# %% [markdown]
# The loss per bin approaches $1/2$, i.e. $\chi^2$ per bin approaches 1: the network describes the data
# to within their errors. Unlike the physics fit it has far more parameters than measurements; what stops
# it from fitting the noise is the smoothness of the small network, the finite training time, and the
# validation bins that pick the epoch.
#
# ## 5. Residuals and pulls
#
# A *pull* is the residual in units of its error, $(f(x_i) - y_i)/\sigma_i$. If the model is right and the
# errors are Gaussian, pulls follow a standard normal distribution, for any representation.


# %%
def mlp_cross_section(sqrt_s: np.ndarray, cos_theta: np.ndarray) -> np.ndarray:
    """dsigma/dcos in pb predicted by the network, for energies and cosines of any common shape."""
    model.eval()
    with torch.no_grad():
        log_sigma = model(standardise(sqrt_s, cos_theta).to(cfg.device)).squeeze(-1)
    return np.exp(log_sigma.cpu().numpy().astype(np.float64))


physics_pulls = tutor.metrics.pulls(physics_model(result.x), data.dsigma, data.error)
mlp_pulls = tutor.metrics.pulls(mlp_cross_section(data.sqrt_s, data.cos_theta), data.dsigma, data.error)
val_mask = is_val.numpy().reshape(data.dsigma.shape)

for name, pulls in (
    ("physics fit", physics_pulls),
    ("MLP, training bins", mlp_pulls[~val_mask]),
    ("MLP, validation bins", mlp_pulls[val_mask]),
):
    print(f"{name:>20}: pull mean {pulls.mean():+.3f}, width {pulls.std():.3f}")

fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
for ax, pulls, name in ((axes[0], physics_pulls, "physics fit"), (axes[1], mlp_pulls, "MLP")):
    if name == "MLP":
        ax.scatter(data.sqrt_s[~val_mask], pulls[~val_mask], s=8, label="training bins")
        ax.scatter(data.sqrt_s[val_mask], pulls[val_mask], s=8, label="validation bins")
    else:
        ax.scatter(data.sqrt_s, pulls, s=8, label="all bins")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel=r"$\sqrt{s}$ [GeV]", title=name)
    ax.legend()
axes[0].set_ylabel("pull")
plt.show()

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
tutor.plotting.plot_pulls(physics_pulls, bins=24, limits=(-4, 4), ax=axes[0], label="physics fit")
tutor.plotting.plot_pulls(mlp_pulls, bins=24, limits=(-4, 4), ax=axes[1], label="MLP")
plt.show()

# %% [markdown]
# Both representations describe the measured range: pull distributions close to $\mathcal{N}(0,1)$. The
# network's pulls on the validation bins are a little wider than on its training bins; that difference is
# the price of learning the function from the data instead of knowing it.
#
# ## 6. Extrapolation: what each representation knows
#
# Now we ask both fits about energies where nothing was measured, from 60 to 120 GeV, and compare with
# the truth. As a measure we take the median of $|\log(\text{fit}/\text{truth})|$ over a grid of angles,
# inside the scan and far outside it (more than 12 GeV beyond either end).

# %%
wide_energies = np.linspace(60.0, 120.0, 241)
inside = (wide_energies >= train_range[0]) & (wide_energies <= train_range[1])
far_outside = (wide_energies < train_range[0] - 12) | (wide_energies > train_range[1] + 12)
check_cos = np.linspace(-0.9, 0.9, 7)
wide_s, wide_cos = np.meshgrid(wide_energies, check_cos, indexing="ij")  # (241, 7)
true_wide = ew.differential_cross_section(wide_s, wide_cos, truth)
log_error = {
    "physics fit": np.abs(np.log(ew.differential_cross_section(wide_s, wide_cos, fitted) / true_wide)),
    "MLP": np.abs(np.log(mlp_cross_section(wide_s, wide_cos) / true_wide)),
}
inside_error = {name: float(np.median(error[inside])) for name, error in log_error.items()}
outside_error = {name: float(np.median(error[far_outside])) for name, error in log_error.items()}
for name in log_error:
    print(
        f"{name:>12}: median |log(fit / truth)| = {inside_error[name]:.2g} inside, "
        f"{outside_error[name]:.2g} far outside the scan"
    )

styles = {"truth": dict(color="black", lw=1.0), "physics fit": dict(ls="--"), "MLP": dict(ls="-")}
fig, axes = plt.subplots(2, 2, figsize=(13, 7), sharex=True, height_ratios=(3, 1))
for column, cos_value in enumerate((-0.5, 0.5)):
    truth_curve = ew.differential_cross_section(wide_energies, cos_value, truth)
    curves = {
        "truth": truth_curve,
        "physics fit": ew.differential_cross_section(wide_energies, cos_value, fitted),
        "MLP": mlp_cross_section(wide_energies, np.full_like(wide_energies, cos_value)),
    }
    for name, curve in curves.items():
        axes[0, column].plot(wide_energies, curve, label=name, **styles[name])
        axes[1, column].plot(wide_energies, curve / truth_curve, **styles[name])
    for ax in axes[:, column]:
        ax.axvspan(*train_range, color="grey", alpha=0.15, lw=0)
    axes[0, column].set(yscale="log", title=rf"$\cos\theta = {cos_value:+.1f}$ (grey: measured range)")
    axes[1, column].set(xlabel=r"$\sqrt{s}$ [GeV]", ylim=(0, 2))
axes[0, 0].set_ylabel(r"$d\sigma/d\cos\theta$ [pb]")
axes[1, 0].set_ylabel("fit / truth")
axes[0, 0].legend()
plt.show()

# %% [markdown]
# Inside the scan both fits follow the truth to a percent or better. Outside, the physics fit continues
# correctly: its three parameters sit inside a structure (the photon propagator $1/s$, the Breit–Wigner
# resonance, their interference) that holds at every energy, so what the scan fixed near the pole also
# fixes the cross section at 60 or 120 GeV. The network has learned a smooth surface only where there were
# data. Beyond them it carries on with the trend it saw near the edges of the scan, the steep rise towards
# the peak below it and the steep fall above it, and misses the flat photon continuum by orders of
# magnitude. A network is an excellent *interpolator* in the region it was trained on; knowledge beyond
# that region has to come from the representation (symmetries, physics-motivated inputs, structure built
# into the architecture), which is the thread of this course.
#
# ## Results
#
# The headline numbers, each checked against its band for the active profile with `tutor.expect` (a
# regression fails the notebook).

# %%
# Bands: the fitted parameters within about 5 standard errors of the truth (the errors shrink with the
# luminosity of each profile), chi2/ndf within about 4 sqrt(2/ndf) of 1, and the network's numbers from
# runs with several seeds at ci and cpu.
tutor.expect("fitted M_Z [GeV]", fitted.m_z, ci=(91.165, 91.210), cpu=(91.180, 91.195), gpu=(91.185, 91.190))
tutor.expect("fitted Gamma_Z [GeV]", fitted.width_z, ci=(2.45, 2.54), cpu=(2.48, 2.51), gpu=(2.490, 2.500))
tutor.expect(
    "fitted sin2_theta_w",
    fitted.sin2_theta_w,
    ci=(0.2280, 0.2344),
    cpu=(0.2302, 0.2322),
    gpu=(0.2309, 0.2315),
)
tutor.expect("physics fit chi2/ndf", chi2 / ndf, ci=(0.55, 1.45), cpu=(0.78, 1.24), gpu=(0.89, 1.12))
mlp_val_width = float(mlp_pulls[val_mask].std())
tutor.expect("MLP pull width, validation bins", mlp_val_width, ci=(0.6, 2.0), cpu=(0.8, 1.6), gpu=(0.85, 1.5))
tutor.expect("MLP |log ratio|, inside", inside_error["MLP"], ci=(0, 0.05), cpu=(0, 0.015), gpu=(0, 0.008))
tutor.expect(
    "physics |log ratio|, far outside",
    outside_error["physics fit"],
    ci=(0, 0.015),
    cpu=(0, 0.005),
    gpu=(0, 0.002),
)
tutor.expect("MLP |log ratio|, far outside", outside_error["MLP"], ci=(0.3, 50), cpu=(0.3, 50), gpu=(0.3, 50))

rows = [
    ("M_Z [GeV]", f"{fitted.m_z:.4f} ± {fit_errors[0]:.4f}", "—", f"{truth.m_z:.4f}"),
    ("Gamma_Z [GeV]", f"{fitted.width_z:.4f} ± {fit_errors[1]:.4f}", "—", f"{truth.width_z:.4f}"),
    ("sin^2 theta_W", f"{fitted.sin2_theta_w:.5f} ± {fit_errors[2]:.5f}", "—", f"{truth.sin2_theta_w:.5f}"),
    ("parameters", "3", f"{n_parameters}", "—"),
    ("pull width (MLP: validation bins)", f"{physics_pulls.std():.3f}", f"{mlp_val_width:.3f}", "1"),
    (
        "|log(fit/truth)|, inside the scan",
        f"{inside_error['physics fit']:.2g}",
        f"{inside_error['MLP']:.2g}",
        "0",
    ),
    (
        "|log(fit/truth)|, far outside",
        f"{outside_error['physics fit']:.2g}",
        f"{outside_error['MLP']:.2g}",
        "0",
    ),
]
print(f"| {'quantity':<34} | {'physics fit':>18} | {'MLP':>8} | {'truth':>8} |")
print(f"| {'-' * 34} | {'-' * 18} | {'-' * 8} | {'-' * 8} |")
for row in rows:
    print(f"| {row[0]:<34} | {row[1]:>18} | {row[2]:>8} | {row[3]:>8} |")

# %% [markdown]
# ## Exercises
#
# ### Exercise 1: learn the errors as well
#
# If the errors $\sigma_i$ were unknown, the network could predict them too: a second output
# $\log\sigma^2_\theta(x)$ turns the loss into the *heteroscedastic* Gaussian negative log-likelihood
#
# $$
# \mathcal{L} = \frac{1}{N}\sum_i \left[\frac{\big(y_i - f_\theta(x_i)\big)^2}{2\sigma^2_\theta(x_i)}
# + \frac12\log\sigma^2_\theta(x_i)\right] .
# $$
#
# Write `heteroscedastic_nll(mean, log_var, target)` for tensors of equal shape `(batch,)` that returns
# this mean loss as a scalar tensor. The check compares it with `torch.nn.GaussianNLLLoss` and checks that
# the loss is smallest when the predicted variance equals the squared residual. (To go further, train an
# `MLP(2, 2)` with it on `train` while ignoring the known errors, and compare the learned $\sigma$ with them.)


# %% tags=["solution", "hide-input"]
# Hint: predict log(sigma^2) rather than sigma^2, so that the variance stays positive without constraints.
def heteroscedastic_nll(mean: torch.Tensor, log_var: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (0.5 * (target - mean) ** 2 * torch.exp(-log_var) + 0.5 * log_var).mean()


# %% tags=["check"]
check_generator = torch.Generator().manual_seed(7)
test_mean, test_target, test_log_var = torch.randn(3, 50, generator=check_generator)
reference = torch.nn.GaussianNLLLoss(reduction="mean")(test_mean, test_target, torch.exp(test_log_var))
test_loss = heteroscedastic_nll(test_mean, test_log_var, test_target)
assert test_loss.shape == (), f"the loss should be a scalar, got shape {tuple(test_loss.shape)}"
assert torch.allclose(test_loss, reference, atol=1e-6), (
    f"{test_loss.item():.6f} != GaussianNLLLoss {reference.item():.6f}"
)
optimal_log_var = torch.log((test_target - test_mean) ** 2).requires_grad_()
(gradient,) = torch.autograd.grad(
    heteroscedastic_nll(test_mean, optimal_log_var, test_target), optimal_log_var
)
assert gradient.abs().max() < 1e-6, "the loss should be stationary where sigma^2 equals the squared residual"
print("Exercise 1: correct")

# %% [markdown]
# ### Exercise 2: the forward–backward asymmetry of the network
#
# The network has learned $d\sigma/d\cos\theta$, so it also predicts $A_{FB}$. Write
# `forward_backward_from(cross_section, sqrt_s)`, which takes any function `cross_section(sqrt_s,
# cos_theta)` returning $d\sigma/d\cos\theta$ for arrays of equal shape, and a float `sqrt_s`, and returns
# $A_{FB}$ as a float by integrating numerically over $\cos\theta > 0$ and $\cos\theta < 0$. The check
# applies it to the exact formula, then compares the network's $A_{FB}$ with the truth inside the scan.


# %% tags=["solution", "hide-input"]
# Hint: np.polynomial.legendre.leggauss(n) gives nodes and weights on [-1, 1]; map them to [0, 1] and [-1, 0].
def forward_backward_from(cross_section, sqrt_s: float) -> float:
    nodes, weights = np.polynomial.legendre.leggauss(16)
    forward_cos, backward_cos = (nodes + 1) / 2, (nodes - 1) / 2
    energy = np.full_like(nodes, sqrt_s)
    forward = np.sum(weights * cross_section(energy, forward_cos)) / 2
    backward = np.sum(weights * cross_section(energy, backward_cos)) / 2
    return float((forward - backward) / (forward + backward))


# %% tags=["check"]
def exact_cross_section(sqrt_s, cos_theta):
    return ew.differential_cross_section(sqrt_s, cos_theta, truth)


for energy in (10.0, 88.0, truth.m_z, 95.0):
    exact = float(ew.forward_backward_asymmetry(energy, truth))
    mine = forward_backward_from(exact_cross_section, energy)
    assert abs(mine - exact) < 1e-8, f"A_FB({energy} GeV): {mine:.6f} from your integral, {exact:.6f} exact"
print(f"{'sqrt(s) [GeV]':>14} {'A_FB truth':>11} {'A_FB MLP':>9}")
for energy in (86.0, 89.0, 91.0, 93.0, 96.0):
    exact = float(ew.forward_backward_asymmetry(energy, truth))
    learned = forward_backward_from(mlp_cross_section, energy)
    print(f"{energy:>14.1f} {exact:>11.4f} {learned:>9.4f}")
    assert abs(learned - exact) < 0.1, (
        f"the network's A_FB at {energy} GeV is far off: is the integral right?"
    )
print("Exercise 2: correct")

# %% [markdown]
# ### Exercise 3: a wrong representation
#
# A fit can only be as good as its model. Fit the measurements with pure photon exchange,
# $d\sigma/d\cos\theta = k\,\frac{\pi\alpha^2}{2s}(1+\cos^2\theta)$, with a free normalisation $k$ as the
# only parameter. Store the best `qed_norm` ($k$) and `qed_chi2_ndf` ($\chi^2/\mathrm{ndf}$ with
# ndf $= n_\mathrm{bins} - 1$). Since the model is linear in $k$, you can minimise $\chi^2$ in closed form,
# or use `optimize.least_squares` as above. Compare with the physics fit: what does the $\chi^2$ tell you?

# %% tags=["solution", "hide-input"]
# Hint: for a model k * m_i, chi^2 is a parabola in k with its minimum at sum(y m / s^2) / sum(m^2 / s^2).
qed_shape = ew.GEV2_TO_PB * math.pi * truth.alpha**2 / (2 * data.sqrt_s**2) * (1 + data.cos_theta**2)
qed_norm = float(np.sum(data.dsigma * qed_shape / data.error**2) / np.sum(qed_shape**2 / data.error**2))
qed_chi2_ndf = float(np.sum(((data.dsigma - qed_norm * qed_shape) / data.error) ** 2) / (n_points - 1))
print(f"QED only: k = {qed_norm:.2f}, chi2/ndf = {qed_chi2_ndf:.0f}")


# %% tags=["check"]
def qed_chi2(k: float) -> float:
    m = ew.GEV2_TO_PB * math.pi * truth.alpha**2 / (2 * data.sqrt_s**2) * (1 + data.cos_theta**2)
    return float(np.sum(((data.dsigma - k * m) / data.error) ** 2))


assert qed_chi2(qed_norm) <= min(qed_chi2(qed_norm * 1.001), qed_chi2(qed_norm * 0.999)), (
    "qed_norm is not the minimum"
)
assert math.isclose(qed_chi2_ndf, qed_chi2(qed_norm) / (n_points - 1), rel_tol=1e-6), "qed_chi2_ndf is off"
assert qed_chi2_ndf > 50 * (chi2 / ndf), "the QED-only fit should be far worse than the physics fit"
print("Exercise 3: correct")
