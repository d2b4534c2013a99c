"""An autoregressive transformer over jets (JetGPT-style): kinematics and multiplicity, one jet per token.

For a hard process ``c`` (the Z of Z + jets) and pT-ordered jets ``x_1 ... x_n`` the density factorises
exactly into one step per jet::

    p(x_1:n | c) = prod_{i=1..n} p_kin(x_i | c, x_<i)
                 * prod_{i=0..n-1} p_split(c, x_1:i) * [1 - p_split(c, x_1:n)]

``p_split(c, x_1:i)`` is the probability that a jet ``i + 1`` follows the first ``i`` jets, ``p_kin`` the
density of its kinematics. Token 0 embeds ``c``, token ``i`` embeds jet ``i``; causal self-attention makes
the output ``h_i`` of token ``i`` a function of ``c, x_1 ... x_i`` only, and two heads read it: a Bernoulli
logit (``p_split``) and a Gaussian mixture with diagonal covariances (``p_kin`` of the next jet). Summed over
all multiplicities the probabilities telescope to one, so the model is a normalised density over events of
any multiplicity; sampling runs the factorisation forward, one jet at a time.

By default there is no position embedding: the network knows where it is only from what it has seen (the
attention pattern over the tokens and the jets' own kinematics, which fall in pT), so a pattern learned at
lower multiplicities can carry over to higher ones (Butter et al., "Extrapolating jet radiation with
autoregressive transformers", arXiv:2412.12074). ``positions=P`` adds a learned embedding of the token
index ``0 .. P - 1``, as language models do; on a sample that resolves at most ``k`` jets the embeddings
from index ``k`` on never receive a gradient, which is the point of the comparison chapter 5b makes.

A training sample that resolves at most ``k`` jets is *censored*: with ``censor_at=k`` an event with ``n >=
k`` jets contributes its first ``k`` jets and the ``k`` continue-decisions before them, but no stop or
continue term after jet ``k``, which the sample cannot tell.
"""

from __future__ import annotations

import warnings
from functools import partial

import torch
from torch import nn
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from .mlp import _check_positive_int
from .regression import _sigma
from .transformer import encoder_blocks

__all__ = ["AutoregressiveJets", "autoregressive_loss", "censored_loss"]


