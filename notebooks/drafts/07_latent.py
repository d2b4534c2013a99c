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
# how much of the tagger survives; and we train the same network without any labels, contrastively, on
# pairs of jets related by physical augmentations, and ask how much of the quark/gluon information a
# linear probe finds in what it learned.
#
# **Learning goals.** After this notebook you can
# - take a trained network's latent representation, compute its principal components and name the
#   observables they follow,
# - measure how many latent dimensions a tagger needs,
# - train a contrastive encoder with jet augmentations and evaluate it with a linear probe.
#
# **Run time.** Under a minute and a half at the ci profile; at the cpu profile a few minutes on 2 CPU
# cores, plus, on the first run, the 20k quark/gluon jets of notebook 04b if they are not cached (see its
# first cell). The gpu profile takes the official quark/gluon dataset when it is reachable.

# %% tags=["colab-install", "hide-cell"]
# On Colab, install the course package (Colab's own PyTorch is kept); elsewhere use the course environment.
import sys

if "google.colab" in sys.modules:
    # %pip install --quiet "reps4lhc_tutor[colab] @ git+https://github.com/reps4lhc/reps4lhc@main"
    print("reps4lhc_tutor installed; choose a GPU runtime (Runtime > Change runtime type) for the full run.")

# %% [markdown]
# ## Setup

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

import reps4lhc_tutor as tutor
from reps4lhc_tutor import metrics
from reps4lhc_tutor.data import load_quark_gluon
from reps4lhc_tutor.nn import DeepSets
from reps4lhc_tutor.physics import jets

cfg = tutor.setup(seed=0)
tutor.plotting.use_style()
device = cfg.device

# %% [markdown]
# ## 1. Data: quark and gluon jets
#
# The quark and gluon jets of notebook 04b: Pythia 8 at 14 TeV, $qg \to Zq$ and $q\bar q \to Zg$ with $Z
# \to \nu\bar\nu$, anti-$k_T$ jets with $R = 0.4$, $500 < p_T < 550$ GeV and $|y| < 1.7$; quarks are label
# 1. The ci profile reads the shipped jets; the cpu and gpu profiles the official dataset when it is cached
# or reachable, else the generated 20k jets (16k/2k/2k), else the shipped ones. The loader prints its choice.

# %%
sizes = {
    "train": tutor.pick(ci=6_400, cpu=16_000, gpu=200_000),
    "test": tutor.pick(ci=800, cpu=2_000, gpu=100_000),
}
n_constituents = tutor.pick(ci=64, cpu=64, gpu=100)
data = {split: load_quark_gluon(n, n_constituents, source="auto", split=split) for split, n in sizes.items()}
print(f"source: {data['train'].meta['source']}")
for split, d in data.items():
    print(f"{split:>5}: {len(d):6d} jets, {d.labels.mean():.0%} quark")

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
        f"{name:>16}: quark mean {values[y_test == 1].mean():.3f}, gluon mean {values[y_test == 0].mean():.3f}"
    )

# %% [markdown]
# **Network inputs.** Each constituent becomes four numbers: its rapidity and azimuth measured from a
# reference point of its jet (the $p_T$-weighted centroid of the jet as loaded), $\log p_T$ and $\log
# (p_T/p_{T,\text{jet}})$. They are computed from the four-momenta in torch, so that section 4 can augment
# the four-momenta batch by batch and recompute them; the reference point stays that of the original jet,
# so a translated jet looks translated to the network.


# %%
def reference_points(p):
    """(jets, 2): the pT-weighted centroid (y, phi) of every jet of four-momenta p (jets, particles, 4)."""
    pt, y, phi = (
        torch.hypot(p[..., 1], p[..., 2]),
        torch.asinh(p[..., 3] / torch.hypot(p[..., 1], p[..., 2]).clamp_min(1e-9)),
        torch.atan2(p[..., 2], p[..., 1]),
    )
    axis_phi = torch.atan2((pt * torch.sin(phi)).sum(1), (pt * torch.cos(phi)).sum(1))
    return torch.stack([(pt * y).sum(1) / pt.sum(1), axis_phi], dim=1)


