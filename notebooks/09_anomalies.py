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
# # 09. Anomaly searches: autoencoders, the complexity bias and normalized autoencoders
#
# [![Open In Colab](../book/_static/colab-badge.svg)](https://colab.research.google.com/github/reps4lhc/reps4lhc/blob/main/notebooks/09_anomalies.ipynb)
#
# An anomaly search trains on background only and flags what the network cannot describe
# ([lecture](../book/09_anomalies.md)). Here the background is a sample of jets and the network an
# autoencoder: it compresses a jet image to ten numbers and back, and its reconstruction error is the
# anomaly score. We train it on QCD jets and look for top jets, then train it on top jets and look for QCD
# jets. The first works and the second fails, because a QCD jet is *simpler* than a top jet and an
# autoencoder reconstructs simple images well whatever it was trained on. A normalized autoencoder reads
# the same reconstruction error as the energy of a normalized density, and its training pushes up the
# error of every image the model describes too well; we measure how much of the asymmetry that removes.
#
# **Learning goals.** After this notebook you can
# - turn jets into images and train an autoencoder on one class as an anomaly detector,
# - measure the complexity bias by swapping signal and background, and say what the score tracks,
# - train a normalized autoencoder with Langevin negative samples and read its energies.
#
# **Run time.** Under a minute at the ci profile (the shipped jets); about 5 minutes at the cpu profile
# on 2 CPU cores, plus, on the first run, generating the 100k top and QCD jets of notebook 04a if they
# are not cached (run notebook 04a first, or `reps4lhc data generate`). The gpu profile takes the
# official dataset where it is reachable.

# %% tags=["colab-install", "hide-cell"]
# On Colab, install the course package (Colab's own PyTorch is kept); elsewhere use the course environment.
import sys

if "google.colab" in sys.modules:
    # %pip install --quiet "reps4lhc_tutor[colab] @ git+https://github.com/reps4lhc/reps4lhc@main"
    print("reps4lhc_tutor installed; choose a GPU runtime (Runtime > Change runtime type) for the full run.")

# %% [markdown]
# ## Setup

# %%
import copy
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import stats
from tqdm.auto import tqdm

import reps4lhc_tutor as tutor
from reps4lhc_tutor import metrics
from reps4lhc_tutor.data import load_top_tagging
from reps4lhc_tutor.nn import Autoencoder, NormalizedAutoencoder, PersistentChains, langevin, nae_loss
from reps4lhc_tutor.physics import jets
from reps4lhc_tutor.physics.images import jet_images

cfg = tutor.setup(seed=0)
tutor.plotting.use_style()
device = cfg.device

# %% [markdown]
# ## 1. Jets as images
#
# The top and QCD jets of notebook 04a ($t\bar t$ and QCD dijets, $550 < p_T < 650$ GeV, $|\eta| < 2$, top
# jets are label 1): the shipped jets at the ci profile, the official dataset where it is cached or
# reachable, else the generated 100k jets (found by their size, so read with 04a's split sizes).
#
# We use *images*, not constituent lists. An autoencoder compares its output with its input, and on a
# fixed grid that comparison is the pixel-wise squared error; a point cloud has no order, so its
# reconstruction loss would need a matching of particles (a Chamfer or optimal-transport distance),
# which is slow and has its own preferences. Images are also where the complexity bias was found and
# where the normalized autoencoder was tested on jets. `physics.images.jet_images` centres every jet
# on its axis, rotates its principal axis onto $\Delta y$ and flips it so that the farther, softer prong
# sits at positive $\Delta y$, and fills $20 \times 20$ pixels of $0.1 \times 0.1$ in $(\Delta y, \Delta
# \phi)$, about the granularity of a hadronic calorimeter, with the fraction of the jet's scalar $p_T$.