class AutoregressiveJets(nn.Module):
    """``p(jets | context)`` over variable jet multiplicities (module docstring).

    Parameters
    ----------
    jet_features
        Features per jet (standardised, e.g. log pT, eta, dphi, log m).
    context_features
        Features of the hard process that conditions the jets (standardised).
    d_model
        Width of the token representation.
    num_heads
        Attention heads; must divide ``d_model``.
    num_layers
        Transformer blocks (pre-norm ``nn.TransformerEncoderLayer`` with a causal mask).
    n_components
        Gaussians in the mixture density of each jet's kinematics.
    mlp_ratio
        Width of the blocks' feed-forward network in units of ``d_model``.
    positions
        None (no position embedding), or the number of token indices with a learned embedding; the
        context and at most ``positions - 1`` jets then fit.

    Examples
    --------
    >>> model = AutoregressiveJets(jet_features=4, context_features=5, d_model=32, num_layers=2)
    >>> jets, n = model.sample(torch.zeros(10, 5), max_jets=6)
    >>> jets.shape, n.shape, model.log_prob(torch.zeros(10, 5), jets, n).shape
    (torch.Size([10, 6, 4]), torch.Size([10]), torch.Size([10]))
    """

    def __init__(
        self,
        jet_features: int,
        context_features: int,
        d_model: int = 64,
        num_heads: int = 4,
        num_layers: int = 3,
        n_components: int = 8,
        mlp_ratio: int = 2,
        positions: int | None = None,
    ) -> None:
        super().__init__()
        self.jet_features = _check_positive_int(jet_features, "jet_features")
        self.context_features = _check_positive_int(context_features, "context_features")
        self.n_components = _check_positive_int(n_components, "n_components")
        self.embed_context = nn.Linear(self.context_features, d_model)
        self.embed_jet = nn.Linear(self.jet_features, d_model)
        self.embed_position = (
            None if positions is None else nn.Embedding(_check_positive_int(positions, "positions"), d_model)
        )
        self.blocks = encoder_blocks(d_model, num_heads, num_layers, mlp_ratio, dropout=0.0)
        self.split_head = nn.Linear(d_model, 1)
        # per component: a mixture logit, jet_features means and jet_features log-widths
        self.kinematics_head = nn.Linear(d_model, self.n_components * (1 + 2 * self.jet_features))

    def _check(self, context: torch.Tensor, jets: torch.Tensor | None = None) -> None:
        if context.ndim != 2 or context.shape[1] != self.context_features:
            raise ValueError(
                f"context must have shape (batch, {self.context_features}), got {tuple(context.shape)}."
            )
        if jets is None:
            return
        if jets.ndim != 3 or jets.shape[0] != len(context) or jets.shape[2] != self.jet_features:
            raise ValueError(
                f"jets must have shape (batch, slots, {self.jet_features}) with the batch of the context "
                f"({len(context)}), got {tuple(jets.shape)}."
            )
        if torch.isnan(jets).any() or torch.isnan(context).any():
            raise ValueError("AutoregressiveJets got NaN inputs: remove those events before training.")

    def hidden(self, context: torch.Tensor, jets: torch.Tensor) -> torch.Tensor:
        """Token outputs ``h_0 ... h_J`` ``(batch, J + 1, d_model)`` for context ``(batch, context_features)``
        and jets ``(batch, J, jet_features)``; ``h_i`` depends on the context and jets ``1 .. i`` only."""
        tokens = torch.cat([self.embed_context(context).unsqueeze(1), self.embed_jet(jets)], dim=1)
        if self.embed_position is not None:
            if tokens.shape[1] > self.embed_position.num_embeddings:
                raise ValueError(
                    f"{tokens.shape[1] - 1} jets need {tokens.shape[1]} positions, but the model embeds "
                    f"{self.embed_position.num_embeddings}; build it with a larger positions."
                )
            tokens = tokens + self.embed_position(torch.arange(tokens.shape[1], device=tokens.device))
        causal = nn.Transformer.generate_square_subsequent_mask(tokens.shape[1], device=tokens.device)
        return self.blocks(tokens, mask=causal.to(tokens.dtype), is_causal=True)

    def split_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, tokens)`` of ``p_split``: after token ``i``, does another jet follow?"""
        return self.split_head(hidden).squeeze(-1)

    def kinematics(self, hidden: torch.Tensor) -> MixtureSameFamily:
        """``p_kin`` of the next jet after each token: a distribution with ``batch_shape``
        ``hidden.shape[:-1]`` and ``event_shape`` ``(jet_features,)``."""
        k, d = self.n_components, self.jet_features
        out = self.kinematics_head(hidden)
        logits = out[..., :k]
        loc, log_sigma = out[..., k:].unflatten(-1, (k, 2 * d)).chunk(2, dim=-1)  # each (..., k, d)
        return MixtureSameFamily(Categorical(logits=logits), Independent(Normal(loc, _sigma(log_sigma)), 1))

    def log_prob(
        self,
        context: torch.Tensor,
        jets: torch.Tensor,
        n_jets: torch.Tensor,
        *,
        censor_at: int | None = None,
    ) -> torch.Tensor:
        """``log p(x_1:n | c)`` per event, or the censored likelihood (module docstring).

        Parameters
        ----------
        context
            ``(batch, context_features)``.
        jets
            ``(batch, J, jet_features)``, pT-ordered; slots at and beyond ``n_jets`` are ignored.
        n_jets
            ``(batch,)`` integer multiplicities; each ``<= J``, unless the event is censored.
        censor_at
            None (every multiplicity is resolved) or ``k <= J``: events with ``n_jets >= k`` count their
            first ``k`` jets and no split term after jet ``k``.

        Returns
        -------
        torch.Tensor
            ``(batch,)`` log-likelihoods (nats; densities in the standardised jet features).
        """
        self._check(context, jets)
        n_slots = jets.shape[1]
        if n_jets.is_floating_point():
            raise ValueError("n_jets must hold integers (jet counts); convert it with .long() first.")
        n_jets = n_jets.to(device=jets.device, dtype=torch.long)
        if n_jets.shape != (len(jets),) or (n_jets < 0).any():
            raise ValueError(
                f"n_jets must be ({len(jets)},) non-negative integers, got {tuple(n_jets.shape)}."
            )
        censored = torch.zeros_like(n_jets, dtype=torch.bool)
        if censor_at is not None:
            if not 0 <= censor_at <= n_slots:
                raise ValueError(f"censor_at must be in 0 ... {n_slots} (the jet slots), got {censor_at!r}.")
            censored = n_jets >= censor_at
            n_jets = n_jets.clamp(max=censor_at)
        if (n_jets > n_slots).any():
            raise ValueError(
                f"an event has {int(n_jets.max())} jets but jets holds {n_slots} slots; pass censor_at <= "
                f"{n_slots} to use such events up to the jets they resolve."
            )
        position = torch.arange(n_slots + 1, device=jets.device)  # token i: context + i jets
        padding = position[None, 1:] > n_jets[:, None]  # (batch, J): slots beyond each event's jets
        jets = jets.masked_fill(padding[..., None], 0.0)  # whatever padding holds, it cannot reach a NaN
        hidden = self.hidden(context, jets)  # (batch, J + 1, d_model)
        has_next = position[None, :] < n_jets[:, None]  # (batch, J + 1): a jet i + 1 follows
        stops = (position[None, :] == n_jets[:, None]) & ~censored[:, None]
        logits = self.split_logits(hidden)
        split = (has_next * nn.functional.logsigmoid(logits) + stops * nn.functional.logsigmoid(-logits)).sum(
            1
        )
        kinematics = self.kinematics(hidden[:, :-1]).log_prob(jets)  # (batch, J): jet i + 1 after token i
        return split + (has_next[:, :-1] * kinematics).sum(1)

    @torch.no_grad()
    def sample(
        self, context: torch.Tensor, max_jets: int, *, batch_size: int = 20_000
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Generate jets for each context, one jet at a time, until ``p_split`` says stop.

        Parameters
        ----------
        context
            ``(batch, context_features)``: one event is generated per row.
        max_jets
            Jet slots of the output. Events that would continue beyond it are cut there (with a warning
            that gives their fraction; raise ``max_jets`` if it matters).
        batch_size
            Events generated at once (memory).

        Returns
        -------
        jets : torch.Tensor
            ``(batch, max_jets, jet_features)``, zero beyond each event's multiplicity.
        n_jets : torch.Tensor
            ``(batch,)`` long.
        """
        self._check(context)
        _check_positive_int(max_jets, "max_jets")
        if self.embed_position is not None and max_jets + 1 > self.embed_position.num_embeddings:
            raise ValueError(
                f"max_jets={max_jets} needs {max_jets + 1} positions, but the model embeds "
                f"{self.embed_position.num_embeddings}; lower max_jets or build it with a larger positions."
            )
        chunks = [self._sample(part, max_jets) for part in context.split(batch_size)]
        jets, n_jets, cut = (torch.cat(parts) for parts in zip(*chunks, strict=True))
        if cut.any():
            warnings.warn(  # stacklevel 3: past torch.no_grad's wrapper, at the caller
                f"{int(cut.sum())} of {len(cut)} generated events wanted more than max_jets={max_jets} jets "
                "and were cut there; raise max_jets to resolve them.",
                stacklevel=3,
            )
        return jets, n_jets

    def _sample(self, context: torch.Tensor, max_jets: int) -> tuple[torch.Tensor, ...]:
        jets = context.new_zeros(len(context), 0, self.jet_features)
        n_jets = torch.zeros(len(context), dtype=torch.long, device=context.device)
        going = torch.ones(len(context), dtype=torch.bool, device=context.device)
        for i in range(max_jets + 1):
            last = self.hidden(context, jets)[:, -1]  # h_i, (batch, d_model)
            going &= torch.bernoulli(torch.sigmoid(self.split_logits(last))).bool()
            if i == max_jets or not going.any():
                break
            following = self.kinematics(last).sample() * going[:, None].to(context.dtype)
            jets = torch.cat([jets, following.unsqueeze(1)], dim=1)
            n_jets += going.long()
        padding = context.new_zeros(len(context), max_jets - jets.shape[1], self.jet_features)
        cut = going & (n_jets == max_jets)
        return torch.cat([jets, padding], dim=1), n_jets, cut


def autoregressive_loss(
    model: AutoregressiveJets,
    context: torch.Tensor,
    jets: torch.Tensor,
    n_jets: torch.Tensor,
    *,
    censor_at: int | None = None,
) -> torch.Tensor:
    """Mean negative log-likelihood per event, ``-<log p(x_1:n | c)>`` (:meth:`AutoregressiveJets.log_prob`).

    For :func:`~reps4lhc_tutor.train.fit`, which calls ``loss_fn(model, *batch)``, fix the censoring with
    :func:`censored_loss`.
    """
    return -model.log_prob(context, jets, n_jets, censor_at=censor_at).mean()


def censored_loss(k: int) -> partial[torch.Tensor]:
    """:func:`autoregressive_loss` for a sample that resolves at most ``k`` jets (``censor_at=k``)."""
    return partial(autoregressive_loss, censor_at=_check_positive_int(k, "k"))
