"""class-coverage: closed-form shares on known logits, a stub classifier with hand-set weights, the
n/a case, and real mnist5k held-out digits under the shipped LeNet."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.evaluation import EvalContext, dataset_images, evaluate
from genzoo_metrics.class_coverage import coverage_from_logits, kl_to_uniform
from genzoo_metrics.classifier import FeatureNet, save_feature_net


def _logits_from_probs(probs: list[list[float]]) -> torch.Tensor:
    return torch.tensor(probs, dtype=torch.float64).log()


def test_shares_histogram_and_kl_of_known_logits() -> None:
    # 10 samples over K = 4: six confident (p = 0.95), four not (p = 0.5); top classes 0,0,0,0,0,1,1,1,2,2.
    confident = [[0.95, 0.03, 0.01, 0.01]] * 4 + [[0.03, 0.95, 0.01, 0.01]] * 2
    unsure = [[0.5, 0.3, 0.1, 0.1], [0.2, 0.5, 0.2, 0.1], [0.1, 0.2, 0.5, 0.2], [0.2, 0.2, 0.5, 0.1]]
    logits = _logits_from_probs(confident + unsure)
    out = coverage_from_logits(logits, threshold=0.9, min_share=0.04)
    assert out["recognisable"] == pytest.approx(0.6)
    assert [out[f"share.{y}"] for y in range(4)] == pytest.approx([0.5, 0.3, 0.2, 0.0])
    assert out["classes"] == 3
    kl = 0.5 * math.log(4 * 0.5) + 0.3 * math.log(4 * 0.3) + 0.2 * math.log(4 * 0.2)
    assert out["kl"] == pytest.approx(kl, rel=1e-12)
    # The settings move the counts: a stricter threshold, a larger minimum share.
    assert coverage_from_logits(logits, threshold=0.96)["recognisable"] == 0.0
    assert coverage_from_logits(logits, threshold=0.5)["recognisable"] == pytest.approx(1.0)
    assert coverage_from_logits(logits, min_share=0.25)["classes"] == 2


def test_kl_to_uniform_closed_form() -> None:
    assert kl_to_uniform(torch.full((10,), 0.1, dtype=torch.float64)) == pytest.approx(0.0, abs=1e-12)
    assert kl_to_uniform(torch.tensor([1.0] + [0.0] * 9)) == pytest.approx(math.log(10))
    assert kl_to_uniform(torch.tensor([0.5, 0.5] + [0.0] * 8)) == pytest.approx(math.log(5))


def _stub_classifier(path, feature_scale: float = 2.5):
    """A 3-class LeNet whose logits are (4t - 4, 1, 4 - 4t) for a constant image of value c, t = c + 1.

    Only the centre taps and the first units carry weight, so t passes through both convolutions,
    the pools and the two hidden layers unchanged (it is >= 0, so the ReLUs keep it).
    """
    net = FeatureNet((1, 28, 28), "classifier", 3)
    for parameter in net.parameters():
        parameter.data.zero_()
    conv1, conv2 = net.trunk.conv[0], net.trunk.conv[3]
    conv1.weight.data[0, 0, 2, 2] = 1.0
    conv1.bias.data[0] = 1.0
    conv2.weight.data[0, 0, 2, 2] = 1.0
    fc1, fc2 = net.trunk.fc[0], net.trunk.fc[2]
    fc1.weight.data[0, :25] = 1.0 / 25
    fc2.weight.data[0, 0] = 1.0
    net.head.weight.data[:, 0] = torch.tensor([4.0, 0.0, -4.0])
    net.head.bias.data[:] = torch.tensor([-4.0, 1.0, 4.0])
    net.feature_scale = feature_scale  # the head sees raw activations whatever the scale
    return save_feature_net(path, net, {"dataset": "stub", "split": "train"})


def _constant_images(values: list[float]) -> torch.Tensor:
    return torch.tensor(values).view(-1, 1, 1, 1).expand(-1, 1, 28, 28).clone()


def test_metric_on_a_stub_classifier_reports_generated_and_real(tmp_path, metrics_registry) -> None:
    path = _stub_classifier(tmp_path / "stub.safetensors")
    # c = 1 -> logits (4, 1, -4): class 0 with p = e^4 / (e^4 + e + e^-4) = 0.952; c = -1 -> class 2, same p;
    # c = 0 -> (0, 1, 0): class 1 with p = e / (e + 2) = 0.576, not recognisable.
    generated = _constant_images([1.0] * 5 + [-1.0] * 3 + [0.0] * 2)
    real = _constant_images([0.0] * 4)
    context = EvalContext(object(), real, generated=generated, dataset="stub")
    configs = {"class-coverage": {"classifier": str(path)}}
    (result,) = evaluate(context, ["class-coverage"], configs, metrics_registry)
    v = result.values
    assert result.status == "ok" and result.value == pytest.approx(0.8)
    assert [v[f"class-coverage.share.{y}"] for y in range(3)] == pytest.approx([0.5, 0.2, 0.3])
    assert v["class-coverage.classes"] == 3
    kl = 0.5 * math.log(1.5) + 0.2 * math.log(0.6) + 0.3 * math.log(0.9)
    assert v["class-coverage.kl"] == pytest.approx(kl, rel=1e-6)
    assert v["class-coverage.real"] == 0.0 and v["class-coverage.real.share.1"] == 1.0
    assert v["class-coverage.real.classes"] == 1
    assert v["class-coverage.real.kl"] == pytest.approx(math.log(3), rel=1e-6)
    strict = {"class-coverage": {"classifier": str(path), "threshold": 0.96, "min_share": 0.25}}
    (result,) = evaluate(context, ["class-coverage"], strict, metrics_registry)
    assert result.value == 0.0 and result.values["class-coverage.classes"] == 2


def test_autoencoder_feature_net_is_not_applicable(tmp_path, metrics_registry) -> None:
    path = save_feature_net(tmp_path / "ae.safetensors", FeatureNet((1, 28, 28), "autoencoder", 0), {})
    context = EvalContext(object(), _constant_images([0.0, 0.5]), generated=_constant_images([0.0, 1.0]))
    (result,) = evaluate(context, ["class-coverage"], {"class-coverage": {"classifier": str(path)}}, metrics_registry)
    assert result.status == "n/a" and "classifier head" in result.reason and not result.values


def test_bad_settings_are_config_errors(metrics_registry) -> None:
    from genzoo.errors import ConfigError

    with pytest.raises(ConfigError, match="threshold"):
        metrics_registry.build_metric("class-coverage", {"threshold": 1.5})
    with pytest.raises(ConfigError, match="min_share"):
        metrics_registry.build_metric("class-coverage", {"min_share": -0.1})


def test_real_mnist5k_held_out_digits_are_recognised_by_the_shipped_lenet(metrics_registry) -> None:
    spec = metrics_registry.get("dataset", "mnist5k")
    real, labels = dataset_images(metrics_registry.build_dataset("mnist5k", None, spec.eval_split))
    context = EvalContext(object(), real, generated=real[:250], dataset="mnist5k")
    (result,) = evaluate(context, ["class-coverage"], None, metrics_registry)
    v = result.values
    assert v["class-coverage.real"] >= 0.9
    assert v["class-coverage.real.classes"] == 10
    assert v["class-coverage.real.kl"] < 0.01  # mnist5k's held-out split is balanced (50 per class)
    # A generator that draws only the first half of a class-ordered split covers fewer classes.
    ordered = real[labels.argsort()][:250]
    half_context = EvalContext(object(), real, generated=ordered, dataset="mnist5k")
    (half,) = evaluate(half_context, ["class-coverage"], None, metrics_registry)
    assert half.values["class-coverage.classes"] <= 6 and half.values["class-coverage.kl"] > 0.5

