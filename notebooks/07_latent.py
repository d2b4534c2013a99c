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
# # 07. Latent representations: what a tagger learned, and contrastive learning
#
# [![Open In Colab](../book/_static/colab-badge.svg)](https://colab.research.google.com/github/reps4lhc/reps4lhc/blob/main/notebooks/07_latent.ipynb)
#
# A trained network carries a representation of its inputs in its last hidden layer, and the output layer
# reads the answer off it. This notebook looks inside ([lecture](../book/07_latent.md)): we train a
# particle-flow network to tell quark from gluon jets, take its latent space apart with a principal
# component analysis and find the physics in it; we squeeze the latent space down to one dimension and see
# how much of the tagger survives. Then we train the same network on top and QCD jets without any labels,
# contrastively, on pairs of jets related by physical augmentations, and ask how much of the top/QCD
# information a linear probe finds in what it learned, for each set of augmentations, as JetCLR did.
#
# **Learning goals.** After this notebook you can
# - take a trained network's latent representation, compute its principal components and name the
#   observables they follow,
# - measure how many latent dimensions a tagger needs,
# - train a contrastive encoder with jet augmentations and evaluate it with a linear probe.
#
# **Run time.** About a minute at the ci profile (the shipped jets); about 7 minutes at the cpu profile on
# 2 CPU cores, plus, on the first run, generating the jets of notebooks 04a and 04b if they are not cached
# (20k quark/gluon jets, about 4 minutes; 100k top and QCD jets, much longer: run notebook 04a first, or
# `reps4lhc data generate`, see its first cell). The gpu profile takes the official datasets where they
# are reachable.

# %% tags=["colab-install", "hide-cell"]
# On Colab, install the course package (Colab's own PyTorch is kept); elsewhere use the course environment.
import sys

if "google.colab" in sys.modules:
    # %pip install --quiet "reps4lhc_tutor[colab] @ git+https://github.com/reps4lhc/reps4lhc@main"
    print("reps4lhc_tutor installed; choose a GPU runtime (Runtime > Change runtime type) for the full run.")

# %% [markdown]
# ## Setup

# %%
import dataclasses
import time
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

import reps4lhc_tutor as tutor
from reps4lhc_tutor import metrics
from reps4lhc_tutor.data import load_quark_gluon, load_top_tagging
from reps4lhc_tutor.nn import DeepSets
from reps4lhc_tutor.physics import jets

cfg = tutor.setup(seed=0)
tutor.plotting.use_style()
device = cfg.device

# %% [markdown]
# ## 1. Data: quark and gluon jets, top and QCD jets
#
# The quark and gluon jets of notebook 04b: Pythia 8 at 14 TeV, $qg \to Zq$ and $q\bar q \to Zg$ with $Z
# \to \nu\bar\nu$, anti-$k_T$ jets with $R = 0.4$, $500 < p_T < 550$ GeV and $|y| < 1.7$; quarks are label
# 1. The ci profile reads the shipped jets; the cpu and gpu profiles the official dataset when it is cached
# or reachable, else the generated 20k jets (16k/2k/2k), else the shipped ones. The loader prints its choice.

# %%
sizes = {
    "train": tutor.pick(ci=6_400, cpu=16_000, gpu=100_000),
    "test": tutor.pick(ci=800, cpu=2_000, gpu=50_000),
}
n_constituents = 100  # the leading 100 by pT: every constituent of all but 0.4 % of the jets
data = {split: load_quark_gluon(n, n_constituents, source="auto", split=split) for split, n in sizes.items()}
for split, d in data.items():
    print(f"quark/gluon {split:>5}: {len(d):6d} jets, {d.labels.mean():.0%} quark")

# %% [markdown]
# Section 4 uses the top and QCD jets of notebook 04a ($t\bar t$ and QCD dijets, $550 < p_T < 650$ GeV,
# $|\eta| < 2$, top jets are label 1), read the same way: the shipped jets at the ci profile, the official dataset or
# the generated 100k jets (found by their size) at the cpu profile. The networks see the leading 64
# constituents of each jet (100 at the gpu profile); 30 % of the top and QCD jets have more.