# %%
n_read = tutor.pick(  # jets read from each split, as in notebook 04a, so that they come from the same file
    ci={"train": None, "test": None},
    cpu={"train": 80_000, "test": 10_000},
    gpu={"train": 300_000, "test": 100_000},
)
sizes = {
    "train": tutor.pick(ci=2_000, cpu=30_000, gpu=100_000),
    "test": tutor.pick(ci=1_000, cpu=4_000, gpu=20_000),
}
start = time.perf_counter()
fractions, labels, multiplicity = {}, {}, {}
for split, n in sizes.items():
    read = load_top_tagging(split, n_read[split], max_constituents=200, source="auto")  # every constituent
    fractions[split] = jet_images(read.constituents[:n], n_pixels=20, half_width=1.0)
    labels[split] = read.labels[:n]
    multiplicity[split] = jets.multiplicity(read.constituents[:n])
    print(f"{split:>5}: {len(labels[split]):6d} jets, {labels[split].mean():.0%} top")
print(f"images in {time.perf_counter() - start:.0f} s")

# %% [markdown]
# What is in a pixel matters for a score that adds up squared pixel differences. With the $p_T$
# fraction itself, the core of the jet dominates and soft radiation hardly counts. We take its square
# root, $x_{ab} = \sqrt{p_{T,ab} / \sum p_T}$: soft pixels gain weight, and every image becomes a unit
# vector, $\sum_{ab} x_{ab}^2 = 1$. Both are legitimate choices, and section 2 shows that the verdict of
# the autoencoder depends on which we make.

# %%
images = {split: np.sqrt(f).reshape(len(f), -1).astype(np.float32) for split, f in fractions.items()}
linear = {split: f.reshape(len(f), -1).astype(np.float32) for split, f in fractions.items()}
print("sum of squared pixels, first five jets:", (images["test"][:5] ** 2).sum(1).round(6))

fig, axes = plt.subplots(1, 4, figsize=(14, 3.4))
extent = (-1, 1, -1, 1)
for ax, (title, picture) in zip(
    axes,
    [
        ("mean QCD jet", fractions["train"][labels["train"] == 0].mean(0)),
        ("mean top jet", fractions["train"][labels["train"] == 1].mean(0)),
        ("one QCD jet", fractions["train"][np.flatnonzero(labels["train"] == 0)[0]]),
        ("one top jet", fractions["train"][np.flatnonzero(labels["train"] == 1)[0]]),
    ],
    strict=True,
):
    shown = ax.imshow(np.log10(picture.T + 1e-5), origin="lower", extent=extent, vmin=-5, vmax=0)
    ax.set(title=title, xlabel=r"$\Delta y$")
axes[0].set_ylabel(r"$\Delta\phi$")
fig.colorbar(shown, ax=axes, label=r"$\log_{10}$ of the $p_T$ fraction")
plt.show()

# %% [markdown]
# The mean top jet shows its three prongs: the hardest at the centre, the $W$-boson decay products
# spread to positive $\Delta y$ by the flip. The QCD jet is one hard core with soft radiation around it.
#
# ## 2. An autoencoder and its score
#
# The autoencoder maps an image $x \in \mathbb{R}^{400}$ to a code $z = f(x) \in \mathbb{R}^{10}$ and back,
# $\hat x = g(z)$, and is trained to make the reconstruction error small on the training class:
# $$ \text{MSE}(x) = \frac{1}{D} \sum_{i=1}^{D} \big(x_i - g(f(x))_i\big)^2 , \qquad D = 400 . $$
# On another class the error is an anomaly score: large where the network has not learned to compress.
# Encoder and decoder are MLPs with hidden layers of 256 and 64 nodes; a softplus keeps the decoded
# pixels positive, and the codes lie on the unit sphere (`spherical=True`), which section 4 needs.
# The score by hand, against the package:


# %%
def train_autoencoder(x, seed):
    """An autoencoder (400 -> 10 -> 400) trained on images x (events, 400) with the MSE; returns it."""
    tutor.seed_everything(seed)
    model = Autoencoder(x.shape[1], 10, (256, 64), output=torch.nn.Softplus(), spherical=True).to(device)
    tutor.fit(
        model,
        lambda m, xb: m.reconstruction_error(xb).mean(),
        (torch.tensor(x),),
        epochs=tutor.pick(ci=20, cpu=20, gpu=40),
        batch_size=128,
        lr=1e-3,
        progress=False,
    )
    return model.eval()


def score(score_fn, x):
    """score_fn (events, 400) -> (events,), e.g. model.reconstruction_error, on numpy images x; numpy."""
    with torch.no_grad():
        return score_fn(torch.tensor(x, device=device)).cpu().numpy()


is_top = labels["train"] == 1
start = time.perf_counter()
autoencoders = {"QCD": train_autoencoder(images["train"][~is_top], cfg.seed)}
print(f"trained on {(~is_top).sum()} QCD jets in {time.perf_counter() - start:.0f} s")

example = torch.tensor(images["test"][:3], device=device)
model = autoencoders["QCD"]
with torch.no_grad():
    by_hand = ((example - model.decode(model.encode(example))) ** 2).mean(1)
print(
    "MSE by hand:", by_hand.cpu().numpy(), " package:", score(model.reconstruction_error, images["test"][:3])
)

# %% [markdown]
# Now the other direction, and both again on the linear $p_T$ fractions. Every autoencoder has the same
# architecture, seed and training; only the training class and the pixel content change. The signal is
# always the class the network has not seen, so an AUC above 0.5 means the anomaly score works.

# %%
autoencoders["top"] = train_autoencoder(images["train"][is_top], cfg.seed)
linear_autoencoders = {
    "QCD": train_autoencoder(linear["train"][~is_top], cfg.seed),
    "top": train_autoencoder(linear["train"][is_top], cfg.seed),
}
test_is_top = labels["test"] == 1
signal = {"QCD": test_is_top.astype(int), "top": (~test_is_top).astype(int)}  # the class not trained on
ae_scores = {name: score(model.reconstruction_error, images["test"]) for name, model in autoencoders.items()}
ae_auc = {name: metrics.auc(signal[name], s) for name, s in ae_scores.items()}
linear_auc = {
    name: metrics.auc(signal[name], score(model.reconstruction_error, linear["test"]))
    for name, model in linear_autoencoders.items()
}
print("AUC for the class not trained on      trained on QCD   trained on top")
print(f"  sqrt(pT fraction) pixels            {ae_auc['QCD']:14.3f} {ae_auc['top']:16.3f}")
print(f"  pT fraction pixels                  {linear_auc['QCD']:14.3f} {linear_auc['top']:16.3f}")

# %% [markdown]
# With square-root pixels the autoencoder trained on QCD finds top jets, and the one trained on top jets
# finds QCD jets *worse than guessing*: it reconstructs them better than the top jets it was trained on.
# With linear pixels, where the few hardest pixels dominate the error, the committed run finds both
# classes, and tops less well. A score whose success depends on the pixel content and on which class we
# call background is not a model-independent anomaly detector. The ROC curves, with the rejection of the
# trained class against the efficiency for the other:

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, name in zip(axes, ["QCD", "top"], strict=True):
    tutor.plotting.plot_roc(signal[name], {f"AE trained on {name}": ae_scores[name]}, ax=ax)
    ax.set_title(f"trained on {name} jets, looking for {'top' if name == 'QCD' else 'QCD'} jets")
plt.show()

