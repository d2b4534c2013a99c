"""Autoencoders for anomaly searches, and the normalized autoencoder that turns one into a density.

An :class:`Autoencoder` compresses an event ``x`` (flattened, e.g. a jet image) to a few latent numbers and
back; trained on background, its reconstruction error is an anomaly score. The score has a complexity bias:
inputs that are simple to compress (sparse images, few constituents) come back well whatever the network
was trained on, so an autoencoder trained on top jets does not flag QCD jets.

The normalized autoencoder (Yoon, Noh, Park 2021) reads the reconstruction error as an energy,
``p(x) = exp(-E(x)) / Z`` with ``E(x) = |x - D(E(x))|^2 / T``, and trains it by maximum likelihood. The
gradient of ``-log p`` over the data is ``<dE/dtheta>_data - <dE/dtheta>_model``: the second term needs
samples of the model, drawn here by Langevin Markov chains (:func:`langevin`), first in the latent space on
the energy of decoded points, then in the data space (:meth:`NormalizedAutoencoder.sample`), or as
persistent chains that go on from one training step to the next (:class:`PersistentChains`). Every region
that the model reconstructs well but the data do not populate is then pushed up in energy, simple inputs
included. :func:`nae_loss` is the loss of one batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .mlp import MLP, _check_positive_float, _check_positive_int

__all__ = ["Autoencoder", "NormalizedAutoencoder", "PersistentChains", "langevin", "nae_loss"]

Energy = Callable[[torch.Tensor], torch.Tensor]
"""A function from a batch ``(batch, ...)`` to one energy per event ``(batch,)``."""


def _check_batch(x: torch.Tensor, features: int, what: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != features:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"{what} expects a tensor of shape (batch, {features}), got {shape}; flatten images first, "
            f"e.g. images.reshape(len(images), -1)."
        )
    if not torch.isfinite(x).all():
        raise ValueError(f"{what} got {int((~torch.isfinite(x)).sum())} NaN or infinite values.")


def _on_sphere(z: torch.Tensor) -> torch.Tensor:
    """``z / |z|`` row by row, ``(batch, latent)``."""
    return z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)


class Autoencoder(nn.Module):
    """``x (batch, in_features) -> z (batch, latent) -> x_hat (batch, in_features)``, two MLPs.

    Parameters
    ----------
    in_features
        Size of a flattened event, e.g. 1600 for a 40 x 40 jet image.
    latent
        Size of the bottleneck.
    hidden
        Widths of the encoder's hidden layers; the decoder mirrors them.
    output
        Module applied to the decoder's output, e.g. ``torch.nn.Softplus()`` for non-negative pixels;
        ``None`` leaves it linear.
    spherical
        Put the latent codes on the unit sphere: :meth:`encode` normalises them and :meth:`decode` reads any
        ``z`` by its direction ``z / |z|``. The latent space is then compact, so the normalized
        autoencoder's latent chains can start anywhere on it and still start where the decoder puts
        events (Yoon et al.).

    Examples
    --------
    >>> model = Autoencoder(16, latent=2, hidden=(8,))
    >>> model.reconstruction_error(torch.zeros(5, 16)).shape
    torch.Size([5])
    """

    def __init__(
        self,
        in_features: int,
        latent: int,
        hidden: Sequence[int] = (256, 64),
        output: nn.Module | None = None,
        spherical: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(spherical, bool):
            raise TypeError(f"spherical must be True or False, got {spherical!r}.")
        self.spherical = spherical
        self.in_features = _check_positive_int(in_features, "in_features")
        self.latent = _check_positive_int(latent, "latent")
        if output is not None and not isinstance(output, nn.Module):
            raise TypeError(
                f"output must be a torch.nn.Module such as nn.Softplus() or None, got {output!r}."
            )
        self.encoder = MLP(self.in_features, self.latent, hidden)
        self.decoder = MLP(self.latent, self.in_features, tuple(reversed(tuple(hidden))))
        self.output = output if output is not None else nn.Identity()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent codes ``(batch, latent)`` of events ``(batch, in_features)``."""
        _check_batch(x, self.in_features, "Autoencoder.encode")
        z = self.encoder(x)
        return _on_sphere(z) if self.spherical else z

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Events ``(batch, in_features)`` decoded from latent codes ``(batch, latent)``."""
        _check_batch(z, self.latent, "Autoencoder.decode")
        return self.output(self.decoder(_on_sphere(z) if self.spherical else z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction ``(batch, in_features)`` of ``x``."""
        return self.decode(self.encode(x))

    def reconstruction_error(self, x: torch.Tensor) -> torch.Tensor:
        """Mean squared error per event over its features, ``(batch,)``: the anomaly score."""
        return ((self(x) - x) ** 2).mean(dim=1)