# %%
top_constituents = tutor.pick(
    ci=64, cpu=64, gpu=100
)  # the leading ones by pT, as for notebook 04a's networks
n_read = tutor.pick(  # jets read from each split, as in notebook 04a, so that they come from the same file
    ci={"train": None, "test": None},
    cpu={"train": 80_000, "test": 10_000},
    gpu={"train": 300_000, "test": 100_000},
)
top_sizes = {
    "train": tutor.pick(ci=2_000, cpu=16_000, gpu=100_000),
    "test": tutor.pick(ci=1_000, cpu=4_000, gpu=50_000),
}
top_data = {}
for split, n in top_sizes.items():
    read = load_top_tagging(split, n_read[split], max_constituents=top_constituents, source="auto")
    top_data[split] = dataclasses.replace(read, constituents=read.constituents[:n], labels=read.labels[:n])
    print(f"top/QCD {split:>5}: {len(top_data[split]):6d} jets, {top_data[split].labels.mean():.0%} top")

# %% [markdown]
# The four observables that the lecture connects with quark/gluon tagging, on the test jets: the
# constituent multiplicity $n_\text{pf}$, the width $w_\text{pf}$, the momentum dispersion $p_T D$ and the
# two-point energy correlation $C_{0.2}$ (`physics.jets`). Gluons, with the larger colour charge, radiate
# more: more constituents, wider, with the momentum spread over more of them.

# %%
test_p = data["test"].constituents
observables = {
    "$n_\\mathrm{pf}$": jets.multiplicity(test_p).astype(float),
    "$w_\\mathrm{pf}$": jets.width(test_p),
    "$p_T D$": jets.ptd(test_p),
    "$C_{0.2}$": jets.c_beta(test_p, 0.2),
}
y_test = data["test"].labels
for name, values in observables.items():
    print(
        f"{name:>16}: quark mean {values[y_test == 1].mean():.3f}, "
        f"gluon mean {values[y_test == 0].mean():.3f}"
    )

# %% [markdown]
# **Network inputs.** Each constituent becomes four numbers: its rapidity and azimuth measured from a
# reference point of its jet (the $p_T$-weighted centroid of the jet as loaded), $\log p_T$ and $\log
# (p_T/p_{T,\text{jet}})$, each standardised with the mean and spread over the training constituents. They
# are computed from the four-momenta in torch, so that section 4 can augment the four-momenta batch by
# batch and recompute them; the reference point stays that of the original jet, so a translated jet looks
# translated to the network.


# %%
def reference_points(p):
    """(jets, 2): the pT-weighted centroid (y, phi) of every jet of four-momenta p (jets, particles, 4)."""
    pt = torch.hypot(p[..., 1], p[..., 2])
    y, phi = torch.asinh(p[..., 3] / pt.clamp_min(1e-9)), torch.atan2(p[..., 2], p[..., 1])
    axis_phi = torch.atan2((pt * torch.sin(phi)).sum(1), (pt * torch.cos(phi)).sum(1))
    return torch.stack([(pt * y).sum(1) / pt.sum(1), axis_phi], dim=1)


def raw_inputs(p, reference):
    """(jets, particles, 4) inputs (dy, dphi, log pT, log pT fraction) and the (jets, particles) mask."""
    mask = p[..., 0] > 0
    pt = torch.hypot(p[..., 1], p[..., 2]).clamp_min(1e-9)
    y = torch.asinh(p[..., 3] / pt)
    dphi = torch.remainder(torch.atan2(p[..., 2], p[..., 1]) - reference[:, None, 1] + torch.pi, 2 * torch.pi)
    log_fraction = torch.log(pt / (pt * mask).sum(1, keepdim=True))
    x = torch.stack([y - reference[:, None, 0], dphi - torch.pi, torch.log(pt), log_fraction], dim=-1)
    return torch.where(mask[..., None], x, 0.0), mask


class JetInputs:
    """Network inputs of one dataset: four-momenta, reference points, standardisation from the train split."""

    def __init__(self, dataset):
        self.p = {split: torch.tensor(d.constituents, dtype=torch.float32) for split, d in dataset.items()}
        self.reference = {split: reference_points(p) for split, p in self.p.items()}
        x, mask = raw_inputs(self.p["train"], self.reference["train"])
        self.shift, self.scale = x[mask].mean(0), x[mask].std(0)
        self.labels = {split: torch.tensor(d.labels, dtype=torch.float32) for split, d in dataset.items()}

    def __call__(self, p, reference):
        """Standardised inputs (jets, particles, 4) and mask of four-momenta p, on p's device."""
        x, mask = raw_inputs(p, reference)
        shift, scale = self.shift.to(p.device), self.scale.to(p.device)
        return torch.where(mask[..., None], (x - shift) / scale, 0.0), mask

    def split(self, name):
        return self(self.p[name], self.reference[name])


qg_inputs, top_inputs = JetInputs(data), JetInputs(top_data)