# %% [markdown]
# ## 3. What the error tracks
#
# Where does the asymmetry come from? Plot the score of both autoencoders against the constituent
# multiplicity, a simple measure of how much structure a jet has: a QCD jet has fewer constituents and
# its $p_T$ is concentrated in fewer pixels.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
bins = np.quantile(multiplicity["test"], np.linspace(0, 1, 11))
for ax, name in zip(axes, ["QCD", "top"], strict=True):
    for cls, label in [(0, "QCD jets"), (1, "top jets")]:
        rows = labels["test"] == cls
        ax.scatter(multiplicity["test"][rows], ae_scores[name][rows], s=2, alpha=0.3, label=label)
    which = np.digitize(multiplicity["test"], bins[1:-1])
    means = [ae_scores[name][which == k].mean() for k in range(len(bins) - 1)]
    ax.plot((bins[1:] + bins[:-1]) / 2, means, "k-o", label="mean in multiplicity bins")
    ax.set(xlabel="constituent multiplicity", yscale="log", title=f"AE trained on {name} jets")
axes[0].set_ylabel("reconstruction error")
axes[0].legend()
plt.show()
rank_correlation = {name: stats.spearmanr(multiplicity["test"], s).statistic for name, s in ae_scores.items()}
print("rank correlation of error and multiplicity:", {k: round(v, 2) for k, v in rank_correlation.items()})

# %% [markdown]
# In the committed cpu-profile run both errors grow with the multiplicity, whichever class the network
# was trained on (rank correlations 0.57 and 0.44): more constituents mean more pixels to get right. That
# is the complexity bias. Training on QCD jets, the bias and the signal point the same way, since top
# jets are more complex; training on top jets, they point in opposite directions and the bias wins. A
# reconstruction error is not a density: nothing in its training tells the network that a QCD jet, which
# it has never seen, should come back badly. Here is one QCD jet through the top-trained autoencoder:

# %%
qcd_jet = images["test"][np.flatnonzero(~test_is_top)[0]]
with torch.no_grad():
    reconstructed = autoencoders["top"](torch.tensor(qcd_jet[None], device=device))[0].cpu().numpy()
fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
pictures = [("QCD jet", qcd_jet), ("top-trained reconstruction", reconstructed)]
for ax, (title, picture) in zip(axes, pictures, strict=True):
    ax.imshow(picture.reshape(20, 20).T, origin="lower", extent=extent, vmin=0, vmax=0.8)
    ax.set(title=title, xlabel=r"$\Delta y$", ylabel=r"$\Delta\phi$")
plt.show()

# %% [markdown]
# ## 4. The normalized autoencoder
#
# The normalized autoencoder (NAE) of Yoon, Noh and Park turns the error into the energy of a Boltzmann
# density,
# $$ p_\theta(x) = \frac{e^{-E_\theta(x)}}{Z_\theta} , \qquad E_\theta(x) = \frac{\text{MSE}_\theta(x)}{T} ,
#    \qquad Z_\theta = \int dx\, e^{-E_\theta(x)} , $$
# and trains it by maximum likelihood. The gradient of the loss $-\langle \log p_\theta \rangle$ has two
# terms,
# $$ \nabla_\theta L = \big\langle \nabla_\theta E_\theta \big\rangle_\text{data} -
#    \big\langle \nabla_\theta E_\theta \big\rangle_{p_\theta} : $$
# lower the energy of the training jets, and raise it where the *model* puts its probability. The second
# term is what a plain autoencoder lacks. If the model reconstructs QCD jets well, they carry probability,
# show up among the model's samples, and get pushed up.
#
# The samples come from Langevin Markov chains, $x \leftarrow x - \epsilon \nabla_x E + \sigma \eta$ with
# Gaussian $\eta$. Following Yoon et al., the chains run in the latent space on the energy of the decoded
# point, $z \mapsto E_\theta(g(z))$, starting uniformly on the latent sphere: the codes of a spherical
# autoencoder fill it, so the chains start where the decoder puts its events. The decoded end points are
# the negative samples. Yoon et al. continue with a short chain in pixel space; on sparse jet images its
# noise mostly lights up empty pixels, so we stop at the decoded images. Nor do we clip them to the
# range of real pixels: a clipped image is not where the chain ended, and raising its energy does not
# raise the energy where the model puts its probability. Written out, the loss of one batch is
# $$ L = \langle E_\theta(x) \rangle_\text{data} - \langle E_\theta(x^-) \rangle_\text{negatives} +
#    \gamma \langle E_\theta(x^-)^2 \rangle_\text{negatives} , $$
# where the last term keeps the negative energies from running away: it alone would hold them at
# $1/(2\gamma) = 50$. We start from the trained autoencoders of section 2, set $T$ to their mean
# training error, so that a typical training jet has $E \approx 1$, and fine-tune with a small learning
# rate. One step, by hand:

# %%
nae_steps = tutor.pick(ci=150, cpu=2_000, gpu=2_000)
chain = {"steps": 20, "step_size": 0.1, "noise": 0.02}  # cold latent chains: T_chain = 0.02^2 / 0.2
gamma = 0.01


def normalized(model, x):
    """The NAE of a trained autoencoder, with T its mean error on the training images x (events, 400)."""
    temperature = float(score(model.reconstruction_error, x[:2000]).mean())
    return NormalizedAutoencoder(copy.deepcopy(model), temperature=temperature)  # negatives not clipped


nae = normalized(autoencoders["top"], images["train"][is_top])
generator = torch.Generator(device=device).manual_seed(cfg.seed)
z = torch.randn(128, 10, generator=generator, device=device)
z = z / z.norm(dim=1, keepdim=True)  # uniform on the latent sphere
z = langevin(nae.latent_energy, z, chain["steps"], chain["step_size"], chain["noise"], generator=generator)
with torch.no_grad():
    negatives = nae.autoencoder.decode(z)
batch = torch.tensor(images["train"][is_top][:128], device=device)
e_data, e_negative = nae.energy(batch), nae.energy(negatives)
by_hand = e_data.mean() - e_negative.mean() + gamma * (e_negative**2).mean()
print(f"<E> of the training jets {e_data.mean():.2f}, of the negatives {e_negative.mean():.3f}")
print(f"loss by hand {by_hand:.4f}, nae_loss {nae_loss(nae, batch, negatives, gamma=gamma):.4f}")

# %% [markdown]
# At the start the negatives have energies far below the training jets': the decoder's own images come
# back almost perfectly. Twenty cold steps from random codes only find the low-energy regions near
# where they start, and as training raises those, the chains would have to search anew every step. So the
# chains persist (Tieleman's persistent contrastive divergence, the replay buffer of Du and Mordatch):
# `nn.PersistentChains` stores 2048 latent codes, each step continues 128 of them by 20 steps and
# stores their ends, and restarts 5 % from random codes. Over the training every chain then runs for
# hundreds of steps and follows the energy landscape as it changes. The training loop, in both
# directions:


# %%
def train_nae(model, x, steps, seed):
    """Fine-tune the NAE `model` on images x (events, 400) for `steps` batches; returns the energy history."""
    tutor.seed_everything(seed)
    generator = torch.Generator(device=device).manual_seed(seed)
    chains = PersistentChains(model, size=2048, fresh=0.05, generator=generator)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    data = torch.tensor(x, device=device)
    history = {"data": [], "negatives": []}
    for _ in tqdm(range(steps), desc="NAE steps", leave=False):
        batch = data[torch.randint(0, len(data), (128,), generator=generator, device=device)]
        negatives = chains.sample(128, **chain)
        loss = nae_loss(model, batch, negatives, gamma=gamma)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            history["data"].append(model.energy(batch).mean().item())
            history["negatives"].append(model.energy(negatives).mean().item())
    return history, chains


naes, nae_history, nae_chains = {}, {}, {}
start = time.perf_counter()
for name, rows in [("QCD", ~is_top), ("top", is_top)]:
    naes[name] = normalized(autoencoders[name], images["train"][rows])
    nae_history[name], nae_chains[name] = train_nae(naes[name], images["train"][rows], nae_steps, cfg.seed)
    naes[name].eval()
