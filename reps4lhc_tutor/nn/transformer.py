"""A transformer on particles: embedding, self-attention blocks from ``torch.nn``, pooling, output head.

Self-attention treats the particles as a set: without positional encodings each block is permutation
equivariant, and pooling over particles makes the output invariant. Nothing else is built in; a Lorentz
symmetry, if any, has to be learned from the data (chapter 3 measures how well that works).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .mlp import MLP, _check_positive_int
from .sets import check_particles, check_pooling, pool_particles

__all__ = ["ParticleTransformer", "encoder_blocks"]


def encoder_blocks(
    d_model: int, num_heads: int, num_layers: int, mlp_ratio: int, dropout: float
) -> nn.TransformerEncoder:
    """``num_layers`` pre-norm transformer encoder blocks (GELU, batch first) with a final LayerNorm.

    Maps ``(batch, tokens, d_model)`` to the same shape; pass ``src_key_padding_mask`` (True where a token is
    padding) to keep padded tokens out of the attention.
    """
    block = nn.TransformerEncoderLayer(
        d_model,
        num_heads,
        dim_feedforward=_check_positive_int(mlp_ratio, "mlp_ratio") * d_model,
        dropout=dropout,
        activation="gelu",
        batch_first=True,
        norm_first=True,  # pre-norm: stable without learning-rate warm-up
    )
    # enable_nested_tensor=False: the nested-tensor fast path only exists in eval mode and would make
    # training and evaluation take different code paths.
    return nn.TransformerEncoder(
        block,
        _check_positive_int(num_layers, "num_layers"),
        norm=nn.LayerNorm(d_model),
        enable_nested_tensor=False,
    )


class ParticleTransformer(nn.Module):
    """``head(pool_i block_L(...block_1(embed(x))_i))`` with pre-norm ``nn.TransformerEncoderLayer`` blocks.

    Parameters
    ----------
    in_features
        Features per particle.
    out_features
        Outputs per event.
    d_model
        Width of the particle representation in the blocks.
    num_heads
        Attention heads; must divide ``d_model``.
    num_layers
        Transformer blocks (self-attention, then a two-layer MLP, each with a residual connection).
    mlp_ratio
        Width of the blocks' MLP in units of ``d_model`` (4 as in Vaswani et al.).
    head_hidden
        Hidden widths of the MLP after pooling.
    pooling
        ``"mean"`` or ``"sum"`` over the real particles.
    dropout
        Dropout in the blocks; 0 for regression, where every event counts.

    Examples
    --------
    >>> model = ParticleTransformer(4, 1, d_model=32, num_heads=4, num_layers=2)
    >>> model(torch.zeros(8, 5, 4)).shape
    torch.Size([8, 1])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        d_model: int = 64,
        num_heads: int = 4,
        num_layers: int = 4,
        mlp_ratio: int = 4,
        head_hidden: Sequence[int] = (64,),
        pooling: str = "mean",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_features = _check_positive_int(in_features, "in_features")
        d_model = _check_positive_int(d_model, "d_model")
        num_heads = _check_positive_int(num_heads, "num_heads")
        if d_model % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}.")
        self.pooling = check_pooling(pooling)
        self.embed = nn.Linear(in_features, d_model)
        self.blocks = encoder_blocks(d_model, num_heads, num_layers, mlp_ratio, dropout)
        self.head = MLP(d_model, out_features, head_hidden, nn.GELU)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Map particles ``(batch, particles, in_features)`` (and a mask ``(batch, particles)``, True for
        real particles) to ``(batch, out_features)``."""
        mask = check_particles(x, mask, self.in_features, "ParticleTransformer")
        padding = None if mask is None else ~mask  # torch's convention: True where a key is ignored
        h = self.blocks(self.embed(x), src_key_padding_mask=padding)  # (batch, particles, d_model)
        return self.head(pool_particles(h, mask, self.pooling))