# %% [markdown]
# ## 2. A tagger's latent space
#
# A particle-flow network (chapter 4): $\phi$ maps every constituent to 64 numbers, the sum over
# constituents goes through $\rho$, whose last hidden layer, 64 wide, is what the output layer reads: the
# latent representation `DeepSets.latent`. Trained with the binary cross-entropy.

# %%
epochs = tutor.pick(ci=6, cpu=15, gpu=30)
batch_size = tutor.pick(ci=256, cpu=256, gpu=512)


def particle_flow(outputs, latent_dim=64):
    """The course's particle-flow network; its last hidden layer (the latent space) has latent_dim units."""
    return DeepSets(4, outputs, latent=64, phi_hidden=(64, 64), rho_hidden=(64, latent_dim))


def bce(model, x, mask, y):
    return F.binary_cross_entropy_with_logits(model(x, mask).reshape(-1), y)


def train_tagger(jet_inputs, latent_dim=64, seed=0):
    """A particle-flow tagger trained on jet_inputs' training jets, in eval mode."""
    tutor.seed_everything(seed)
    model = particle_flow(1, latent_dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    tutor.fit(
        model, bce, (*jet_inputs.split("train"), jet_inputs.labels["train"]), epochs=epochs,
        batch_size=batch_size, optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs),
        desc=f"tagger, latent {latent_dim}",
    )  # fmt: skip
    return model.eval()


@torch.no_grad()
def latent_and_score(model, jet_inputs, split="test"):
    """The latent vectors (jets, latent_dim) and the tagger's probabilities (jets,) of one split."""
    x, mask = (t.to(device) for t in jet_inputs.split(split))
    return model.latent(x, mask).cpu().numpy(), torch.sigmoid(model(x, mask)).reshape(-1).cpu().numpy()


start = time.perf_counter()
tagger = train_tagger(qg_inputs)
z, score = latent_and_score(tagger, qg_inputs)
full_auc = metrics.auc(y_test, score)
print(f"tagger: test AUC {full_auc:.4f}, trained in {time.perf_counter() - start:.0f} s; latent {z.shape}")

# %% [markdown]
# **Principal components.** Centre the latent vectors of the test jets and take the singular value
# decomposition $Z - \bar Z = U S V^T$: the rows of $V^T$ are the principal directions, $S^2/(n - 1)$ the
# variances along them. Three lines:

# %%
centred = z - z.mean(axis=0)
_, singular, directions = np.linalg.svd(centred, full_matrices=False)
components = centred @ directions.T  # (jets, 64): the coordinates along the principal directions
explained = singular**2 / (singular**2).sum()
n_pf = observables["$n_\\mathrm{pf}$"]
components *= np.sign([np.corrcoef(c, n_pf)[0, 1] for c in components.T])  # a direction's sign is arbitrary
print("fraction of the variance along the first five components:", explained[:5].round(3))

# %% [markdown]
# Which physics do the leading components carry? Correlate each with the four observables.

# %%
correlations = np.array(
    [[np.corrcoef(components[:, k], values)[0, 1] for values in observables.values()] for k in range(3)]
)
print("| component | " + " | ".join(observables) + " |")
print("| --- |" + " --- |" * len(observables))
for k in range(3):
    print(f"| PC{k + 1} ({explained[k]:.0%}) | " + " | ".join(f"{c:+.2f}" for c in correlations[k]) + " |")
fig, axes = plt.subplots(1, 5, figsize=(18, 3.6))
axes[0].plot(np.arange(1, 11), explained[:10], "o-")
axes[0].set(xlabel="principal component", ylabel="fraction of the variance", yscale="log")
for ax, (name, values) in zip(axes[1:], observables.items(), strict=True):
    for label, color, text in ((0, "C0", "gluon"), (1, "C1", "quark")):
        keep = y_test == label
        ax.scatter(values[keep], components[keep, 0], s=2, alpha=0.3, color=color, label=text)
    ax.set(xlabel=name, title=f"correlation {correlations[0, list(observables).index(name)]:+.2f}")
axes[1].set_ylabel("PC1 of the tagger's latent space")
axes[1].legend(markerscale=5)
fig.tight_layout()

# %% [markdown]
# The first component carries most of the variance and follows the multiplicity; the other three
# observables follow it through their correlation with $n_\text{pf}$ (gluon jets have more, wider-spread
# and softer constituents). The sum over constituents of a particle-flow network makes counting easy: a
# constant component of $\phi$ becomes $n_\text{pf}$ after the sum. The lecture discusses the components
# that ParticleNet's latent space shows beyond the first.