print(f"{len(naes)} NAEs, {nae_steps} steps each, in {time.perf_counter() - start:.0f} s")


nae_scores = {name: score(model.energy, images["test"]) for name, model in naes.items()}
nae_auc = {name: metrics.auc(signal[name], s) for name, s in nae_scores.items()}

# %% [markdown]
# The mean energies of the training batches and of the negatives during training, and what the
# negatives of the top-trained NAE look like at the end:

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for ax, name in zip(axes, ["QCD", "top"], strict=True):
    for which, values in nae_history[name].items():
        ax.plot(np.convolve(values, np.ones(25) / 25, mode="valid"), label=which)
    ax.set(xlabel="step", ylabel=r"mean energy $E$", yscale="log", title=f"NAE trained on {name} jets")
    ax.legend()
plt.show()
final = naes["top"].decode_negatives(nae_chains["top"].codes[:4])  # four stored chains, decoded
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
for ax, picture in zip(axes, final.cpu().numpy(), strict=True):
    ax.imshow(picture.reshape(20, 20).T, origin="lower", extent=extent, vmin=0, vmax=0.8)
    ax.set(xlabel=r"$\Delta y$")
axes[0].set_ylabel(r"$\Delta\phi$")
fig.suptitle("negative samples of the top-trained NAE")
plt.show()

# %% [markdown]
# The same table as in section 2, now with the NAE, and the ROC curves of both models:

# %%
print("AUC for the class not trained on      trained on QCD   trained on top")
print(f"  autoencoder                         {ae_auc['QCD']:14.3f} {ae_auc['top']:16.3f}")
print(f"  normalized autoencoder              {nae_auc['QCD']:14.3f} {nae_auc['top']:16.3f}")
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, name in zip(axes, ["QCD", "top"], strict=True):
    scores = {"AE": ae_scores[name], "NAE": nae_scores[name]}
    tutor.plotting.plot_roc(signal[name], scores, ax=ax)
    ax.set_title(f"trained on {name} jets")
plt.show()
nae_rank_correlation = {
    name: stats.spearmanr(multiplicity["test"], s).statistic for name, s in nae_scores.items()
}
print(
    "rank correlation of energy and multiplicity:", {k: round(v, 2) for k, v in nae_rank_correlation.items()}
)

# %% [markdown]
# ## 5. Results

# %%
for name, aucs in [("AE", ae_auc), ("NAE", nae_auc)]:
    print(f"{name:>3}  trained on QCD -> tops: AUC {aucs['QCD']:.3f}; on top -> QCD: AUC {aucs['top']:.3f}")
print(f"AE on linear pT-fraction pixels: {linear_auc['QCD']:.3f} and {linear_auc['top']:.3f}")

# %%
# Where the bands come from. ci: measured in ci-profile runs on the shipped jets (2 CPU cores).
# cpu: measured in cpu-profile runs (2-core AMD EPYC; 30k training jets, 4k test jets).
# gpu: targets (tutor.target) until a gpu run measures them.
tutor.expect(
    "AE trained on QCD: AUC for top jets",
    ae_auc["QCD"],
    ci=(0.8, 0.97),
    cpu=(0.9, 0.97),
    gpu=tutor.target(0.9, 0.97),
)
tutor.expect(
    "AE trained on top: AUC for QCD jets",
    ae_auc["top"],
    ci=(0.1, 0.5),
    cpu=(0.1, 0.45),
    gpu=tutor.target(0.1, 0.5),
)
tutor.expect(
    "NAE trained on QCD: AUC for top jets",
    nae_auc["QCD"],
    ci=(0.8, 0.97),
    cpu=(0.65, 0.95),
    gpu=tutor.target(0.7, 0.95),
)
tutor.expect(
    "NAE trained on top: AUC for QCD jets",
    nae_auc["top"],
    ci=(0.1, 0.6),
    cpu=(0.7, 0.9),
    gpu=tutor.target(0.7, 0.9),
)