def inputs(p, reference):
    """(jets, particles, 4) network inputs and the (jets, particles) mask, from four-momenta p."""
    mask = p[..., 0] > 0
    pt = torch.hypot(p[..., 1], p[..., 2]).clamp_min(1e-9)
    y = torch.asinh(p[..., 3] / pt)
    dphi = (
        torch.remainder(torch.atan2(p[..., 2], p[..., 1]) - reference[:, None, 1] + torch.pi, 2 * torch.pi)
        - torch.pi
    )
    x = torch.stack(
        [y - reference[:, None, 0], dphi, torch.log(pt), torch.log(pt / (pt * mask).sum(1, keepdim=True))],
        dim=-1,
    )
    return torch.where(mask[..., None], x, 0.0), mask


four_momenta = {split: torch.tensor(d.constituents, dtype=torch.float32) for split, d in data.items()}
references = {split: reference_points(p) for split, p in four_momenta.items()}
raw = {split: inputs(four_momenta[split], references[split]) for split in data}
real = raw["train"][0][raw["train"][1]]
shift, scale = real.mean(0), real.std(0)


def standardised(x, mask):
    return torch.where(mask[..., None], (x - shift) / scale, 0.0), mask


features = {split: standardised(*raw[split]) for split in data}
labels = {split: torch.tensor(d.labels, dtype=torch.float32) for split, d in data.items()}

# %% [markdown]
# ## 2. A tagger's latent space
#
# A particle-flow network (chapter 4): $\phi$ maps every constituent to 64 numbers, the sum over
# constituents goes through $\rho$, whose last hidden layer, 64 wide, is what the output layer reads: the
# latent representation `DeepSets.latent`. Trained with the binary cross-entropy.

# %%
epochs = tutor.pick(ci=6, cpu=15, gpu=30)


def bce(model, x, mask, y):
    return F.binary_cross_entropy_with_logits(model(x, mask).reshape(-1), y)


def train_tagger(latent_dim, seed=0):
    """A particle-flow tagger whose last hidden layer has latent_dim units; trained, in eval mode."""
    tutor.seed_everything(seed)
    model = DeepSets(4, 1, latent=64, phi_hidden=(64, 64), rho_hidden=(64, latent_dim))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    tutor.fit(
        model, bce, (*features["train"], labels["train"]), epochs=epochs, batch_size=256, optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs),
        desc=f"tagger, latent {latent_dim}",
    )  # fmt: skip
    return model.eval()


@torch.no_grad()
def latent_and_score(model, split="test"):
    x, mask = (t.to(device) for t in features[split])
    return model.latent(x, mask).cpu().numpy(), torch.sigmoid(model(x, mask)).reshape(-1).cpu().numpy()


start = time.perf_counter()
tagger = train_tagger(64)
z, score = latent_and_score(tagger)
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
fig, axes = plt.subplots(1, 4, figsize=(15, 3.6), sharey=True)
for ax, (name, values) in zip(axes, observables.items(), strict=True):
    for label, color, text in ((0, "C0", "gluon"), (1, "C1", "quark")):
        keep = y_test == label
        ax.scatter(values[keep], components[keep, 0], s=2, alpha=0.3, color=color, label=text)
    ax.set(xlabel=name, title=f"correlation {correlations[0, list(observables).index(name)]:+.2f}")
axes[0].set_ylabel("PC1 of the tagger's latent space")
axes[0].legend(markerscale=5)
fig.tight_layout()

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
        bottleneck_auc[d] = metrics.auc(y_test, latent_and_score(train_tagger(d))[1])
kept = {d: bottleneck_auc[d] / full_auc for d in sorted(bottleneck_auc)}
smallest_99 = min(d for d, fraction in kept.items() if fraction >= 0.99)
print("| latent dimension | AUC | fraction of the 64-dimensional AUC |")
print("| --- | --- | --- |")
for d in sorted(bottleneck_auc):
    print(f"| {d} | {bottleneck_auc[d]:.4f} | {kept[d]:.3f} |")
print(f"smallest dimension keeping 99 % of the AUC: {smallest_99}")
print(
    "published (Vent et al., disentangled latent classifier on ParticleNet, other data): AUC 0.893 (1 dim), "
    "0.9001 (2), 0.9024 (3), 0.9034 (4)"
)