# %% [markdown]
# ## 3. How many dimensions does a tagger need?
#
# The optimal classifier is a function of one number, the likelihood ratio, so in principle one latent
# dimension is enough. We retrain the tagger with its last hidden layer narrowed to $d$ units, a
# bottleneck, and measure the test AUC.

# %%
dimensions = tutor.pick(ci=(1, 2, 64), cpu=(1, 2, 4, 8, 16, 64), gpu=(1, 2, 4, 8, 16, 64))
bottleneck_auc = {64: full_auc}
for d in dimensions:
    if d not in bottleneck_auc:
        bottleneck_auc[d] = metrics.auc(y_test, latent_and_score(train_tagger(qg_inputs, d), qg_inputs)[1])
kept = {d: bottleneck_auc[d] / full_auc for d in sorted(bottleneck_auc)}
smallest_99 = min(d for d, fraction in kept.items() if fraction >= 0.99)
print("| latent dimension | AUC | fraction of the 64-dimensional AUC |")
print("| --- | --- | --- |")
for d in sorted(bottleneck_auc):
    print(f"| {d} | {bottleneck_auc[d]:.4f} | {kept[d]:.3f} |")
print(f"smallest dimension keeping 99 % of the AUC: {smallest_99}")
published = {1: 0.893, 2: 0.9001, 3: 0.9024, 4: 0.9034}  # Vent et al.: disentangled ParticleNet, other jets
fig, ax = plt.subplots(figsize=(5.5, 3.8))
ax.plot(
    sorted(bottleneck_auc), [bottleneck_auc[d] for d in sorted(bottleneck_auc)], "o-", label="this notebook"
)
ax.plot(list(published), list(published.values()), "s--", label="Vent et al. (published, other jets)")
ax.set(xscale="log", xlabel="latent dimension $d$", ylabel="test AUC")
ax.legend()
fig.tight_layout()

# %% [markdown]
# The published values come from a disentangled latent classifier on ParticleNet (Vent, Winterhalder and
# Plehn), trained on the official quark/gluon dataset with particle types: a stronger network on richer
# inputs, hence the higher AUC. The shape is what carries over: one dimension loses a little, and a handful
# keeps everything.

# %% [markdown]
# ## 4. Contrastive learning: a representation without labels
#
# Now a network is trained without labels, on top and QCD jets as in JetCLR. Each jet of a batch is
# augmented twice, with transformations that should not change what it is (`physics.augmentations`): a
# rotation about its centroid in the $(y, \phi)$ plane, a translation in $(y, \phi)$, soft emissions and
# collinear splittings. Here they are on one top jet; the marker area is proportional to $p_T$.

# %%
from reps4lhc_tutor.losses import alignment, contrastive_loss, uniformity
from reps4lhc_tutor.physics.augmentations import augment

N_SPLIT, N_SOFT = 5, 5
OPTIONS = dict(scale=0.1, n_split=N_SPLIT, n_soft=N_SOFT, pt_fraction=0.01)  # translations by 0.1 in y, phi
AUGMENTATION_SETS = {
    "none": (),
    "rotations": ("rotate",),
    "translations": ("translate",),
    "soft + collinear": ("soft", "collinear"),
    "all": ("rotate", "translate", "soft", "collinear"),
}


def with_free_slots(p):
    """Four-momenta (jets, particles + N_SPLIT + N_SOFT, 4): room for the particles the augmentations add."""
    return torch.cat([p, p.new_zeros(len(p), N_SPLIT + N_SOFT, 4)], dim=1)


top_p = {split: with_free_slots(p) for split, p in top_inputs.p.items()}
example = top_p["test"][top_data["test"].labels == 1][:1]
generator = torch.Generator().manual_seed(1)
views = {"original": example} | {
    kind: augment(example, (kind,), generator=generator, **OPTIONS)
    for kind in ("rotate", "translate", "soft", "collinear")
}
fig, axes = plt.subplots(1, len(views), figsize=(17, 3.6), sharex=True, sharey=True)
for ax, (name, view) in zip(axes, views.items(), strict=True):
    x, mask = raw_inputs(view, top_inputs.reference["test"][top_data["test"].labels == 1][:1])
    x, pt = x[0][mask[0]], torch.hypot(view[0, :, 1], view[0, :, 2])[mask[0]]
    ax.scatter(x[:, 0], x[:, 1], s=600 * pt / pt.sum(), alpha=0.6)
    ax.set(title=f"{name}: {int(mask.sum())} particles", xlabel=r"$\Delta y$")
axes[0].set_ylabel(r"$\Delta\phi$")
fig.tight_layout()

