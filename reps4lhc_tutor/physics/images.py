"""Jet images: the transverse momentum of a jet's constituents on a grid of pixels around its axis.

A jet image is a calorimeter picture of one jet: pixels in (Delta y, Delta phi) around the jet axis, each
holding the fraction of the scalar sum of the constituents' pT that falls into it. The standard
preprocessing, which removes what the physics does not care about, is that of
:func:`~reps4lhc_tutor.physics.constituents.constituent_features` with ``rotate=True``: centre on the jet
axis, rotate the principal axis onto Delta y, flip Delta y to make the pT-weighted third moment positive;
pT fractions make the image independent of the jet's pT. Input layout as in
:mod:`~reps4lhc_tutor.physics.jets`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .constituents import FEATURE_NAMES, constituent_features

__all__ = ["jet_images"]

_DY, _DPHI, _LOG_PT = (FEATURE_NAMES.index(n) for n in ("delta_y", "delta_phi", "log_pt"))


def jet_images(constituents: ArrayLike, n_pixels: int = 40, half_width: float = 1.0) -> NDArray[np.float64]:
    """pT-fraction images of jets, centred, rotated and flipped, ``(jets, n_pixels, n_pixels)``.

    Parameters
    ----------
    constituents : array, shape ``(jets, particles, 4)``
        Zero-padded ``(E, px, py, pz)`` in GeV.
    n_pixels
        Pixels along each axis.
    half_width
        The image covers ``|Delta y|, |Delta phi| < half_width`` around the jet axis; constituents outside
        are left out, so an image sums to the pT fraction inside (1 for a jet of radius < half_width).

    Returns
    -------
    array, shape ``(jets, n_pixels, n_pixels)``
        ``image[j, a, b]``: the pT fraction of jet ``j`` in the ``a``-th bin of Delta y (increasing) and
        the ``b``-th bin of Delta phi (increasing).
    """
    if isinstance(n_pixels, bool) or not isinstance(n_pixels, int | np.integer) or n_pixels < 1:
        raise ValueError(f"n_pixels must be a positive integer, got {n_pixels!r}.")
    if isinstance(half_width, bool) or not isinstance(half_width, int | float) or not half_width > 0:
        raise ValueError(f"half_width must be a positive number, got {half_width!r}.")
    features = constituent_features(constituents, rotate=True)
    mask = np.asarray(constituents)[..., 0] > 0
    pt = np.where(mask, np.exp(features[..., _LOG_PT]), 0.0)
    fraction = pt / pt.sum(axis=1, keepdims=True)  # of the scalar pT sum, so that a whole jet sums to 1
    scale = n_pixels / (2 * half_width)
    rows = np.floor((features[..., _DY] + half_width) * scale).astype(np.int64)
    cols = np.floor((features[..., _DPHI] + half_width) * scale).astype(np.int64)
    inside = mask & (rows >= 0) & (rows < n_pixels) & (cols >= 0) & (cols < n_pixels)
    jet_index = np.broadcast_to(np.arange(len(features))[:, None], rows.shape)
    images = np.zeros((len(features), n_pixels, n_pixels))
    np.add.at(images, (jet_index[inside], rows[inside], cols[inside]), fraction[inside])
    return images
