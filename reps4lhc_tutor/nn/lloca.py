"""LLoCa for events of four-momenta: a transformer made Lorentz invariant by local canonicalisation.

A wrapper of the ``lloca`` package (Spinner et al. 2025). Lorentz local canonicalisation (LLoCa) makes
any network Lorentz-equivariant: a small equivariant *frames net* predicts one Lorentz transformation
``L_i`` per particle (its local frame), every feature is expressed in its particle's frame (where it no
longer changes under a global Lorentz transformation), and messages between particles are carried from
frame to frame with ``L_i L_j^{-1}``. The wrapper does, per event:

1. *Rescale* the momenta by a typical energy, so that the network's invariant inputs (momenta in their
   local frames, ``log m_ij^2`` in the frames net) are of order one, as its initialisation expects. Unlike
   L-GATr, LLoCa's float32 Lorentz invariance does not hinge on it: the frames are computed in float64.
2. *Predict the frames* in float64: ``lloca.MLPVectors`` (one equivariant message-passing layer)
   predicts three vectors per particle from the momenta and the per-particle scalars, and
   ``lloca.LearnedPDFrames`` turns them into a Lorentz transformation (the boost to the rest frame of the
   first vector, then a rotation fixed by the other two).
3. *Canonicalise*: each momentum in its own frame, ``L_i p_i``, is a Lorentz-invariant 4-vector of
   features; with the scalars it is the input of the LLoCa transformer (``lloca``'s ``TransformerV2``),
   whose attention heads carry scalar and vector channels between frames.
4. *Pool*: the transformer's per-particle outputs are invariant; their mean over particles is the output.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from ..optional import import_optional
from .events import check_event_options, check_momenta, scalars_with_constant
from .mlp import _check_positive_int

__all__ = ["LLoCaRegressor"]


class LLoCaRegressor(nn.Module):
    """LLoCa transformer from four-momenta ``(batch, particles, 4)`` to Lorentz-invariant outputs per event.

    The output is invariant under Lorentz transformations of all momenta of an event and under
    permutations of its particles (with their scalars). Events need at least two particles: a particle's
    frame is built from its neighbours. Momenta must be physical (``E >= |p|``): a frame is a boost to
    the rest frame of a sum of momenta, and random 4-vectors give huge boosts and meaningless outputs.
    The frames are computed in float64 (as parts of ``lloca`` are), which Apple's MPS lacks.

    Parameters
    ----------
    n_scalars
        Scalar features per particle (e.g. a one-hot particle type); 0 for none. The frames net also gets
        a constant channel, so that it has an input without scalars.
    out_features
        Outputs per event.
    num_blocks, num_heads
        Transformer blocks; attention heads.
    scalar_channels, vector_channels
        Scalar and Lorentz-vector channels of each attention head (``lloca``'s ``attn_reps``
        ``"{scalar_channels}x0n+{vector_channels}x1n"``); the width of the transformer is
        ``num_heads * (scalar_channels + 4 * vector_channels)``.
    frames_channels
        Hidden width of the frames net's two-layer MLP.
    momentum_scale
        Momenta are divided by this energy (GeV) before they enter the network; take a typical energy.

    Examples
    --------
    >>> model = LLoCaRegressor(num_blocks=1, scalar_channels=4, vector_channels=1, num_heads=2)
    >>> p = torch.randn(3, 5, 3) * 100  # massless momenta of 5 particles in 3 events
    >>> model(torch.cat([p.norm(dim=-1, keepdim=True), p], dim=-1)).shape
    torch.Size([3, 1])
    """

    def __init__(
        self,
        n_scalars: int = 0,
        out_features: int = 1,
        *,
        num_blocks: int = 2,
        scalar_channels: int = 8,
        vector_channels: int = 2,
        num_heads: int = 2,
        frames_channels: int = 16,
        momentum_scale: float = 100.0,
    ) -> None:
        super().__init__()
        lloca = import_optional("lloca", "LLoCaRegressor", "equivariant")
        n_scalars, momentum_scale = check_event_options(n_scalars, momentum_scale)
        self.n_scalars = n_scalars
        self.momentum_scale = momentum_scale

        # LearnedPDFrames asks its equivectors for the three vectors it needs (n_vectors=3)
        equivectors = functools.partial(
            lloca.MLPVectors,
            num_scalars=n_scalars + 1,  # the scalars and the constant channel
            hidden_channels=_check_positive_int(frames_channels, "frames_channels"),
            num_layers_mlp=2,
        )
        self.frames_net = lloca.LearnedPDFrames(equivectors=equivectors)
        edge_conv = self.frames_net.equivectors.block
        # The MLP's outputs (a logit per edge (i, j) and vector) go through a softmax over the neighbours j,
        # which ignores a constant shift: the output layer's bias would never get a gradient. Drop it.
        head = edge_conv.mlp.mlp[-1]
        edge_conv.mlp.mlp[-1] = nn.Linear(head.in_features, head.out_features, bias=False)
        # The edge features log(m_ij^2) of the rescaled momenta are O(1) already: standardise them with
        # mean 0 and std 1 unless init_standardization() measures them on data.
        edge_conv.edge_inited.fill_(True)

        self.to_local = lloca.TensorRepsTransform(lloca.TensorReps("1x1n"))  # a 4-vector into frames
        attn_reps = (
            f"{_check_positive_int(scalar_channels, 'scalar_channels')}x0n"
            f"+{_check_positive_int(vector_channels, 'vector_channels')}x1n"
        )
        self.backbone = lloca.backbone.TransformerV2(
            in_channels=4 + n_scalars,
            attn_reps=attn_reps,
            out_channels=_check_positive_int(out_features, "out_features"),
            num_blocks=_check_positive_int(num_blocks, "num_blocks"),
            num_heads=_check_positive_int(num_heads, "num_heads"),
        )

    @staticmethod
    def _check_momenta(momenta: torch.Tensor) -> None:
        check_momenta(momenta, "LLoCaRegressor")
        if momenta.shape[1] < 2:
            raise ValueError(
                f"LLoCaRegressor needs at least 2 particles per event (a particle's local frame is built "
                f"from its neighbours), got momenta of shape {tuple(momenta.shape)}."
            )

    @torch.no_grad()
    def init_standardization(self, momenta: torch.Tensor) -> None:
        """Standardise the frames net's edge features (``log m_ij^2``) with their mean and standard
        deviation over ``momenta`` ``(events, particles, 4)`` in GeV, e.g. the training set (optional:
        without it they are used as they are, which suits momenta of order ``momentum_scale``)."""
        self._check_momenta(momenta)
        edge_conv = self.frames_net.equivectors.block
        edge_conv.edge_inited.fill_(False)
        # lloca replaces the buffers by tensors like its input: keep the model's device and dtype
        momenta = momenta.to(device=edge_conv.edge_mean.device, dtype=edge_conv.edge_mean.dtype)
        self.frames_net.equivectors.init_standardization(momenta / self.momentum_scale)

    def _frames(self, momenta: torch.Tensor, frame_scalars: torch.Tensor) -> tuple[Any, torch.Tensor]:
        """The local frames ``(batch, particles, 4, 4)`` and each momentum in its own frame
        ``(batch, particles, 4)``, computed in float64 and returned in the dtype and device of ``momenta``.

        A frame is fixed by three predicted vectors, which at initialisation are nearly parallel (the
        softmax weights of all three are close to uniform): the frame is ill-conditioned in them, and
        float32 rounding inside the frames net breaks Lorentz invariance at the 1e-3 level. The frames net
        is small, so it runs in float64 on float64 copies of its weights (gradients reach the originals);
        on MPS, which has no float64, it runs on the CPU.
        """
        device = torch.device("cpu") if momenta.device.type == "mps" else momenta.device
        wide = {
            name: tensor.to(device, torch.float64 if tensor.is_floating_point() else tensor.dtype)
            for name, tensor in [*self.frames_net.named_parameters(), *self.frames_net.named_buffers()]
        }
        momenta64 = momenta.to(device, torch.float64)
        frames = torch.func.functional_call(
            self.frames_net, wide, (momenta64,), {"scalars": frame_scalars.to(device, torch.float64)}
        )
        local = self.to_local(momenta64, frames).to(momenta)
        frames = import_optional("lloca", "LLoCaRegressor", "equivariant").Frames(
            frames.matrices.to(momenta),
            det=frames.det.to(momenta),
            inv=frames.inv.to(momenta),
            parity=frames.parity.to(momenta),
        )
        return frames, local

    def forward(self, momenta: torch.Tensor, scalars: torch.Tensor | None = None) -> torch.Tensor:
        """Map momenta ``(batch, particles, 4)`` in GeV, ordered ``(E, px, py, pz)``, and scalars
        ``(batch, particles, n_scalars)`` to invariant outputs ``(batch, out_features)``."""
        self._check_momenta(momenta)
        frame_scalars = scalars_with_constant(momenta, scalars, self.n_scalars, "LLoCaRegressor")
        momenta = momenta / self.momentum_scale
        frames, local = self._frames(momenta, frame_scalars)  # L_i and L_i p_i, invariant
        features = local if scalars is None else torch.cat([local, frame_scalars[..., 1:]], dim=-1)
        # p_ref (the summed momentum) sets the invariant boost factor by which the backbone damps its
        # frame-to-frame maps (preserve_variance)
        out = self.backbone(features, frames, p_ref=momenta.sum(dim=1))  # (batch, particles, out_features)
        attention = self.backbone.attention
        # the attention keeps this event's frames between calls; drop them (memory, and copy.deepcopy
        # refuses a module that holds tensors of an autograd graph)
        attention.frames = attention.frames_qkv = attention.frames_out = None
        return out.mean(dim=1)
