"""L-GATr as a jet tagger: constituent four-momenta in, one logit per jet out.

A jet is not a Lorentz-invariant object: the detector, the beams and the jet algorithm (which clusters in
rapidity and azimuth with a radius R) single out the beam axis and the lab frame. :class:`LGATrTagger` gives
the network this information as reference vectors, the beam axis and the time direction, so that it stays
equivariant under the rotations about the beam that the physics keeps and can use what the detector breaks
(Spinner et al. 2024). The padding mask comes from the zero-padded constituent arrays of the data loaders.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .events import check_momenta
from .lgatr import LGATrRegressor

__all__ = ["LGATrTagger"]


class LGATrTagger(LGATrRegressor):
    """L-GATr (or L-GATr-slim) on zero-padded jet constituents ``(jets, particles, 4)`` -> logits ``(jets,)``.

    A constituent is a row with positive energy; padding rows (all zero) are masked out of the attention and
    of the average over particles. Train with ``torch.nn.functional.binary_cross_entropy_with_logits``;
    ``torch.sigmoid`` of the logit then estimates the signal probability.

    Parameters
    ----------
    n_scalars
        Scalar features per constituent (e.g. a one-hot particle type); 0 for none.
    reference_vectors
        Names in :data:`~reps4lhc_tutor.nn.lgatr.REFERENCE_VECTORS`; the default ``("beam", "time")`` leaves
        the rotations about the beam as the symmetry. ``()`` makes the tagger fully Lorentz-invariant.
    momentum_scale
        Momenta are divided by this energy (GeV); take a typical constituent energy.
    **options
        ``slim``, ``num_blocks``, ``vector_channels``, ``scalar_channels``, ``num_heads`` as in
        :class:`~reps4lhc_tutor.nn.lgatr.LGATrRegressor`.

    Examples
    --------
    >>> tagger = LGATrTagger(slim=True, num_blocks=1, vector_channels=4, scalar_channels=8, num_heads=2)
    >>> jets = torch.zeros(3, 5, 4)
    >>> jets[:, :2] = torch.tensor([50.0, 30.0, 0.0, 40.0])  # two massless constituents per jet
    >>> tagger(jets).shape
    torch.Size([3])
    """

    def __init__(
        self,
        n_scalars: int = 0,
        *,
        reference_vectors: Sequence[str] = ("beam", "time"),
        momentum_scale: float = 20.0,
        **options: object,
    ) -> None:
        super().__init__(
            n_scalars,
            out_features=1,
            reference_vectors=reference_vectors,
            momentum_scale=momentum_scale,
            **options,
        )

    def forward(  # type: ignore[override]
        self, constituents: torch.Tensor, scalars: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits ``(jets,)`` of zero-padded constituents ``(jets, particles, 4)`` (``E, px, py, pz`` in
        GeV) and per-constituent scalars ``(jets, particles, n_scalars)``.

        Raises
        ------
        ValueError
            For a wrong shape, a jet without any constituent (nothing to average over), or a row with
            ``E <= 0`` but a non-zero momentum (components in the wrong order).
        """
        check_momenta(constituents, "LGATrTagger")
        mask = constituents[..., 0] > 0  # the loaders' padding rule: a constituent has E > 0
        if (~mask & (constituents[..., 1:] != 0).any(dim=-1)).any():
            raise ValueError(
                "LGATrTagger: a row with E <= 0 but non-zero momentum is neither a constituent nor padding; "
                "check the component order (E, px, py, pz)."
            )
        empty = torch.nonzero(~mask.any(dim=1))[:, 0]
        if len(empty):
            raise ValueError(
                f"LGATrTagger: jets {empty[:5].tolist()} have no constituent (no row with E > 0); drop them."
            )
        return super().forward(constituents, scalars, mask=mask).squeeze(-1)
