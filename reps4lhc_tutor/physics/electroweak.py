r"""Leading-order e+e- -> mu+mu- through photon and Z exchange, for massless fermions.

The angular distribution at Born level is a quadratic polynomial in the muon scattering angle,

.. math::

    \frac{d\sigma}{d\cos\theta} = \frac{\pi\alpha^2}{2s}
    \left[A_0(s)\,(1 + \cos^2\theta) + A_1(s)\cos\theta\right],

    A_0 = 1 + 2 v_e v_\mu \operatorname{Re}\chi + (v_e^2 + a_e^2)(v_\mu^2 + a_\mu^2)|\chi|^2,

    A_1 = 4 a_e a_\mu \operatorname{Re}\chi + 8 v_e a_e v_\mu a_\mu |\chi|^2,

with the Z couplings :math:`v_f = T_3^f - 2 Q_f \sin^2\theta_W`, :math:`a_f = T_3^f` and the Z propagator
relative to the photon one,

.. math::

    \chi(s) = \frac{1}{4\sin^2\theta_W\cos^2\theta_W}\,\frac{s}{s - M_Z^2 + i M_Z\Gamma_Z}.

In this normalisation a Z boson couples to a fermion with
:math:`e/(2 s_W c_W)\,\gamma^\mu(v_f - a_f\gamma^5)`, so that one colourless massless fermion has the
partial width :math:`\Gamma(Z\to f\bar f) = \alpha M_Z (v_f^2 + a_f^2) / (12 s_W^2 c_W^2)`.
Integrating over the angle gives :math:`\sigma = 4\pi\alpha^2 A_0 / (3s)` and
:math:`A_{FB} = 3 A_1 / (8 A_0)`. Electron and muon share their couplings (lepton universality).

Energies are in GeV; cross sections are returned in pb using :data:`GEV2_TO_PB`. Everything is pure NumPy
and broadcasts over its array arguments.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..config import check_rng

__all__ = [
    "GEV2_TO_PB",
    "ElectroweakParameters",
    "Pseudodata",
    "angular_coefficients",
    "bin_averaged_cross_section",
    "differential_cross_section",
    "forward_backward_asymmetry",
    "lepton_couplings",
    "sample_pseudodata",
    "total_cross_section",
]

GEV2_TO_PB = 0.3893794e9
"""Conversion of a cross section from GeV^-2 to pb: (hbar c)^2 = 0.3893794 mb GeV^2 = 0.3894e9 pb GeV^2
(PDG, Physical constants table)."""

# Lepton quantum numbers: weak isospin of the left-handed charged lepton and electric charge in units of e.
_T3_LEPTON = -0.5
_Q_LEPTON = -1.0


@dataclass(frozen=True)
class ElectroweakParameters:
    """Inputs of the leading-order calculation; the defaults are measured values.

    References: R.L. Workman et al. (Particle Data Group), PTEP 2022, 083C01, and the LEP/SLD Z-pole
    combination, Phys. Rept. 427 (2006) 257.
    """

    m_z: float = 91.1876  # Z mass in GeV (PDG 2022 average, +- 0.0021 GeV)
    width_z: float = 2.4952  # total Z width in GeV (LEP/SLD Z-pole combination, +- 0.0023 GeV)
    sin2_theta_w: float = 0.2312  # weak mixing angle sin^2(theta_W) at the Z scale (PDG MS-bar 0.23121)
    alpha: float = 1 / 128.95  # electromagnetic coupling run to the Z scale (PDG: 1/alpha(M_Z) ~ 128.95)

    def __post_init__(self) -> None:
        for name in ("m_z", "width_z", "alpha"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"ElectroweakParameters.{name} must be finite and positive, got {value!r}.")
        if not 0 < self.sin2_theta_w < 1:
            raise ValueError(
                f"ElectroweakParameters.sin2_theta_w must lie in (0, 1), got {self.sin2_theta_w!r}."
            )


class Pseudodata(NamedTuple):
    """A binned pseudo-measurement of dsigma/dcos(theta); every array has shape ``(energies, cos_bins)``.

    The cos(theta) bins are the uniform bins of [-1, 1], each of width ``2 / cos_bins``.
    """

    sqrt_s: NDArray[np.float64]  # centre-of-mass energy of each bin in GeV
    cos_theta: NDArray[np.float64]  # centre of each cos(theta) bin
    dsigma: NDArray[np.float64]  # measured dsigma/dcos in pb: counts / (luminosity * bin width)
    error: NDArray[np.float64]  # statistical error in pb: sqrt(counts) / (luminosity * bin width)


def _as_energy(sqrt_s: ArrayLike) -> NDArray[np.float64]:
    sqrt_s = np.asarray(sqrt_s, dtype=np.float64)
    if np.isnan(sqrt_s).any():
        raise ValueError("sqrt_s contains NaN; pass finite centre-of-mass energies in GeV.")
    if not (np.isfinite(sqrt_s).all() and (sqrt_s > 0).all()):
        raise ValueError(
            f"sqrt_s must be finite and positive (GeV), got values from {sqrt_s.min()} to {sqrt_s.max()}."
        )
    return sqrt_s


def _as_cosine(cos_theta: ArrayLike, name: str = "cos_theta") -> NDArray[np.float64]:
    cos_theta = np.asarray(cos_theta, dtype=np.float64)
    if np.isnan(cos_theta).any():
        raise ValueError(f"{name} contains NaN; pass cosines in [-1, 1].")
    if (np.abs(cos_theta) > 1).any():
        raise ValueError(
            f"{name} must lie in [-1, 1], got values with |{name}| up to {np.abs(cos_theta).max()}."
        )
    return cos_theta


def lepton_couplings(params: ElectroweakParameters = ElectroweakParameters()) -> tuple[float, float]:
    """Return the vector and axial Z couplings ``(v, a)`` of a charged lepton.

    ``v = T3 - 2 Q sin^2(theta_W)`` and ``a = T3`` with ``T3 = -1/2``, ``Q = -1``; shared by e, mu and tau.
    """
    vector = _T3_LEPTON - 2 * _Q_LEPTON * params.sin2_theta_w
    return vector, _T3_LEPTON


def angular_coefficients(
    sqrt_s: ArrayLike, params: ElectroweakParameters = ElectroweakParameters()
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return the coefficients ``(A0, A1)`` of ``(1 + cos^2)`` and ``cos`` in dsigma/dcos.

    Parameters
    ----------
    sqrt_s
        Centre-of-mass energy in GeV, any shape.
    params
        Electroweak inputs.

    Returns
    -------
    A0, A1
        Dimensionless arrays with the shape of ``sqrt_s``; ``A0 = 1, A1 = 0`` is pure QED.
    """
    s = _as_energy(sqrt_s) ** 2
    v, a = lepton_couplings(params)
    kappa = 1 / (4 * params.sin2_theta_w * (1 - params.sin2_theta_w))
    chi = kappa * s / (s - params.m_z**2 + 1j * params.m_z * params.width_z)
    re_chi, abs2_chi = chi.real, np.abs(chi) ** 2
    # The photon coupling is Q_e Q_mu = +1; the same couplings at both vertices (lepton universality).
    a0 = 1 + 2 * v * v * re_chi + (v**2 + a**2) ** 2 * abs2_chi
    a1 = 4 * a * a * re_chi + 8 * (v * a) ** 2 * abs2_chi
    return a0, a1