# %% [markdown]
# ## 4. Contrastive learning: a representation without labels
#
# Now the same network is trained without labels. Each jet of a batch is augmented twice, with
# transformations that should not change what it is (`physics.augmentations`): a rotation about its
# centroid in the $(y, \phi)$ plane, a translation in $(y, \phi)$, soft emissions and collinear splittings.
# The two views pass through the network; the output, a 32-dimensional *projection* $z$, is trained with
# the NT-Xent loss (`losses.contrastive_loss`) to be close for the two views of one jet and far from the
# views of every other jet in the batch. Then we freeze the network, take its 64-dimensional latent
# representation $h$ (the layer the projection reads) and train a linear classifier on it with the labels
# (`metrics.linear_probe`): the AUC of this linear probe says how much quark/gluon information the
# representation carries in a linearly accessible form.
#
# The augmentations add particles, so each jet gets free padded slots first.

# %%
from functools import partial

from reps4lhc_tutor.losses import alignment, contrastive_loss, uniformity
from reps4lhc_tutor.physics.augmentations import augment

N_SPLIT, N_SOFT = 5, 5
free = torch.zeros(len(four_momenta["train"]), N_SPLIT + N_SOFT, 4)
train_p = torch.cat([four_momenta["train"], free], dim=1)
AUGMENTATION_SETS = {
    "none": (),
    "rotations": ("rotate",),
    "translations": ("translate",),
    "soft + collinear": ("soft", "collinear"),
    "all": ("rotate", "translate", "soft", "collinear"),
}
OPTIONS = dict(scale=0.1, n_split=N_SPLIT, n_soft=N_SOFT, pt_fraction=0.01)


def encoder_inputs(p, reference):
    return standardised(*inputs(p, reference))


def clr_loss(model, p, reference, kinds, temperature=0.1):
    """NT-Xent of two augmented views of every jet in the batch."""
    views = [encoder_inputs(augment(p, kinds, **OPTIONS), reference) for _ in range(2)]
    return contrastive_loss(model(*views[0]), model(*views[1]), temperature)


clr_epochs = tutor.pick(ci=4, cpu=15, gpu=40)


def train_contrastive(kinds, seed=0):
    """A particle-flow encoder trained with the contrastive loss on views made by `kinds`; eval mode."""
    tutor.seed_everything(seed)
    model = DeepSets(4, 32, latent=64, phi_hidden=(64, 64), rho_hidden=(64, 64))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    tutor.fit(
        model, partial(clr_loss, kinds=kinds), (train_p, references["train"]), epochs=clr_epochs,
        batch_size=256, optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=clr_epochs),
        desc=f"contrastive, {'+'.join(kinds) or 'no augmentation'}",
    )  # fmt: skip
    return model.eval()


@torch.no_grad()
def representation(model, split):
    x, mask = (t.to(device) for t in features[split])
    return model.latent(x, mask).cpu().numpy()


supervised_probe = metrics.linear_probe(
    representation(tagger, "train"), data["train"].labels, representation(tagger, "test"), y_test
)
tutor.seed_everything(0)
untrained = DeepSets(4, 32, latent=64, phi_hidden=(64, 64), rho_hidden=(64, 64)).eval()
random_probe = metrics.linear_probe(
    representation(untrained, "train"), data["train"].labels, representation(untrained, "test"), y_test
)
probe_auc, geometry = {}, {}
for name, kinds in AUGMENTATION_SETS.items():
    start = time.perf_counter()
    encoder = train_contrastive(kinds)
    probe_auc[name] = metrics.linear_probe(
        representation(encoder, "train"), data["train"].labels, representation(encoder, "test"), y_test
    )
    with torch.no_grad():  # alignment and uniformity of the projections, on the test jets
        test_p = torch.cat([four_momenta["test"], torch.zeros(len(y_test), N_SPLIT + N_SOFT, 4)], dim=1)
        views = [
            encoder(*encoder_inputs(augment(test_p, AUGMENTATION_SETS["all"], **OPTIONS), references["test"]))
            for _ in range(2)
        ]
        normed = [F.normalize(v, dim=1) for v in views]
        geometry[name] = (float(alignment(*normed)), float(uniformity(normed[0])))
    print(f"{name:>17}: probe AUC {probe_auc[name]:.4f} ({time.perf_counter() - start:.0f} s)")
print(f"supervised tagger: AUC {full_auc:.4f}, linear probe on its latent space {supervised_probe:.4f}")
print(f"untrained network: linear probe {random_probe:.4f}")