def langevin(
    energy: Energy,
    start: torch.Tensor,
    steps: int,
    step_size: float,
    noise: float,
    *,
    bounds: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Run Langevin chains ``x <- x - step_size * dE/dx + noise * N(0, 1)`` from ``start``; return the end.

    With ``noise = sqrt(2 step_size)`` and a small step the chains sample ``exp(-E)``; the normalized
    autoencoder uses a smaller noise (a colder chain), as Yoon et al. do. ``bounds`` clips every step to the
    range of the data (e.g. pixel values). The returned tensor is detached.

    Parameters
    ----------
    energy
        ``(batch, ...) -> (batch,)``, differentiable.
    start : tensor, shape ``(batch, ...)``
    """
    steps = _check_positive_int(steps, "steps")
    step_size = _check_positive_float(step_size, "step_size")
    if isinstance(noise, bool) or not isinstance(noise, int | float) or noise < 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}.")
    if bounds is not None and not bounds[0] < bounds[1]:
        raise ValueError(f"bounds must be (low, high) with low < high, got {bounds!r}.")
    x = start.detach().clone()
    for _ in range(steps):
        x.requires_grad_(True)
        values = energy(x)
        if values.shape != (len(x),):
            raise ValueError(
                f"energy must return one value per chain, shape ({len(x)},), got {tuple(values.shape)}."
            )
        (gradient,) = torch.autograd.grad(values.sum(), x)
        kick = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x = (x.detach() - step_size * gradient + noise * kick).detach()
        if bounds is not None:
            x = x.clamp(*bounds)
    return x


class NormalizedAutoencoder(nn.Module):
    """An autoencoder read as an energy-based model, ``E(x) = reconstruction_error(x) / temperature``.

    Parameters
    ----------
    autoencoder
        The network; pre-train it as a plain autoencoder on the background first (Yoon et al.).
    temperature
        ``T`` of the Boltzmann form ``p(x) ~ exp(-E(x))``.
    bounds
        Range of the data, ``(low, high)``, to which the data-space chains are clipped.
    """

    def __init__(
        self, autoencoder: Autoencoder, temperature: float = 1.0, bounds: tuple[float, float] | None = None
    ) -> None:
        super().__init__()
        if not isinstance(autoencoder, Autoencoder):
            raise TypeError(f"autoencoder must be an Autoencoder, got {type(autoencoder).__name__}.")
        self.autoencoder = autoencoder
        self.temperature = _check_positive_float(temperature, "temperature")
        self.bounds = bounds

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``E(x)`` per event, ``(batch,)``: the anomaly score, and ``-log p(x)`` up to ``log Z``."""
        return self.autoencoder.reconstruction_error(x) / self.temperature

    def latent_energy(self, z: torch.Tensor) -> torch.Tensor:
        """``E(D(z))``: the energy of the decoded latent points, ``(batch,)``."""
        return self.energy(self.autoencoder.decode(z))

    def random_codes(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` latent codes uniform on the unit sphere, ``(n, latent)``: where the chains start.

        This is the on-manifold initialisation of Yoon et al.: it covers the codes of a ``spherical``
        autoencoder, so the chains start where the decoder puts its events rather than at random pixels.
        """
        n = _check_positive_int(n, "n")
        device = next(self.parameters()).device
        return _on_sphere(torch.randn(n, self.autoencoder.latent, generator=generator, device=device))

    def latent_chains(
        self,
        start: torch.Tensor,
        *,
        steps: int = 20,
        step_size: float = 0.1,
        noise: float = 0.02,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Langevin chains on ``E(D(z))`` from codes ``start`` ``(n, latent)``; their ends ``(n, latent)``.

        The ends are put on the unit sphere for a ``spherical`` autoencoder, so that they can start the
        next chains (see :class:`PersistentChains`). Gradients do not flow into the parameters.
        """
        _check_batch(start, self.autoencoder.latent, "NormalizedAutoencoder.latent_chains")
        z = langevin(self.latent_energy, start, steps, step_size, noise, generator=generator)
        return _on_sphere(z) if self.autoencoder.spherical else z

    def decode_negatives(self, z: torch.Tensor) -> torch.Tensor:
        """The events ``(n, in_features)`` decoded from codes ``z`` ``(n, latent)``, clipped to the bounds."""
        with torch.no_grad():
            x = self.autoencoder.decode(z)
        return x.clamp(*self.bounds) if self.bounds is not None else x

    def sample(
        self,
        n: int,
        *,
        latent_steps: int = 20,
        latent_step_size: float = 0.1,
        latent_noise: float = 0.02,
        data_steps: int = 20,
        data_step_size: float = 1e-3,
        data_noise: float = 1e-3,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Negative samples ``(n, in_features)``: latent chains on ``E(D(z))``, decoded, then data chains.

        The latent chains start from :meth:`random_codes`. ``data_steps=0`` skips the data-space chains
        and returns the decoded events. Gradients do not flow into the parameters.
        """
        if isinstance(data_steps, bool) or not isinstance(data_steps, int) or data_steps < 0:
            raise ValueError(f"data_steps must be an integer >= 0, got {data_steps!r}.")
        z = self.latent_chains(
            self.random_codes(n, generator),
            steps=latent_steps,
            step_size=latent_step_size,
            noise=latent_noise,
            generator=generator,
        )
        x0 = self.decode_negatives(z)
        if data_steps == 0:
            return x0
        return langevin(
            self.energy, x0, data_steps, data_step_size, data_noise, bounds=self.bounds, generator=generator
        )


class PersistentChains:
    """Latent chains that go on from one training step to the next: a replay buffer of codes.

    Short chains from random codes only find the low-energy regions near where they start. Persistent
    chains (Tieleman 2008; the replay buffer of Du and Mordatch 2019) keep their ends, so over the training
    every chain runs for many steps and follows the energy landscape as the model changes; a fraction
    ``fresh`` of each batch restarts from :meth:`NormalizedAutoencoder.random_codes` to keep exploring.

    Parameters
    ----------
    model
        The normalized autoencoder whose latent energy the chains follow.
    size
        Number of stored codes.
    fresh
        Fraction of each batch started from random codes, in ``[0, 1]``.
    generator
        Random numbers for the initial codes, the choice of chains, the restarts and the chains' noise.
    """

    def __init__(
        self,
        model: NormalizedAutoencoder,
        size: int = 2048,
        fresh: float = 0.05,
        generator: torch.Generator | None = None,
    ) -> None:
        if not isinstance(model, NormalizedAutoencoder):
            raise TypeError(f"model must be a NormalizedAutoencoder, got {type(model).__name__}.")
        if isinstance(fresh, bool) or not isinstance(fresh, int | float) or not 0 <= fresh <= 1:
            raise ValueError(f"fresh must be a fraction in [0, 1], got {fresh!r}.")
        self.model, self.fresh, self.generator = model, float(fresh), generator
        self.codes = model.random_codes(_check_positive_int(size, "size"), generator)

    def sample(self, n: int, *, steps: int = 20, step_size: float = 0.1, noise: float = 0.02) -> torch.Tensor:
        """Continue ``n`` stored chains for ``steps`` steps; the decoded ends ``(n, in_features)``."""
        n = _check_positive_int(n, "n")
        device = self.codes.device
        rows = torch.randint(0, len(self.codes), (n,), generator=self.generator, device=device)
        start = self.codes[rows].clone()
        restart = torch.rand(n, generator=self.generator, device=device) < self.fresh
        if restart.any():
            start[restart] = self.model.random_codes(int(restart.sum()), self.generator)
        z = self.model.latent_chains(
            start, steps=steps, step_size=step_size, noise=noise, generator=self.generator
        )
        self.codes[rows] = z
        return self.model.decode_negatives(z)


def nae_loss(
    model: NormalizedAutoencoder, x: torch.Tensor, negatives: torch.Tensor, *, gamma: float = 1.0
) -> torch.Tensor:
    """``<E(x)>_data - <E(x-)>_negatives + gamma <E(x-)^2>``: the NAE loss of one batch (a scalar).

    The first two terms have the gradient of ``-<log p(x)>`` when the negatives are samples of the model
    (the ``log Z`` term); the last keeps the negative energies from running away (Yoon et al.).

    Parameters
    ----------
    x : tensor, shape ``(batch, in_features)``
        Background events.
    negatives : tensor, shape ``(n, in_features)``
        Samples of the model, e.g. from :meth:`NormalizedAutoencoder.sample` (detached).
    """
    if isinstance(gamma, bool) or not isinstance(gamma, int | float) or gamma < 0:
        raise ValueError(f"gamma must be a number >= 0, got {gamma!r}.")
    negative_energy = model.energy(negatives.detach())
    return model.energy(x).mean() - negative_energy.mean() + gamma * (negative_energy**2).mean()
