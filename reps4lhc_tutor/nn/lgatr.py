"""L-GATr for events of four-momenta: a wrapper of the ``lgatr`` package (Spinner et al. 2024).

The wrapper does what every L-GATr application does around the network itself:

1. *Rescale* the momenta by a typical energy. The network is equivariant for any scale, but in float32
   momenta of hundreds of GeV make products of multivectors large and the rounding breaks the symmetry
   (relative errors up to order one); momenta of order one keep it to float32 precision.
2. *Embed* each momentum as the vector (grade-1) part of a multivector (full L-GATr) or pass it as a Lorentz
   vector (L-GATr-slim), and pass per-particle scalars (a particle type, say) in the scalar channels.
3. *Break the symmetry on purpose* where the physics does: reference vectors such as the beam axis enter
   as extra vector channels of every particle, and the network is then only equivariant under the
   transformations that keep them fixed.
4. *Extract* invariant outputs: the network's scalar outputs plus an invariant of its multivector (slim:
   vector) outputs, averaged over particles.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..optional import import_optional
from .events import check_event_options, check_momenta, scalars_with_constant
from .mlp import _check_positive_int
from .sets import check_particles, pool_particles

__all__ = ["REFERENCE_VECTORS", "LGATrRegressor"]

REFERENCE_VECTORS: dict[str, tuple[float, float, float, float]] = {
    "beam": (0.0, 0.0, 0.0, 1.0),  # the beam axis: keeps rotations about z and boosts along x and y
    "time": (1.0, 0.0, 0.0, 0.0),  # the lab's time direction: keeps rotations only
}
"""Reference vectors ``(E, px, py, pz)`` by name; with both, only rotations about the beam remain.

