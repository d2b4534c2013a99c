"""Losses: reference values, the analytic optimum, gradients at extreme inputs, input checks; and the
contrastive loss (NT-Xent), alignment and uniformity against explicit loops and closed forms."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from reps4lhc_tutor.losses import (
    alignment,
    contrastive_loss,
    distribution_nll,
    gaussian_nll,
    heteroscedastic_nll,
    mse,
    uniformity,
)


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    mean = torch.randn(50, generator=gen, dtype=torch.float64)
    target = torch.randn(50, generator=gen, dtype=torch.float64)
    sigma = 0.1 + torch.rand(50, generator=gen, dtype=torch.float64)
    return mean, sigma, target


def test_mse_hand_computed():
    prediction, target = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([0.0, 2.0, 1.0])
    assert mse(prediction, target).item() == pytest.approx(10 / 3)
    assert mse(prediction, target, reduction="sum").item() == pytest.approx(10.0)
    torch.testing.assert_close(mse(prediction, target, reduction="none"), torch.tensor([1.0, 0.0, 9.0]))


def test_gaussian_nll_hand_computed():
    # residual 2, sigma 0.5: pull 4 -> 0.5 * 16 + log 0.5; full adds 0.5 log(2 pi)
    mean, sigma, target = torch.tensor([1.0]), torch.tensor([0.5]), torch.tensor([3.0])
    expected = 8.0 + math.log(0.5)
    assert gaussian_nll(mean, sigma, target).item() == pytest.approx(expected)
    full = gaussian_nll(mean, sigma, target, full=True).item()
    assert full == pytest.approx(expected + 0.5 * math.log(2 * math.pi))


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gaussian_nll_matches_torch(batch, full, reduction):
    mean, sigma, target = batch
    reference = torch.nn.GaussianNLLLoss(full=full, eps=1e-12, reduction=reduction)(mean, target, sigma**2)
    torch.testing.assert_close(gaussian_nll(mean, sigma, target, full=full, reduction=reduction), reference)


def test_heteroscedastic_equals_gaussian_with_log_sigma(batch):
    mean, sigma, target = batch
    torch.testing.assert_close(
        heteroscedastic_nll(mean, sigma.log(), target, reduction="none"),
        gaussian_nll(mean, sigma, target, reduction="none"),
    )


def test_distribution_nll_of_normal_is_full_heteroscedastic(batch):
    mean, sigma, target = batch
    torch.testing.assert_close(
        distribution_nll(Normal(mean, sigma), target),
        heteroscedastic_nll(mean, sigma.log(), target, full=True),
    )


def test_constant_sigma_optimum_is_sample_std():
    # d/ds [0.5 r^2 exp(-2s) + s] = 0 gives exp(2s) = <r^2>: sigma is the (biased) sample std.
    gen = torch.Generator().manual_seed(1)
    target = 1.5 + 0.3 * torch.randn(2000, generator=gen, dtype=torch.float64)
    mean = torch.zeros((), dtype=torch.float64, requires_grad=True)
    log_sigma = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([mean, log_sigma], max_iter=200, tolerance_grad=1e-12)

    def closure():
        optimizer.zero_grad()
        loss = heteroscedastic_nll(mean.expand_as(target), log_sigma, target)
        loss.backward()
        return loss

    optimizer.step(closure)
    assert mean.item() == pytest.approx(target.mean().item(), rel=1e-6)
    assert log_sigma.exp().item() == pytest.approx(target.std(correction=0).item(), rel=1e-6)


@pytest.mark.parametrize("log_sigma_value", [-15.0, 0.0, 15.0])
@pytest.mark.parametrize("residual", [0.0, 1e-8, 1e3])
def test_gradients_finite_for_extreme_inputs(log_sigma_value, residual):
    mean = torch.full((4,), 1e4, requires_grad=True)
    log_sigma = torch.full((4,), log_sigma_value, requires_grad=True)
    target = mean.detach() + residual
    loss = heteroscedastic_nll(mean, log_sigma, target)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(mean.grad).all() and torch.isfinite(log_sigma.grad).all()


def test_distribution_nll_gradients_finite_for_tiny_sigma():
    loc = torch.zeros(3, requires_grad=True)
    scale = torch.full((3,), 1e-6, requires_grad=True)
    distribution_nll(Normal(loc, scale), torch.full((3,), 1e-3)).backward()
    assert torch.isfinite(loc.grad).all() and torch.isfinite(scale.grad).all()


def test_shape_mismatch_is_an_error():
    # (n, 1) against (n,) would silently broadcast to (n, n)
    with pytest.raises(ValueError, match=r"squeeze"):
        mse(torch.zeros(5, 1), torch.zeros(5))
    with pytest.raises(ValueError, match="does not broadcast"):
        heteroscedastic_nll(torch.zeros(5), torch.zeros(5, 1), torch.zeros(5))
    with pytest.raises(ValueError, match="distribution expects"):
        distribution_nll(Normal(torch.zeros(5), torch.ones(5)), torch.zeros(5, 1))


def test_scalar_sigma_broadcasts():
    value = gaussian_nll(torch.zeros(3), torch.tensor(2.0), torch.full((3,), 2.0))
    assert value.item() == pytest.approx(0.5 + math.log(2.0))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_inputs_are_errors(bad):
    values = torch.tensor([0.0, bad, 1.0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        mse(values, torch.zeros(3))
    with pytest.raises(ValueError, match="target contains 1 NaN"):
        heteroscedastic_nll(torch.zeros(3), torch.zeros(3), values)
    with pytest.raises(ValueError, match="log_sigma contains"):
        heteroscedastic_nll(torch.zeros(3), values, torch.zeros(3))


def test_bad_sigma_reduction_and_distribution():
    with pytest.raises(ValueError, match="sigma must be positive"):
        gaussian_nll(torch.zeros(2), torch.tensor([1.0, 0.0]), torch.zeros(2))
    with pytest.raises(ValueError, match="reduction"):
        mse(torch.zeros(2), torch.zeros(2), reduction="average")
    with pytest.raises(TypeError, match="Distribution"):
        distribution_nll(torch.zeros(2), torch.zeros(2))


# --- contrastive loss (NT-Xent), alignment, uniformity ------------------------------------------------------


def nt_xent_by_loops(z1, z2, temperature):
    """NT-Xent written out view by view with Python floats: the 2N views are the rows of z1 then z2, view i's
    partner is i + N mod 2N, and its denominator runs over every other view k != i."""
    rows = [[float(x) for x in row] for row in torch.cat([z1, z2])]
    views = [[x / math.sqrt(sum(y * y for y in row)) for x in row] for row in rows]
    n_views = len(views)
    total = 0.0
    for i in range(n_views):
        similarity = [sum(a * b for a, b in zip(views[i], views[k], strict=True)) for k in range(n_views)]
        partner = (i + n_views // 2) % n_views
        denominator = sum(math.exp(similarity[k] / temperature) for k in range(n_views) if k != i)
        total -= math.log(math.exp(similarity[partner] / temperature) / denominator)
    return total / n_views


def random_pairs(n=6, dim=5, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=gen, dtype=dtype), torch.randn(n, dim, generator=gen, dtype=dtype)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 2.0])
@pytest.mark.parametrize(("n", "dim"), [(2, 3), (6, 5), (9, 16)])
def test_contrastive_loss_matches_explicit_loops(n, dim, temperature):
    z1, z2 = random_pairs(n, dim, seed=n)
    z2 = z2 + 0.5 * z1  # correlated pairs, as from two views of one jet
    value = contrastive_loss(z1, z2, temperature)
    assert value.item() == pytest.approx(nt_xent_by_loops(z1, z2, temperature), abs=1e-10)
    per_view = contrastive_loss(z1, z2, temperature, reduction="none")
    assert per_view.shape == (2 * n,)
    assert contrastive_loss(z1, z2, temperature, reduction="sum").item() == pytest.approx(
        2 * n * value.item()
    )


def test_contrastive_loss_is_symmetric_in_the_two_views():
    z1, z2 = random_pairs()
    torch.testing.assert_close(contrastive_loss(z1, z2), contrastive_loss(z2, z1), rtol=0, atol=1e-12)


def test_contrastive_loss_ignores_the_length_of_embeddings():
    z1, z2 = random_pairs(8, 4)
    gen = torch.Generator().manual_seed(5)
    scale1 = 10 ** (4 * torch.rand(8, 1, generator=gen, dtype=torch.float64) - 2)  # 0.01 to 100 per row
    scale2 = 10 ** (4 * torch.rand(8, 1, generator=gen, dtype=torch.float64) - 2)
    torch.testing.assert_close(
        contrastive_loss(scale1 * z1, scale2 * z2, 0.2), contrastive_loss(z1, z2, 0.2), rtol=0, atol=1e-12
    )


def test_contrastive_loss_is_lower_for_identical_views_than_for_random_ones():
    z1, z2 = random_pairs(32, 8)
    assert contrastive_loss(z1, z1.clone()).item() < contrastive_loss(z1, z2).item() - 1.0


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("n", [2, 3, 7])
def test_contrastive_loss_of_orthogonal_identical_views(n, temperature):
    # z2 = z1 = N orthogonal directions: for every view the partner has similarity 1, and the other 2N - 2
    # views (both copies of the other N - 1 directions) similarity 0.
    z1 = torch.diag(torch.arange(1.0, n + 1, dtype=torch.float64))  # lengths 1..N: only directions count
    expected = -math.log(math.exp(1 / temperature) / (math.exp(1 / temperature) + 2 * n - 2))
    assert contrastive_loss(z1, z1.clone(), temperature).item() == pytest.approx(expected, rel=1e-12)
    per_view = contrastive_loss(z1, z1.clone(), temperature, reduction="none")
    torch.testing.assert_close(per_view, torch.full((2 * n,), expected, dtype=torch.float64))


def test_contrastive_loss_of_equal_similarities_is_log_of_the_candidates():
    # all 2N views the same direction: every similarity is 1, so each view picks its partner among 2N - 1
    n = 5
    z = torch.ones(n, 3, dtype=torch.float64)
    assert contrastive_loss(z, 2 * z, 0.3).item() == pytest.approx(math.log(2 * n - 1), rel=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("temperature", [0.01, 0.1, 1.0])
def test_contrastive_loss_gradients_reach_both_views(dtype, temperature):
    # Well-aligned views, as late in a training: cosines of partners ~0.96, so at T = 0.01 the logits reach
    # ~96 and exp(96) overflows float32 (above exp(88.7)); a loss without logsumexp would give inf or NaN.
    z1, noise = random_pairs(16, 8, seed=3, dtype=dtype)
    z2 = (z1 + 0.3 * noise).requires_grad_(True)
    z1.requires_grad_(True)
    if temperature == 0.01:
        assert (torch.nn.functional.cosine_similarity(z1, z2) / temperature).max() > 89  # the overflow case
    loss = contrastive_loss(z1, z2, temperature)
    loss.backward()
    assert torch.isfinite(loss)
    for grad in (z1.grad, z2.grad):
        assert grad is not None and torch.isfinite(grad).all()
        assert (grad.norm(dim=1) > 0).all()  # every embedding of both views receives a gradient
    reference = contrastive_loss(z1.detach().double(), z2.detach().double(), temperature)
    assert loss.item() == pytest.approx(reference.item(), rel=1e-4, abs=1e-4)  # float32 logits to ~1e-5


def test_contrastive_loss_gradients_match_autograd_reference():
    z1, z2 = random_pairs(4, 3, seed=7)
    torch.autograd.gradcheck(
        lambda a, b: contrastive_loss(a, b, 0.3), (z1.requires_grad_(), z2.requires_grad_())
    )


def test_alignment_by_hand():
    z = torch.tensor([[3.0, 0.0], [0.0, 0.5]], dtype=torch.float64)
    assert alignment(z, 7 * z).item() == 0.0  # identical directions
    # row 0: e1 against e2, distance sqrt(2); row 1: e2 against -e2, distance 2
    partner = torch.tensor([[0.0, 2.0], [0.0, -1.0]], dtype=torch.float64)
    assert alignment(z, partner).item() == pytest.approx((2 + 4) / 2)
    assert alignment(z, partner, alpha=1.0).item() == pytest.approx((math.sqrt(2) + 2) / 2)
    assert alignment(z[:1], partner[:1], alpha=3.0).item() == pytest.approx(2**1.5)


def test_alignment_gradient_is_finite_for_identical_views():
    z = torch.randn(5, 3, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    z.requires_grad_(True)
    alignment(z, z.detach().clone()).backward()
    assert torch.isfinite(z.grad).all()


def cross_polytope(n, dim):
    """The 2n points +-e_1, ..., +-e_n in dim >= n dimensions, shape (2n, dim)."""
    basis = torch.eye(n, dim, dtype=torch.float64)
    return torch.cat([basis, -basis])


@pytest.mark.parametrize("t", [1.0, 2.0])
@pytest.mark.parametrize("n", [1, 2, 4])
def test_uniformity_of_orthogonal_and_antipodal_sets(n, t):
    scales = torch.arange(1.0, 2 * n + 1, dtype=torch.float64)[:, None]  # lengths must not matter
    # n + 1 orthogonal unit vectors: every pair at squared distance 2
    orthogonal = torch.eye(n + 1, dtype=torch.float64) * scales[: n + 1]
    assert uniformity(orthogonal, t).item() == pytest.approx(-2 * t, rel=1e-12)
    # +-e_1..+-e_n: n(2n - 1) pairs, n antipodal (squared distance 4), the other 2n(n - 1) at 2
    points = scales * cross_polytope(n, n + 1)
    expected = math.log((math.exp(-4 * t) + 2 * (n - 1) * math.exp(-2 * t)) / (2 * n - 1))
    assert uniformity(points, t).item() == pytest.approx(expected, rel=1e-12)


def test_uniformity_of_points_on_the_sphere_matches_the_integral():
    # z uniform on the 2-sphere: cos(angle) of a pair is uniform on [-1, 1] and ||z_i - z_j||^2 = 2 - 2 cos,
    # so E exp(-t d^2) = (1 - e^(-4t)) / (4t) = 0.125 for t = 2. By symmetry E[exp(-t d_ij^2) | z_i] is the
    # same for every z_i, so the pair mean has variance 2 Var(exp(-t d^2)) / (n (n - 1)) = (3.1e-4)^2 for
    # n = 1000, 0.25 % of the mean: the tolerance 0.01 on the log is 4 sigma, and an unsquared distance
    # (log value -2.18) or a missing normalisation is far outside it.
    gen = torch.Generator().manual_seed(2)
    z = torch.randn(1000, 3, generator=gen, dtype=torch.float64)
    t = 2.0
    assert uniformity(z, t).item() == pytest.approx(math.log((1 - math.exp(-4 * t)) / (4 * t)), abs=0.01)


def test_uniformity_is_lower_for_spread_than_for_clustered_points():
    gen = torch.Generator().manual_seed(4)
    spread = torch.randn(200, 8, generator=gen, dtype=torch.float64)
    clustered = torch.eye(1, 8, dtype=torch.float64) + 0.2 * torch.randn(
        200, 8, generator=gen, dtype=torch.float64
    )
    collapsed = torch.ones(200, 8, dtype=torch.float64)
    assert uniformity(spread).item() < uniformity(clustered).item() - 1.0
    assert uniformity(clustered).item() < uniformity(collapsed).item()
    assert uniformity(collapsed).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: contrastive_loss(torch.randn(4, 3), torch.randn(5, 3)), ValueError, "shapes must match"),
        (lambda: contrastive_loss(torch.randn(4, 3), torch.randn(4, 2)), ValueError, "shapes must match"),
        (lambda: contrastive_loss(torch.randn(1, 3), torch.randn(1, 3)), ValueError, "at least 2"),
        (lambda: contrastive_loss(torch.randn(4), torch.randn(4)), ValueError, r"shape \(batch, dim\)"),
        (
            lambda: contrastive_loss(torch.ones(4, 3, dtype=torch.long), torch.ones(4, 3)),
            ValueError,
            "floating",
        ),
        (lambda: contrastive_loss([[1.0, 0.0]] * 2, torch.randn(2, 2)), TypeError, "torch.Tensor"),
        (lambda: contrastive_loss(torch.randn(4, 3), torch.randn(4, 3), 0.0), ValueError, "temperature"),
        (lambda: contrastive_loss(torch.randn(4, 3), torch.randn(4, 3), -0.1), ValueError, "temperature"),
        (lambda: contrastive_loss(torch.randn(4, 3), torch.randn(4, 3), math.nan), ValueError, "temperature"),
        (lambda: contrastive_loss(torch.randn(4, 3), torch.zeros(4, 3)), ValueError, "rows of zeros"),
        (
            lambda: contrastive_loss(torch.randn(4, 3), torch.randn(4, 3), reduction="avg"),
            ValueError,
            "reduction",
        ),
        (lambda: alignment(torch.randn(4, 3), torch.randn(3, 3)), ValueError, "shapes must match"),
        (lambda: alignment(torch.randn(4, 3), torch.randn(4, 3), alpha=0), ValueError, "alpha"),
        (lambda: uniformity(torch.randn(1, 3)), ValueError, "at least 2"),
        (lambda: uniformity(torch.randn(4, 3), t=-1.0), ValueError, "finite positive number"),
    ],
)
def test_contrastive_bad_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_contrastive_non_finite_embeddings_are_errors(bad):
    z = torch.randn(4, 3)
    z[2, 1] = bad
    with pytest.raises(ValueError, match="z2 contains 1 NaN or infinite"):
        contrastive_loss(torch.randn(4, 3), z)
    with pytest.raises(ValueError, match="z1 contains 1 NaN"):
        alignment(z, torch.randn(4, 3))
    with pytest.raises(ValueError, match="z contains 1 NaN"):
        uniformity(z)
