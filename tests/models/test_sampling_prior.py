"""The fitted sampling prior (ex-post density estimation): EM, the noise-to-mixture map, its density,
its place in training, checkpoints, resume and the likelihood metrics."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file

import genzoo
from genzoo.checkpoint import save_model
from genzoo.errors import ConfigError
from genzoo.registry import get_registry
from genzoo_models.configs import SamplingPriorConfig
from genzoo_models.sampling_prior import MixturePrior
from genzoo_metrics.likelihood import importance_weights_summary


def two_blobs(n=4000, seed=0):
    g = torch.Generator().manual_seed(seed)
    first = torch.randn(n // 4, 2, generator=g) * 0.3 + torch.tensor([3.0, 0.0])
    second = torch.randn(3 * n // 4, 2, generator=g) @ torch.tensor([[1.0, 0.0], [0.6, 0.5]]) + torch.tensor([-2.0, 1.0])
    return torch.cat([first, second])


def fitted_prior(codes, components=2, **options):
    prior = MixturePrior(codes.shape[1], SamplingPriorConfig(components=components, **options))
    prior.fit(codes)
    return prior


def test_em_recovers_a_known_two_component_mixture():
    prior = fitted_prior(two_blobs())
    order = prior.means[:, 0].argsort(descending=True)
    weights, means = prior.weights[order], prior.means[order]
    assert torch.allclose(weights, torch.tensor([0.25, 0.75]), atol=0.02)
    assert torch.allclose(means, torch.tensor([[3.0, 0.0], [-2.0, 1.0]]), atol=0.06)
    cov = prior.scales[order[1]] @ prior.scales[order[1]].T  # L Lᵀ; the blob is ε M, so Mᵀ M
    assert torch.allclose(cov, torch.tensor([[1.36, 0.3], [0.3, 0.25]]), atol=0.06)


def test_several_draws_per_image_come_from_one_encoder_pass_whatever_the_batching():
    from genzoo_models.sampling_prior import encoded_codes

    calls = []

    def encode(batch):
        calls.append(len(batch))
        return batch[:, :2] * 10, torch.full((len(batch), 2), math.log(0.01))  # sigma = 0.1

    images = torch.randn(9, 3)
    batches = [images[:5], images[5:]]
    codes = encoded_codes(encode, batches, draws=3)
    assert calls == [5, 4] and codes.shape == (27, 2)
    per_image = codes.view(9, 3, 2)  # an image's three draws together
    assert not torch.equal(per_image[:, 0], per_image[:, 1])  # fresh noise per draw ...
    assert torch.allclose(per_image.mean(1), images[:, :2] * 10, atol=0.3)  # ... around the same means
    assert torch.equal(codes, encoded_codes(encode, batches, draws=3))  # seeded
    # the trainer fits at its batch size, `genzoo fit-prior` at another: the same codes
    assert torch.equal(codes, encoded_codes(encode, [images[:2], images[2:7], images[7:]], draws=3))
    big = torch.randn(2500, 3)  # past one block of the noise stream
    assert torch.equal(encoded_codes(encode, [big[:64 * 20], big[64 * 20:]], draws=4),
                       encoded_codes(encode, list(big.split(256)), draws=4))


def test_the_expanded_mahalanobis_density_is_exact_for_many_tight_components():
    # the E-step expands (x − m)ᵀP(x − m) into GEMMs; check it against torch.distributions where
    # cancellation would show: 50 components of 16 dimensions, some tight, points near and far
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(50, 16, generator=g) * 5
    codes = centres[torch.randint(50, (6000,), generator=g)] + torch.randn(6000, 16, generator=g) * 0.05
    prior = fitted_prior(codes, components=50, iterations=5)
    points = torch.cat([codes[:20], torch.randn(5, 16, generator=g) * 20])
    scales = prior.scales.double()
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(probs=prior.weights.double()),
        torch.distributions.MultivariateNormal(prior.means.double(), scale_tril=scales),
    )
    assert torch.allclose(prior.log_prob(points.double()), mixture.log_prob(points.double()), rtol=1e-6, atol=1e-6)


def test_the_noise_map_draws_exactly_from_the_mixture_and_is_deterministic():
    prior = fitted_prior(two_blobs())
    noise = torch.randn(40000, 2, generator=torch.Generator().manual_seed(1))
    z = prior.transform(noise)
    assert torch.equal(z, prior.transform(noise))
    # the same moments as sampling the mixture the textbook way
    k = torch.multinomial(prior.weights, 40000, replacement=True, generator=torch.Generator().manual_seed(2))
    reference = prior.means[k] + (prior.scales[k] @ torch.randn(40000, 2, 1, generator=torch.Generator().manual_seed(3))).squeeze(-1)
    assert torch.allclose(z.mean(0), reference.mean(0), atol=0.05)
    assert torch.allclose(torch.cov(z.T), torch.cov(reference.T), atol=0.1)
    # the share of draws near each component's mean matches its weight
    near_first = ((z - prior.means[prior.means[:, 0].argmax()]).norm(dim=1) < 1.5).float().mean()
    assert abs(float(near_first) - 0.25) < 0.02
    # within a component, the re-drawn first coordinate is standard normal (not a slice of it)
    u = 0.5 * torch.erfc(-noise[:, 0].double() / math.sqrt(2))
    assert float(u.min()) < 0.01 and float(u.max()) > 0.99


def test_temperature_scales_the_spread_around_the_same_components():
    codes = two_blobs()
    noise = torch.randn(20000, 2, generator=torch.Generator().manual_seed(1))
    full = fitted_prior(codes)
    cool = fitted_prior(codes, temperature=0.5)
    z, z_cool = full.transform(noise), cool.transform(noise)
    # z = m_k + L_k e and z_cool = m_k + 0.5 L_k e for the same k, so 2 z_cool - z is a component mean
    distance = ((2 * z_cool - z)[:, None] - full.means[None]).norm(dim=2).min(1).values
    assert float(distance.max()) < 1e-4
    assert float((z_cool - z).abs().mean()) > 0.1
    assert torch.allclose(cool.log_prob(z), full.log_prob(z))


def test_log_prob_matches_torch_distributions_and_is_standard_normal_before_a_fit():
    codes = two_blobs()
    prior = fitted_prior(codes, components=3)
    reference = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(probs=prior.weights),
        torch.distributions.MultivariateNormal(prior.means, scale_tril=prior.scales),
    )
    z = torch.randn(50, 2) * 3
    assert torch.allclose(prior.log_prob(z), reference.log_prob(z), atol=1e-4)
    fresh = MixturePrior(2, SamplingPriorConfig())
    assert not fresh.is_fitted and torch.equal(fresh.transform(z), z)
    assert torch.allclose(fresh.log_prob(z), torch.distributions.Normal(0, 1).log_prob(z).sum(1), atol=1e-5)


def test_diagonal_covariances_above_the_full_limit_match_a_diagonal_reference():
    codes = torch.randn(600, 80) * torch.linspace(0.5, 2.0, 80) + 1.0
    prior = fitted_prior(codes, components=1)
    assert not prior.full and prior.scales.shape == (1, 80)
    assert torch.allclose(prior.means[0], codes.mean(0), atol=1e-4)
    assert torch.allclose(prior.scales[0] ** 2, codes.var(0, unbiased=False) + 1e-4, rtol=1e-3)
    z = torch.randn(5, 80)
    reference = torch.distributions.Normal(prior.means[0], prior.scales[0]).log_prob(z).sum(1)
    assert torch.allclose(prior.log_prob(z), reference, atol=1e-3)


def test_fewer_codes_than_components_leave_the_rest_at_zero_weight():
    prior = fitted_prior(torch.randn(3, 2), components=5)
    assert int((prior.weights > 0).sum()) == 3 and torch.isfinite(prior.transform(torch.randn(100, 2))).all()


@pytest.mark.parametrize("bad, message", [
    ({"kind": "gmm"}, "sampling_prior.kind must be one of mixture, normal"),
    ({"components": 0}, "sampling_prior.components must be an integer >= 1"),
    ({"ridge": 0.0}, "sampling_prior.ridge must be > 0"),
    ({"temperature": 0.0}, "sampling_prior.temperature must be > 0"),
])
def test_bad_settings_are_one_line_errors(bad, message):
    spec = get_registry().resolve("model", "gvae").spec
    with pytest.raises(ConfigError, match=message):
        get_registry().make_config(spec, {"sampling_prior": bad})


def test_non_finite_codes_are_refused():
    with pytest.raises(ConfigError, match="non-finite codes"):
        fitted_prior(torch.tensor([[0.0, float("nan")], [1.0, 1.0]]))


TINY = {"latent_dim": 3, "net": {"encoder_width": 4, "generator_width": 4, "discriminator_width": 4}}


def tiny_run(tmp_path, name, steps, model="gvae", **extra):
    images = torch.rand(48, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    config = {**TINY, **extra.pop("config", {})}
    return genzoo.train(model, images, out=tmp_path / name, steps=steps, batch_size=8, device="cpu", progress="none",
                        log_every=2, sample_every=2, checkpoint_every=2, grid_size=4, seed=3, config=config, **extra)


def test_training_fits_the_prior_at_every_checkpoint_and_samples_from_it(tmp_path):
    result = tiny_run(tmp_path, "run", 4)
    model = result.model
    assert model.sampling_prior.is_fitted
    saved = load_file(str(result.model_path))
    assert saved["sampling_prior.fitted"] == 1 and saved["sampling_prior.weights"].sum().item() == pytest.approx(1, abs=1e-5)
    noise = torch.randn(6, 3)
    with torch.no_grad():
        assert torch.allclose(model.generate(noise), model.decode(model.sampling_prior.transform(noise)))
        assert not torch.allclose(model.generate(noise), model.decode(noise))
    # the paper setting keeps N(0, I): no prior state at all
    paper = tiny_run(tmp_path, "paper", 2, config={"sampling_prior": {"kind": "normal"}})
    assert not hasattr(paper.model, "sampling_prior")
    assert not any(k.startswith("sampling_prior.") for k in load_file(str(paper.model_path)))


def test_resume_with_a_fitted_prior_is_bit_identical(tmp_path):
    full = tiny_run(tmp_path, "full", 4)
    tiny_run(tmp_path, "half", 2)
    resumed = tiny_run(tmp_path, "half", 4)
    a, b = load_file(str(full.model_path)), load_file(str(resumed.model_path))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_a_checkpoint_from_before_the_prior_loads_and_samples_from_n01(tmp_path):
    result = tiny_run(tmp_path, "run", 2)
    old = tmp_path / "old.safetensors"
    meta = dict(result.model.genzoo_meta)
    # what an older genzoo wrote: the same model without the prior's tensors
    state = {k: v for k, v in result.model.state_dict().items() if not k.startswith("sampling_prior.")}

    class Old(torch.nn.Module):
        def state_dict(self, *args, **kwargs):
            return state

    save_model(old, Old(), meta)
    model = genzoo.load(old)
    assert not model.sampling_prior.is_fitted
    noise = torch.randn(4, 3)
    with torch.no_grad():
        assert torch.equal(model.generate(noise), model.decode(noise))
    # a foreign tensor is still refused
    state["sampling_prior.stray"] = torch.zeros(1)
    save_model(old, Old(), meta)
    with pytest.raises(genzoo.GenzooError, match="unexpected"):
        genzoo.load(old)


def test_likelihood_uses_the_fitted_prior_and_its_kl_is_the_monte_carlo_one(tmp_path):
    model = tiny_run(tmp_path, "run", 2).model
    x = torch.rand(5, 1, 28, 28).round() * 2 - 1
    # a one-component "mixture" equal to N(0, I): the same bound as the standard prior, KL by Monte Carlo
    prior = model.sampling_prior
    with torch.no_grad():
        prior.weights.zero_()[0] = 1
        prior.means.zero_()
        prior.scales.copy_(torch.eye(3).expand_as(prior.scales))
    summary = lambda: importance_weights_summary(model, x, 4000, 500, torch.Generator().manual_seed(0))  # noqa: E731
    as_mixture = summary()
    prior.fitted.zero_()
    as_standard = summary()
    assert torch.allclose(as_mixture["log_likelihood"], as_standard["log_likelihood"], atol=1e-4)
    assert torch.allclose(as_mixture["kl"], as_standard["kl"], rtol=0.05, atol=0.02)
    # a mixture away from the posterior lowers the bound
    prior.fitted.fill_(1)
    with torch.no_grad():
        prior.means.fill_(4.0)
    assert (summary()["log_likelihood"] < as_standard["log_likelihood"]).all()


def test_fit_prior_writes_a_new_checkpoint_with_the_prior_fitted_to_the_training_split(tmp_path):
    from typer.testing import CliRunner

    from genzoo.cli import app

    run = genzoo.train("vae", "mnist5k", out=tmp_path / "run", steps=2, batch_size=8, device="cpu", progress="none",
                       log_every=1, sample_every=0, checkpoint_every=0, grid_size=4,
                       config={"latent_dim": 2, "net": {"encoder_width": 4, "generator_width": 4}, "sampling_prior": {"images": 64}})
    source = run.model_path
    # make it look unfitted (as a checkpoint from before the prior), then fit it from the CLI
    model = genzoo.load(source)
    model.sampling_prior.fitted.zero_()
    save_model(tmp_path / "unfitted.safetensors", model, model.genzoo_meta)
    runner = CliRunner()
    result = runner.invoke(app, ["fit-prior", str(tmp_path / "unfitted.safetensors"), "--out", str(tmp_path / "fitted.safetensors")])
    assert result.exit_code == 0, result.output
    assert "to 64 training images of mnist5k" in result.output
    fitted = genzoo.load(tmp_path / "fitted.safetensors")
    assert fitted.sampling_prior.is_fitted
    assert torch.allclose(fitted.sampling_prior.means, run.model.sampling_prior.means, atol=1e-5)  # the trainer's own fit
    same = runner.invoke(app, ["fit-prior", str(source), "--out", str(source)])
    assert same.exit_code != 0 and "is the checkpoint itself" in same.output
    paper = genzoo.train("vae", "mnist5k", out=tmp_path / "paper", steps=1, batch_size=8, device="cpu", progress="none",
                         sample_every=0, checkpoint_every=0, grid_size=4,
                         config={"latent_dim": 2, "net": {"encoder_width": 4, "generator_width": 4}, "sampling_prior": {"kind": "normal"}})
    refused = runner.invoke(app, ["fit-prior", str(paper.model_path), "--out", str(tmp_path / "x.safetensors")])
    assert refused.exit_code != 0 and "has no prior to fit" in refused.output and not (tmp_path / "x.safetensors").exists()
    # --set refits with other prior settings; a setting that changes a network is refused in one line
    cooler = runner.invoke(app, ["fit-prior", str(source), "--out", str(tmp_path / "cool.safetensors"),
                                 "--set", "sampling_prior.components=3", "--set", "sampling_prior.temperature=0.5"])
    assert cooler.exit_code == 0, cooler.output
    cool = genzoo.load(tmp_path / "cool.safetensors")
    assert cool.sampling_prior.config.temperature == 0.5 and cool.sampling_prior.weights.shape == (3,)
    noise = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(cool.generate(noise), fitted.generate(noise))
    resized = runner.invoke(app, ["fit-prior", str(source), "--out", str(tmp_path / "big.safetensors"), "--set", "latent_dim=5"])
    assert resized.exit_code != 0 and "does not fit" in resized.output and len(resized.output.strip().splitlines()) == 1
    assert not (tmp_path / "big.safetensors").exists()


def test_a_warm_started_refit_keeps_each_components_identity():
    from genzoo_models.configs import SamplingPriorConfig
    from genzoo_models.sampling_prior import MixturePrior

    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    codes = (centres[:, None] + 0.5 * torch.randn(4, 50, 2, generator=torch.Generator().manual_seed(0))).flatten(0, 1)
    prior = MixturePrior(2, SamplingPriorConfig(components=4))
    prior.fit(codes, seed=0)
    before = prior.means.clone()
    shifted = codes + torch.tensor([0.3, -0.2])
    prior.fit(shifted, seed=7, warm_start=True)  # another seed would start elsewhere; the warm start ignores it
    assert torch.allclose(prior.means, before + torch.tensor([0.3, -0.2]), atol=0.1)
    cold = MixturePrior(2, SamplingPriorConfig(components=4))
    cold.fit(shifted, seed=7, warm_start=True)  # nothing fitted before: a warm start is a cold one
    fresh = MixturePrior(2, SamplingPriorConfig(components=4))
    fresh.fit(shifted, seed=7)
    assert torch.equal(cold.means, fresh.means)


def test_transform_is_a_draw_from_the_component_split_picks():
    from genzoo_models.configs import SamplingPriorConfig
    from genzoo_models.sampling_prior import MixturePrior

    codes = torch.randn(300, 3, generator=torch.Generator().manual_seed(0)) * torch.tensor([1.0, 2.0, 3.0])
    prior = MixturePrior(3, SamplingPriorConfig(components=5))
    prior.fit(codes)
    noise = torch.randn(64, 3, generator=torch.Generator().manual_seed(1))
    components, fresh = prior.split(noise)
    assert torch.equal(prior.transform(noise), prior.draw(components, fresh).float())
    assert torch.equal(fresh[:, 1:], noise[:, 1:].double())  # only the first coordinate is spent on k
    # assign: the most responsible component, against torch.distributions
    z = torch.randn(64, 3, generator=torch.Generator().manual_seed(2)) * 2
    scales = prior.scales.double()
    normals = torch.distributions.MultivariateNormal(prior.means.double(), scale_tril=scales)
    joint = normals.log_prob(z.double()[:, None]) + prior.weights.double().log()
    assert torch.equal(prior.assign(z), joint.argmax(1))