Full L-GATr also takes ``"beam_plane"``, the transverse x–y plane as a bivector: it is kept by boosts along
the beam and rotations about it, the symmetries of a collider with its beams along z. A vector cannot
encode that subgroup (a boost along z changes every vector except those in the x–y plane).
"""

# lgatr's multivector components: 1 scalar, 4 vector, then the bivectors tx, ty, tz, xy, xz, yz, ...
_BEAM_PLANE_INDEX = 8


class LGATrRegressor(nn.Module):
    """L-GATr (or L-GATr-slim) from four-momenta ``(batch, particles, 4)`` to invariant outputs per event.

    Parameters
    ----------
    n_scalars
        Scalar features per particle (e.g. a one-hot particle type); 0 for none. A constant channel is
        always added (for full L-GATr also as the scalar grade of each particle's multivector), so the first
        layer has a bias in both streams.
    out_features
        Outputs per event.
    slim
        Use L-GATr-slim (Lorentz vectors and scalars only, no full multivectors): several times faster.
    num_blocks, vector_channels, scalar_channels, num_heads
        Transformer blocks; hidden multivector (slim: vector) channels; hidden scalar channels; heads.
    momentum_scale
        Momenta are divided by this energy (GeV) before they enter the network; take a typical energy.
    reference_vectors
        Names in :data:`REFERENCE_VECTORS` (and ``"beam_plane"`` for full L-GATr), given to every particle
        as extra vector (multivector) channels.

    Examples
    --------
    >>> model = LGATrRegressor(slim=True, num_blocks=1, vector_channels=4, scalar_channels=8, num_heads=2)
    >>> model(torch.randn(3, 5, 4) * 100).shape
    torch.Size([3, 1])
    """

    def __init__(
        self,
        n_scalars: int = 0,
        out_features: int = 1,
        *,
        slim: bool = False,
        num_blocks: int = 4,
        vector_channels: int = 16,
        scalar_channels: int = 32,
        num_heads: int = 4,
        momentum_scale: float = 100.0,
        reference_vectors: Sequence[str] = (),
    ) -> None:
        super().__init__()
        lgatr = import_optional("lgatr", "LGATrRegressor", "equivariant")
        n_scalars, momentum_scale = check_event_options(n_scalars, momentum_scale)
        if isinstance(reference_vectors, str):
            raise TypeError(
                f"reference_vectors must be a sequence of names, e.g. ('beam',), got {reference_vectors!r}."
            )
        allowed = (*REFERENCE_VECTORS, *(() if slim else ("beam_plane",)))
        unknown = [name for name in reference_vectors if name not in allowed]
        if unknown or len(set(reference_vectors)) != len(reference_vectors):
            raise ValueError(
                f"reference_vectors must be distinct names among {allowed}, got {reference_vectors!r}"
                + (
                    "; 'beam_plane' is a bivector, which only full L-GATr (slim=False) takes."
                    if slim
                    else "."
                )
            )
        self.n_scalars = n_scalars
        self.slim = slim
        self.momentum_scale = momentum_scale
        self.reference_vectors = tuple(reference_vectors)
        # (references, 4) for slim, (references, 16) multivectors otherwise; a buffer, so that it follows
        # .to(device) and .double()
        references = torch.zeros(len(self.reference_vectors), 4 if slim else 16)
        for row, name in enumerate(self.reference_vectors):
            if name == "beam_plane":
                references[row, _BEAM_PLANE_INDEX] = 1.0
            else:
                vector = torch.tensor(REFERENCE_VECTORS[name])
                references[row] = vector if slim else lgatr.embed_vector(vector)
        self.register_buffer("references", references)

        channels = {
            "num_blocks": _check_positive_int(num_blocks, "num_blocks"),
            "in_s_channels": n_scalars + 1,
            "out_s_channels": _check_positive_int(out_features, "out_features"),
            "out_v_channels" if slim else "out_mv_channels": out_features,
            "hidden_s_channels": _check_positive_int(scalar_channels, "scalar_channels"),
        }
        vectors_in = 1 + len(self.reference_vectors)
        hidden = _check_positive_int(vector_channels, "vector_channels")
        heads = _check_positive_int(num_heads, "num_heads")
        if slim:
            self.net = lgatr.LGATrSlim(
                in_v_channels=vectors_in,
                hidden_v_channels=hidden,
                num_heads=heads,
                **channels,
            )
        else:
            self.net = lgatr.LGATr(
                in_mv_channels=vectors_in,
                hidden_mv_channels=hidden,
                attention={"num_heads": heads},
                mlp={},
                **channels,
            )

    def forward(
        self, momenta: torch.Tensor, scalars: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Map momenta ``(batch, particles, 4)`` in GeV, ordered ``(E, px, py, pz)``, and scalars
        ``(batch, particles, n_scalars)`` to invariant outputs ``(batch, out_features)``.

        ``mask`` ``(batch, particles)`` is True for real particles and False for padding (jets of different
        multiplicities): no particle attends to padding, and the average runs over real particles only.
        """
        check_momenta(momenta, "LGATrRegressor")
        mask = check_particles(momenta, mask, 4, "LGATrRegressor")
        ones = scalars_with_constant(momenta, scalars, self.n_scalars, "LGATrRegressor")

        vectors = (momenta / self.momentum_scale).unsqueeze(-2)  # (batch, particles, 1, 4)
        if not self.slim:
            lgatr = import_optional("lgatr", "LGATrRegressor", "equivariant")
            vectors = lgatr.embed_vector(vectors)  # multivectors: (batch, particles, 1, 16)
            vectors[..., 0] = 1.0  # the constant as scalar grade: invariant, and a bias for the mv stream
        references = self.references.to(momenta.dtype).expand(*momenta.shape[:2], -1, -1)
        # keys of padded particles are hidden from every query: (batch, heads, queries, keys) by broadcasting
        attention = {} if mask is None else {"attn_mask": mask[:, None, None, :]}
        out_vectors, out = self.net(torch.cat([vectors, references], dim=-2), ones, **attention)
        if self.slim:  # Minkowski square of each output vector: (batch, particles, out_features)
            invariant = out_vectors[..., 0] ** 2 - (out_vectors[..., 1:] ** 2).sum(dim=-1)
        else:  # scalar grade of each output multivector
            invariant = out_vectors[..., 0]
        return pool_particles(out + invariant, mask, "mean")  # (batch, out_features)