def _prefactor_pb(s: NDArray[np.float64], params: ElectroweakParameters) -> NDArray[np.float64]:
    """pi alpha^2 / (2 s), converted to pb."""
    return np.pi * params.alpha**2 / (2 * s) * GEV2_TO_PB


def differential_cross_section(
    sqrt_s: ArrayLike, cos_theta: ArrayLike, params: ElectroweakParameters = ElectroweakParameters()
) -> NDArray[np.float64]:
    """Return dsigma/dcos(theta) for e+e- -> mu+mu- in pb.

    Parameters
    ----------
    sqrt_s
        Centre-of-mass energy in GeV.
    cos_theta
        Cosine of the angle between the incoming e- and the outgoing mu-, in [-1, 1].
    params
        Electroweak inputs.

    Returns
    -------
    numpy.ndarray
        The broadcast shape of ``sqrt_s`` and ``cos_theta``.
    """
    sqrt_s = _as_energy(sqrt_s)
    cos_theta = _as_cosine(cos_theta)
    a0, a1 = angular_coefficients(sqrt_s, params)
    return _prefactor_pb(sqrt_s**2, params) * (a0 * (1 + cos_theta**2) + a1 * cos_theta)


def bin_averaged_cross_section(
    sqrt_s: ArrayLike,
    cos_low: ArrayLike,
    cos_high: ArrayLike,
    params: ElectroweakParameters = ElectroweakParameters(),
) -> NDArray[np.float64]:
    """Return dsigma/dcos(theta) averaged over the bins ``[cos_low, cos_high]`` in pb.

    The integral is exact: dsigma/dcos is a quadratic polynomial in cos(theta). This is what a histogram
    of events divided by luminosity and bin width measures.

    Parameters
    ----------
    sqrt_s
        Centre-of-mass energy in GeV.
    cos_low, cos_high
        Bin edges in [-1, 1] with ``cos_low < cos_high``; all three arguments broadcast together.
    params
        Electroweak inputs.

    Returns
    -------
    numpy.ndarray
        The broadcast shape of the three arguments.
    """
    sqrt_s = _as_energy(sqrt_s)
    low, high = _as_cosine(cos_low, "cos_low"), _as_cosine(cos_high, "cos_high")
    if not (high > low).all():
        raise ValueError("every bin needs cos_low < cos_high.")
    a0, a1 = angular_coefficients(sqrt_s, params)
    integral = a0 * ((high - low) + (high**3 - low**3) / 3) + a1 * (high**2 - low**2) / 2
    return _prefactor_pb(sqrt_s**2, params) * integral / (high - low)