# %% [markdown]
# The two views pass through the network; its output, a 32-dimensional *projection* $z$, is trained with the
# NT-Xent loss to be close for the two views of one jet and far from the views of every other jet in the
# batch: for view $i$ with partner $p(i)$ among the $2N$ views of a batch of $N$ jets,
# $\ell_i = -\log \big[ e^{s_{i p(i)}/T} / \sum_{k \neq i} e^{s_{ik}/T} \big]$ with the cosine similarities
# $s_{ik}$ and a temperature $T$. It is a cross-entropy over the other views, with the partner as the right
# answer. Written out, and checked against the package's `losses.contrastive_loss`:


# %%
def nt_xent(z1, z2, temperature):
    """NT-Xent of N positive pairs (z1[i], z2[i]); z1, z2 (N, dim)."""
    v = F.normalize(torch.cat([z1, z2]), dim=1)  # (2N, dim): all views on the unit sphere
    similarity = v @ v.T / temperature  # (2N, 2N)
    similarity.fill_diagonal_(-torch.inf)  # a view is not its own partner
    n = len(z1)
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(similarity, partner)


z1, z2 = torch.randn(8, 32), torch.randn(8, 32)
assert torch.isclose(nt_xent(z1, z2, 0.1), contrastive_loss(z1, z2, 0.1), atol=1e-5)
print(
    f"NT-Xent of random projections: {float(nt_xent(z1, z2, 0.1)):.3f} "
    f"(log 15 = {np.log(15):.3f} if all alike)"
)

# %% [markdown]
# After training we freeze the network and take its 64-dimensional latent representation $h$, the layer
# that the projection reads, and train a logistic regression on it with the labels, a *linear probe*
# (`metrics.linear_probe_scores`): its AUC says how much top/QCD information the representation carries in
# a linearly readable form. Two references: a supervised tagger of the same architecture trained with the
# labels on the same jets, and the same network untrained, with random weights. The second is the baseline
# a contrastive representation has to beat: the sum over constituents of even a random $\phi$ already
# counts constituents and adds up momenta.

# %%
clr_epochs = tutor.pick(ci=4, cpu=15, gpu=20)


def clr_loss(model, p, reference, kinds, temperature=0.1):
    """NT-Xent of two augmented views of every jet in the batch."""
    views = [top_inputs(augment(p, kinds, **OPTIONS), reference) for _ in range(2)]
    return contrastive_loss(model(*views[0]), model(*views[1]), temperature)


def train_contrastive(kinds, seed=0):
    """A particle-flow encoder trained with the contrastive loss on views made by `kinds`; eval mode."""
    tutor.seed_everything(seed)
    model = particle_flow(32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    tutor.fit(
        model, partial(clr_loss, kinds=kinds), (top_p["train"], top_inputs.reference["train"]),
        epochs=clr_epochs, batch_size=batch_size, optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=clr_epochs),
        desc=f"contrastive, {'+'.join(kinds) or 'no augmentation'}",
    )  # fmt: skip
    return model.eval()


y_top = top_data["test"].labels
n_pf_top = {split: jets.multiplicity(d.constituents).astype(float) for split, d in top_data.items()}


@torch.no_grad()
def probe(model):
    """Linear-probe AUC, rejection at eps_S = 0.5 and R^2 of a linear fit of n_pf, on model's latent space."""
    from sklearn.linear_model import LinearRegression

    h = {
        split: model.latent(*(t.to(device) for t in top_inputs.split(split))).cpu().numpy() for split in top_p
    }
    scores = metrics.linear_probe_scores(h["train"], top_data["train"].labels, h["test"])
    counting = LinearRegression().fit(h["train"], n_pf_top["train"]).score(h["test"], n_pf_top["test"])
    return {
        "AUC": metrics.auc(y_top, scores),
        "1/eps_B": metrics.rejection_at(y_top, scores, 0.5),
        "R2 n_pf": counting,
    }


@torch.no_grad()
def geometry(model):
    """Alignment and uniformity of the projections of two views ('all' augmentations) of the test jets."""
    projections = [
        F.normalize(
            model(
                *top_inputs(
                    augment(top_p["test"], AUGMENTATION_SETS["all"], **OPTIONS), top_inputs.reference["test"]
                )
            ),
            dim=1,
        )
        for _ in range(2)
    ]
    return {"alignment": float(alignment(*projections)), "uniformity": float(uniformity(projections[0]))}