# %% [markdown]
# **What the committed run shows** (cpu profile, 2-core CPU; 30k training jets, 4k test jets; the
# tables above).
#
# *The complexity bias.* On square-root pixels the autoencoder trained on QCD jets finds top jets with an
# AUC of 0.948, and the one trained on top jets scores QCD jets at 0.229: far below guessing, the QCD
# jets come back better than the top jets the network was trained on. On linear $p_T$ fractions the
# numbers are 0.880 and 0.751: no bias, but a weaker top tagger. Which class is found depends on
# preprocessing choices that have nothing to do with the signal.
#
# *The normalized autoencoder* lifts the top-trained direction from 0.229 to 0.785 and brings the
# QCD-trained one down from 0.948 to 0.701: both directions now work, and neither as well as the better
# plain autoencoder. The top-trained energy anti-correlates with the multiplicity (rank correlation
# $-0.49$): the negative samples taught it that jets simpler than tops are unlikely. The price is paid by
# the QCD-trained network, whose energy no longer tracks the multiplicity (0.08), so it loses the easy
# handle that made the plain autoencoder a good top tagger. The NAE is also far more delicate to train
# than an autoencoder: its result depends on how well the chains explore, which is why they persist.
# One caveat: the sampling recipe (persistent latent chains, no pixel-space chains, no clipping) was
# chosen while watching the AUC on these test jets. A real search has no signal to watch, so the NAE
# numbers are optimistic to that extent, and their spread over seeds is not measured here.

# %% [markdown]
# ## Exercises
#
# ### Exercise 1: the AUC as a probability
#
# The AUC is the probability that a randomly chosen signal jet scores higher than a randomly chosen
# background jet (ties count one half). Write `auc_by_pairs(signal_scores, background_scores)` that
# counts all pairs, and use it on the top-trained autoencoder's scores. Then show that swapping the roles
# of the two classes, for the *same* score, turns the AUC into $1 - \text{AUC}$. Why does this mean that a
# single score cannot find both QCD jets among top jets and top jets among QCD jets?


# %% tags=["solution", "hide-input"]
# Hint: compare every signal score with every background score by broadcasting, s[:, None] > b[None, :].
# One score orders the jets once; looking for the other class reads the same order backwards, so one
# direction has AUC < 0.5 unless the score separates nothing. Two backgrounds need two trainings.
def auc_by_pairs(signal_scores, background_scores):
    s, b = np.asarray(signal_scores)[:, None], np.asarray(background_scores)[None, :]
    return float(np.mean(s > b) + 0.5 * np.mean(s == b))


# %% tags=["check"]
top_scores = ae_scores["top"]
qcd_as_signal = auc_by_pairs(top_scores[~test_is_top], top_scores[test_is_top])
assert np.isclose(qcd_as_signal, metrics.auc(signal["top"], top_scores))
assert np.isclose(auc_by_pairs(top_scores[test_is_top], top_scores[~test_is_top]), 1 - qcd_as_signal)
assert np.isclose(auc_by_pairs([1.0, 2.0], [2.0, 0.0]), 0.625)  # 1 > 0, 2 > 0, 2 = 2 (one half), 1 < 2
print(f"top-trained AE, QCD as signal: AUC {qcd_as_signal:.3f}; top as signal: {1 - qcd_as_signal:.3f}")
print("Exercise 1: correct")