def total_cross_section(
    sqrt_s: ArrayLike, params: ElectroweakParameters = ElectroweakParameters()
) -> NDArray[np.float64]:
    """Return sigma(e+e- -> mu+mu-) in pb, integrated over the full angle: ``4 pi alpha^2 A0 / (3 s)``.

    Parameters
    ----------
    sqrt_s
        Centre-of-mass energy in GeV, any shape.
    params
        Electroweak inputs.

    Returns
    -------
    numpy.ndarray
        The shape of ``sqrt_s``.
    """
    sqrt_s = _as_energy(sqrt_s)
    a0, _ = angular_coefficients(sqrt_s, params)
    return 4 * np.pi * params.alpha**2 * a0 / (3 * sqrt_s**2) * GEV2_TO_PB


def forward_backward_asymmetry(
    sqrt_s: ArrayLike, params: ElectroweakParameters = ElectroweakParameters()
) -> NDArray[np.float64]:
    """Return A_FB = (sigma(cos > 0) - sigma(cos < 0)) / sigma = 3 A1 / (8 A0).

    Parameters
    ----------
    sqrt_s
        Centre-of-mass energy in GeV, any shape.
    params
        Electroweak inputs.

    Returns
    -------
    numpy.ndarray
        The shape of ``sqrt_s``.
    """
    a0, a1 = angular_coefficients(sqrt_s, params)
    return 3 * a1 / (8 * a0)


def sample_pseudodata(
    rng: np.random.Generator,
    sqrt_s_values: ArrayLike,
    n_cos_bins: int,
    luminosity_pb: float,
    params: ElectroweakParameters = ElectroweakParameters(),
) -> Pseudodata:
    """Simulate a binned measurement of dsigma/dcos(theta) at several energies.

    At each energy the expected number of events in a cos(theta) bin is the integrated luminosity times
    the exact integral of dsigma/dcos over the bin; the observed count is drawn from a Poisson
    distribution with that mean. The statistical error is the square root of the observed count, as in
    an experiment that does not know the truth.

    Parameters
    ----------
    rng
        NumPy random generator, e.g. ``np.random.default_rng(0)``.
    sqrt_s_values
        Centre-of-mass energies in GeV, shape ``(energies,)``.
    n_cos_bins
        Number of uniform bins in cos(theta) over [-1, 1].
    luminosity_pb
        Integrated luminosity per energy point in pb^-1.
    params
        Electroweak inputs of the "true" theory.

    Returns
    -------
    Pseudodata
        Four arrays of shape ``(energies, n_cos_bins)``. Bins with zero observed events have zero error;
        a warning is issued when any bin holds fewer than 10 events (Gaussian errors become poor).
    """
    check_rng(rng)
    sqrt_s_values = _as_energy(sqrt_s_values)
    if sqrt_s_values.ndim != 1 or sqrt_s_values.size == 0:
        raise ValueError(f"sqrt_s_values must be a non-empty 1D array, got shape {sqrt_s_values.shape}.")
    if isinstance(n_cos_bins, bool) or not isinstance(n_cos_bins, int | np.integer) or n_cos_bins < 1:
        raise ValueError(f"n_cos_bins must be a positive integer, got {n_cos_bins!r}.")
    if not (math.isfinite(luminosity_pb) and luminosity_pb > 0):
        raise ValueError(f"luminosity_pb must be finite and positive, got {luminosity_pb!r}.")

    edges = np.linspace(-1.0, 1.0, n_cos_bins + 1)
    width = edges[1] - edges[0]
    sqrt_s = np.broadcast_to(sqrt_s_values[:, None], (sqrt_s_values.size, n_cos_bins))
    expected = luminosity_pb * width * bin_averaged_cross_section(sqrt_s, edges[:-1], edges[1:], params)
    counts = rng.poisson(expected).astype(np.float64)
    if counts.min() < 10:
        warnings.warn(
            f"some bins hold only {int(counts.min())} events, where sqrt(N) errors are unreliable; "
            f"raise luminosity_pb or use fewer cos bins.",
            stacklevel=2,
        )
    centres = np.broadcast_to((edges[:-1] + edges[1:]) / 2, sqrt_s.shape)
    scale = 1 / (luminosity_pb * width)
    return Pseudodata(sqrt_s.copy(), centres.copy(), counts * scale, np.sqrt(counts) * scale)