start = time.perf_counter()
top_tagger = train_tagger(top_inputs)
results = {"supervised tagger": probe(top_tagger)}
results["supervised tagger"]["AUC of its output"] = metrics.auc(
    y_top, latent_and_score(top_tagger, top_inputs)[1]
)
tutor.seed_everything(0)
results["untrained network"] = probe(particle_flow(32).to(device).eval())
print(f"references done in {time.perf_counter() - start:.0f} s")
for name, kinds in AUGMENTATION_SETS.items():
    start = time.perf_counter()
    encoder = train_contrastive(kinds)
    results[name] = probe(encoder) | geometry(encoder)
    print(f"{name:>17}: probe AUC {results[name]['AUC']:.4f} ({time.perf_counter() - start:.0f} s)")

# %% [markdown]
# The table puts the probes side by side, with the JetCLR numbers (a transformer encoder trained on the
# official top-tagging dataset; Dillon et al.) beside them. $1/\epsilon_B$ is the background rejection at a
# signal efficiency of 0.5; $R^2(n_\text{pf})$ says how much of the multiplicity of the constituents that the
# network sees a linear function of its representation recovers; alignment and uniformity (lower is better for
# both) are measured on the projections of two views made with all augmentations.

# %%
jetclr = {  # Dillon et al., JetCLR, linear classifier test: (1/eps_B at eps_S = 0.5, AUC)
    "none": (15, 0.905),
    "translations": (19, 0.916),
    "rotations": (21, 0.930),
    "soft + collinear": (89, 0.970),
    "all": (181, 0.979),
}
print("| representation | probe AUC | 1/eps_B | R^2(n_pf) | alignment | uniformity | JetCLR AUC (1/eps_B) |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for name, r in results.items():
    shape = f"{r['alignment']:.3f} | {r['uniformity']:.2f}" if "alignment" in r else "- | -"
    published = f"{jetclr[name][1]:.3f} ({jetclr[name][0]})" if name in jetclr else "-"
    print(f"| {name} | {r['AUC']:.4f} | {r['1/eps_B']:.1f} | {r['R2 n_pf']:.2f} | {shape} | {published} |")
print(f"supervised tagger, its own output: AUC {results['supervised tagger']['AUC of its output']:.4f}")
names = list(AUGMENTATION_SETS)
fig, ax = plt.subplots(figsize=(6.5, 3.8))
ax.plot(names, [results[n]["AUC"] for n in names], "o-", label="contrastive, linear probe")
ax.plot(names, [jetclr[n][1] for n in names], "s--", label="JetCLR (published)")
for name, style in (("supervised tagger", ":"), ("untrained network", "-.")):
    ax.axhline(results[name]["AUC"], color="k", ls=style, label=f"{name}, linear probe")
ax.set(ylabel="top/QCD AUC", xlabel="augmentations")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## 5. Results

# %%
corr_pc1_npf = correlations[0, 0]
contrastive_gap = results["all"]["AUC"] - results["supervised tagger"]["AUC of its output"]
print(
    f"PC1 of the quark/gluon tagger: correlation {corr_pc1_npf:+.2f} with n_pf "
    f"({explained[0]:.0%} of the variance)"
)
print(f"smallest latent dimension keeping 99 % of the AUC: {smallest_99} (AUC {full_auc:.4f} at 64)")
print(f"contrastive probe with all augmentations minus the supervised tagger: {contrastive_gap:+.4f}")
print(f"... minus the untrained network: {results['all']['AUC'] - results['untrained network']['AUC']:+.4f}")
print(f"... minus no augmentations: {results['all']['AUC'] - results['none']['AUC']:+.4f}")

# %%
# Where the bands come from. ci: measured in ci-profile runs on the shipped jets (2 CPU cores).
# cpu: measured in cpu-profile runs (2-core AMD EPYC; 16k quark/gluon and 16k top/QCD training jets).
# gpu: targets (tutor.target) until a gpu run measures them.
tutor.expect(
    "quark/gluon tagger AUC", full_auc, ci=(0.70, 0.90), cpu=(0.85, 0.88), gpu=tutor.target(0.86, 0.92)
)
tutor.expect(
    "|correlation of PC1 with n_pf|",
    abs(corr_pc1_npf),
    ci=(0.7, 1.0),
    cpu=(0.9, 1.0),
    gpu=tutor.target(0.7, 1.0),
)
tutor.expect(
    "smallest latent dimension keeping 99 % of the AUC",
    smallest_99,
    ci=(1, 64),
    cpu=(1, 4),
    gpu=tutor.target(1, 4),
)
tutor.expect(
    "contrastive (all) probe AUC - supervised AUC",
    contrastive_gap,
    ci=(-0.2, 0.15),
    cpu=(-0.05, 0.0),
    gpu=tutor.target(-0.05, 0.0),
)
tutor.expect(
    "contrastive probe AUC, all - none",
    results["all"]["AUC"] - results["none"]["AUC"],
    ci=(-0.1, 0.2),
    cpu=(0.03, 0.15),
    gpu=tutor.target(0.0, 0.15),
)
tutor.expect(
    "contrastive probe AUC, all - untrained network",
    results["all"]["AUC"] - results["untrained network"]["AUC"],
    ci=(-0.1, 0.1),
    cpu=(0.0, 0.05),
    gpu=tutor.target(0.0, 0.1),
)

# %% [markdown]
# **What the committed run shows** (cpu profile, 2-core CPU; 16k training jets of each kind; the tables
# above).
#
# *The tagger's latent space.* The quark/gluon particle-flow network reaches a test AUC of 0.865. Its
# 64-dimensional latent space is close to one-dimensional: the first principal component carries 82 % of
# the variance, and it is the constituent multiplicity (correlation +0.98), with the width, $p_T D$ and
# $C_{0.2}$ following at 0.73 to 0.90 through their correlation with $n_\text{pf}$. The next components
# carry 9 % and 3 % and correlate with none of the four observables beyond 0.3. ParticleNet's latent
# space, with particle types among its inputs, shows more structure beyond the first component (the
# lecture); a particle-flow network on kinematics alone has little else to say than how many constituents
# a jet has.
#
# *How many dimensions.* One latent unit keeps 97.7 % of the full AUC, two keep 99.5 %: the tagger needs
# two dimensions to reach 99 %, and everything from 4 to 64 lies within 0.004 of the full network. The
# published disentangled classifier shows the same shape, about 0.01 of AUC between one and four
# dimensions, at a higher AUC on richer inputs.
#
# *Contrastive learning.* Without augmentations the contrastive loss is solved by spreading the jets apart
# in any way, and the linear probe on that representation (AUC 0.862) is worse than on a network with
# random weights (0.930): the sum over constituents of a random $\phi$ already measures multiplicity and
# momentum sums, which separate top from QCD jets. Each augmentation alone improves on "none"
# (translations 0.898, rotations 0.919, soft + collinear 0.921), in the order JetCLR found, but none of them
# alone beats the random network. All four together reach 0.942, above the random network and within 0.018
# of the supervised tagger of the same architecture on the same jets (0.961), without a single label in
# the training. The rejections stay far below JetCLR's (25 against 181 at $\epsilon_S = 0.5$): a
# transformer encoder trained far longer on far more jets, against our particle-flow network
# trained for 15 epochs on 16k; the supervised network itself reaches only 51 here.
#
# *What the invariances remove.* Every latent space still encodes the multiplicity almost exactly ($R^2 \ge
# 0.88$), even after training to ignore soft and collinear splittings that change it. The invariance is
# learned by the projection head, which the NT-Xent loss acts on: the encoder with all augmentations maps
# two views to nearly the same projection (alignment 0.13 against 0.9 to 1.7 for the others), while the
# 64 latent units below it keep information the loss does not need. This is the known reason why SimCLR
# probes the layer below the projection: it keeps more of the input.

# %% [markdown]
# ## Exercises
#
# ### Exercise 1: PCA from the covariance matrix
#
# Write `pca_by_covariance(z)` that returns the explained-variance fractions and the principal directions
# (as rows, largest variance first) of the latent vectors `z` from the eigendecomposition of their
# covariance matrix (`np.linalg.eigh`), not from the SVD. The check compares both with
# `sklearn.decomposition.PCA` on the tagger's latent vectors of section 2; a direction is only defined up
# to its sign.


# %% tags=["solution", "hide-input"]
# Hint: eigh returns the eigenvalues in increasing order; the eigenvectors are its columns.
def pca_by_covariance(z):
    values, vectors = np.linalg.eigh(np.cov(z, rowvar=False))
    order = np.argsort(values)[::-1]
    return values[order] / values.sum(), vectors[:, order].T


# %% tags=["check"]
from sklearn.decomposition import PCA

fractions, rows = pca_by_covariance(z)
reference = PCA().fit(z)
assert np.allclose(fractions[:5], reference.explained_variance_ratio_[:5], atol=1e-6), fractions[:5]
overlap = np.abs(np.sum(rows[:3] * reference.components_[:3], axis=1))  # |cos| of the angle, sign-free
assert np.allclose(overlap, 1, atol=1e-3), overlap
assert np.allclose(fractions[:5], explained[:5], atol=1e-6)  # and the SVD of section 2
print("explained variance of the first three components:", fractions[:3].round(4))
print("Exercise 1: correct")

# %% [markdown]
# ### Exercise 2: alignment and uniformity by hand
#
# Wang and Isola split what a contrastive loss does into two terms, on L2-normalised embeddings $f$:
# the *alignment* $\mathbb{E}\,\|f(x) - f(x^+)\|^2$ of the two views of each jet, and the *uniformity*
# $\log \mathbb{E}_{i<j}\, e^{-2 \|f(x_i) - f(x_j)\|^2}$ over pairs of different jets. Write both with
# plain torch operations (a double loop is fine for the pairs), and check them against `losses.alignment`
# and `losses.uniformity`. What are the two values for an encoder that maps every jet to the same point?


# %% tags=["solution", "hide-input"]
# Hint: normalise first; a collapsed encoder has alignment 0 and uniformity 0 (the largest possible).
def alignment_by_hand(z1, z2):
    u1, u2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    return ((u1 - u2) ** 2).sum(dim=1).mean()


def uniformity_by_hand(z):
    u = F.normalize(z, dim=1)
    potentials = [
        torch.exp(-2 * ((u[i] - u[j]) ** 2).sum()) for i in range(len(u)) for j in range(i + 1, len(u))
    ]
    return torch.log(torch.stack(potentials).mean())


# %% tags=["check"]
toy = torch.Generator().manual_seed(3)
z_a, z_b = (
    torch.randn(40, 8, generator=toy, dtype=torch.float64),
    torch.randn(40, 8, generator=toy, dtype=torch.float64),
)
assert torch.isclose(alignment_by_hand(z_a, z_b), alignment(z_a, z_b))
assert torch.isclose(uniformity_by_hand(z_a), uniformity(z_a))
collapsed = torch.ones(40, 8, dtype=torch.float64)
assert (
    float(alignment_by_hand(collapsed, collapsed)) == 0 and abs(float(uniformity_by_hand(collapsed))) < 1e-12
)
print(
    f"random embeddings: alignment {float(alignment_by_hand(z_a, z_b)):.3f}, "
    f"uniformity {float(uniformity_by_hand(z_a)):.3f}"
)
print("Exercise 2: correct")

# %% [markdown]
# ### Exercise 3: a collinear splitting that conserves the jet
#
# Write `split_hardest(p, z)` that replaces the hardest constituent of every jet in the four-momenta `p`
# (jets, particles, 4) by two collinear particles with the fractions $z$ and $1 - z$ of its four-momentum,
# the second in the first free (all-zero) slot. The check verifies on the quark/gluon test jets that the
# jet four-momentum is conserved, that the multiplicity grows by one, that the IRC-safe $C_{0.2}$ and
# width do not change, and that $p_T D$, which is not collinear safe, falls. Why does $C_\beta$ not change,
# although it sums over pairs of particles?


# %% tags=["solution", "hide-input"]
# Hint: C_beta's new pair has Delta R = 0, and the pairs with every other particle j add up to the old one.
def split_hardest(p, z):
    p = np.concatenate([p, np.zeros((len(p), 1, 4))], axis=1)  # one free slot for the new particle
    rows = np.arange(len(p))
    hardest = np.argmax(np.hypot(p[..., 1], p[..., 2]), axis=1)
    free = np.argmax(p[..., 0] == 0, axis=1)
    p[rows, free] = (1 - z) * p[rows, hardest]
    p[rows, hardest] *= z
    return p


# %% tags=["check"]
original = data["test"].constituents[:500].astype(np.float64)
split = split_hardest(original, 0.3)
assert np.allclose(split.sum(axis=1), original.sum(axis=1))  # the jet four-momentum
assert np.array_equal(jets.multiplicity(split), jets.multiplicity(original) + 1)
# The two halves are collinear up to rounding, Delta R ~ 1e-16, and Delta R^0.2 ~ 1e-3 of their weight remains
# (see jets.c_beta): exact for beta = 1; for beta = 0.2 up to 1e-3, against C_0.2 ~ 0.2.
assert np.allclose(jets.c_beta(split, 1.0), jets.c_beta(original, 1.0), rtol=1e-9, atol=0)
assert np.allclose(jets.c_beta(split, 0.2), jets.c_beta(original, 0.2), rtol=0, atol=1e-3)
assert np.allclose(jets.width(split), jets.width(original))
assert np.all(jets.ptd(split) < jets.ptd(original))
print(f"p_T D: mean {jets.ptd(original).mean():.3f} before, {jets.ptd(split).mean():.3f} after the split")
print("Exercise 3: correct")