# %% [markdown]
# ### Exercise 2: Langevin sampling of a known density
#
# For the energy $E(x) = x^2 / (2 s^2)$ the density $e^{-E}$ is a Gaussian of width $s$. Write
# `langevin_by_hand(x, steps, step_size, noise, rng)` for this energy (numpy, $x$ of shape (chains,)), and
# show that with `noise` $= \sqrt{2\epsilon}$ the chains end with variance close to $s^2$. The update is
# linear, so the variance it converges to is exact: $v = \sigma^2 / (1 - (1 - \epsilon/s^2)^2)$. Check it
# for a hot chain ($\sigma = \sqrt{2\epsilon}$) and a cold one ($\sigma = 0.1\sqrt{2\epsilon}$), and compare
# with the package's `langevin`. Which one does the NAE use, and what does that do to its samples?


# %% tags=["solution", "hide-input"]
# Hint: the gradient of E is x / s^2. A cold chain (small noise) samples a narrower density, e^{-E/T} with
# T = noise^2 / (2 step_size) < 1: it settles near the minima of E. The NAE's latent chains are cold (noise
# 0.02 at step 0.1, T = 0.002): they find where the energy is low, which is what the loss must push up.
def langevin_by_hand(x, steps, step_size, noise, rng, s=1.0):
    for _ in range(steps):
        x = x - step_size * x / s**2 + noise * rng.normal(size=x.shape)
    return x


def stationary_variance(step_size, noise, s=1.0):
    return noise**2 / (1 - (1 - step_size / s**2) ** 2)


# %% tags=["check"]
rng = np.random.default_rng(3)
step, s = 0.05, 1.5
for noise in [np.sqrt(2 * step), 0.1 * np.sqrt(2 * step)]:
    chains = langevin_by_hand(np.zeros(20_000), 400, step, noise, rng, s=s)
    assert abs(chains.var() / stationary_variance(step, noise, s) - 1) < 0.05
    package = langevin(
        lambda v: (v**2).sum(1) / (2 * s**2), torch.zeros(20_000, 1), 400, step, float(noise)
    ).numpy()
    assert abs(package.var() / stationary_variance(step, noise, s) - 1) < 0.05
    print(
        f"noise {noise:.3f}: variance {chains.var():.3f} (by hand), {package.var():.3f} (package), "
        f"exact {stationary_variance(step, noise, s):.3f}, target s^2 = {s**2}"
    )
print("Exercise 2: correct")

# %% [markdown]
# ### Exercise 3: what the scores track
#
# Section 3 measured the rank (Spearman) correlation between the autoencoder errors and the constituent
# multiplicity. Write `rank_correlation(a, b)` yourself: the Pearson correlation of the ranks of `a` and
# `b` (use `scipy.stats.rankdata`, which gives ties their mean rank). Compute it for the two autoencoders
# and the two NAEs. Which score tracks the multiplicity least, and why is a score that tracks nothing but
# the multiplicity a poor anomaly detector, even where its AUC is high?


# %% tags=["solution", "hide-input"]
# Hint: np.corrcoef of the two rank arrays. A score that is only the multiplicity flags whatever has more
# (or fewer) constituents than the background, an anomaly only for signals that happen to differ in it.
# The NAE's training raises the energy of simple jets: trained on QCD, its energy hardly tracks the
# multiplicity any more; trained on top jets, it turns negative, and the score flags the simpler jets.
def rank_correlation(a, b):
    return float(np.corrcoef(stats.rankdata(a), stats.rankdata(b))[0, 1])


all_scores = {f"AE {k}": v for k, v in ae_scores.items()} | {f"NAE {k}": v for k, v in nae_scores.items()}
correlations = {name: rank_correlation(multiplicity["test"], s) for name, s in all_scores.items()}

# %% tags=["check"]
for name, s in all_scores.items():
    assert np.isclose(correlations[name], stats.spearmanr(multiplicity["test"], s).statistic)
assert np.isclose(rank_correlation([1, 2, 2, 3], [4, 5, 5, 9]), 1.0)  # ties in both: still monotone
assert np.isclose(rank_correlation([1, 2, 3], [3, 2, 1]), -1.0)
print({name: round(c, 2) for name, c in correlations.items()})
print("Exercise 3: correct")
