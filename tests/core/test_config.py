"""Typed configs: building from dicts, overrides, TOML and errors."""

from __future__ import annotations

from dataclasses import dataclass, field

import re

import pytest

from genzoo.config import apply_overrides, build, describe_fields, doc, parse_value
from genzoo.errors import ConfigError
from genzoo.runconfig import resolve_run_config, route_overrides


@dataclass
class Loss:
    adversarial: str = doc("adversarial loss plugin", "wasserstein-gp")


@dataclass
class Cfg:
    latent_dim: int = doc("latent size", 8)
    betas: tuple[float, float] = doc("Adam betas", (0.5, 0.9))
    loss: Loss = field(default_factory=Loss, metadata={"doc": "losses"})


def test_build_coerces_and_nests():
    cfg = build(Cfg, {"latent_dim": 16.0, "betas": [0.0, 0.99], "loss": {"adversarial": "hinge"}})
    assert cfg == Cfg(16, (0.0, 0.99), Loss("hinge"))


@pytest.mark.parametrize(
    "values, message",
    [
        ({"latnet_dim": 3}, "unknown config field latnet_dim (did you mean latent_dim?)"),
        ({"latent_dim": "big"}, "latent_dim: expected an integer"),
        ({"betas": [1.0]}, "betas: expected 2 values"),
        ({"loss": {"adversarail": "x"}}, "loss.adversarail"),
    ],
)
def test_build_errors_name_the_field(values, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        build(Cfg, values)


def test_overrides_parse_toml_values():
    values = apply_overrides({"a": {"b": 1}}, ["a.b=2", "a.c=[1, 2]", "d=hinge", "e=true", "f=1e-4"])
    assert values == {"a": {"b": 2, "c": [1, 2]}, "d": "hinge", "e": True, "f": 1e-4}
    assert parse_value('"quoted"') == "quoted"
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides({}, ["novalue"])


def test_set_keys_are_routed_to_model_train_and_data():
    assert route_overrides(["loss.adversarial=hinge", "train.steps=5", "data.size=64", "model.latent_dim=3"]) == [
        "model_config.loss.adversarial=hinge", "train.steps=5", "data_config.size=64", "model_config.latent_dim=3",
    ]


def test_resolve_run_config_merges_file_flags_and_overrides(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('model = "gvae"\ndataset = "pancreas"\n[train]\nsteps = 10\nbatch_size = 8\n[model_config]\nlatent_dim = 1000\n')
    config = resolve_run_config(model=None, config_file=toml, flags={"steps": 20}, overrides=["latent_dim=64", "train.seed=3"])
    assert (config.model, config.dataset) == ("gvae", "pancreas")
    assert (config.train.steps, config.train.batch_size, config.train.seed) == (20, 8, 3)
    assert config.model_config == {"latent_dim": 64}


def test_invalid_train_values_are_config_errors():
    with pytest.raises(ConfigError, match="batch_size must be at least 1"):
        resolve_run_config(model="gvae", flags={"batch_size": 0})
    with pytest.raises(ConfigError, match="precision: 'fp8' is not one of"):
        resolve_run_config(model="gvae", overrides=["train.precision=fp8"])


def test_describe_fields_lists_nested_docs():
    rows = describe_fields(Cfg)
    assert ("latent_dim", "int", "8", "latent size") in rows
    assert ("loss.adversarial", "str", "'wasserstein-gp'", "adversarial loss plugin") in rows


@dataclass
class WithOptions:
    options: dict = field(default_factory=lambda: {"reduction": "mean", "scale": 1.0})


def test_dict_fields_merge_over_their_defaults():
    assert build(WithOptions, {"options": {"scale": 0.2}}).options == {"reduction": "mean", "scale": 0.2}


@dataclass
class Loose:
    betas: tuple = doc("bare tuple", (0.5, 0.999))
    sizes: list = doc("bare list", default_factory=lambda: [1, 2])
    options: dict = doc("bare dict", default_factory=lambda: {"a": 1})
    maybe: float | None = doc("optional", None)
    pair: tuple[int, ...] = doc("variadic", (1, 2, 3))
    table: dict[str, tuple[float, float]] = doc("typed dict", default_factory=lambda: {"x": (1.0, 2.0)})


def test_every_supported_annotation_survives_the_json_round_trip():
    import json

    from genzoo.config import check_config_class, to_dict

    check_config_class(Loose)
    again = build(Loose, json.loads(json.dumps(to_dict(Loose()))))
    assert again == Loose() and again.betas == (0.5, 0.999) and isinstance(again.table["x"], tuple)


@pytest.mark.parametrize(
    "annotation, default, message",
    [
        ("pathlib.Path", "pathlib.Path('.')", "config field f: Path is not supported (Path cannot be stored as JSON)"),
        ("set[int]", "field(default_factory=set)", "config field f: set[int] is not supported"),
        ("dict[int, str]", "field(default_factory=dict)", "dict keys must be str"),
        ("dict[str, typing.Any]", "field(default_factory=lambda: {'b': (1, 2)})", "comes back from JSON as {'b': [1, 2]}"),
    ],
)
def test_annotations_that_cannot_round_trip_are_refused_in_one_line(annotation, default, message):
    import dataclasses
    import pathlib  # noqa: F401  (used by the evaluated annotation)
    import typing  # noqa: F401

    from genzoo.config import check_config_class

    cls = dataclasses.make_dataclass("Bad", [("f", eval(annotation), eval(default))])
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_config_class(cls)


def test_types_are_shown_readably():
    rows = {row[0]: row[1] for row in describe_fields(Loose)}
    assert rows == {"betas": "tuple", "sizes": "list", "options": "dict", "maybe": "float | None",
                    "pair": "tuple[int, ...]", "table": "dict[str, tuple[float, float]]"}
    assert ("betas", "tuple[float, float]", "(0.5, 0.9)", "Adam betas") in describe_fields(Cfg)


def test_a_partial_nested_override_starts_from_the_models_default_and_stored_configs_keep_theirs() -> None:
    # alpha-gan and vae-gan default to a 50-component prior fitted to 4 draws per image; a user
    # changing its temperature keeps those, and `genzoo info` shows them ...
    from genzoo.config import describe_fields
    from genzoo.registry import get_registry
    from genzoo.runconfig import resolve_run_config

    registry = get_registry()
    spec = registry.get("model", "vae-gan")
    asked = resolve_run_config(model="vae-gan", overrides=["sampling_prior.temperature=0.8"], registry=registry)
    prior = registry.make_config(spec, asked.model_config).sampling_prior
    assert (prior.components, prior.draws, prior.temperature) == (50, 4, 0.8)
    asked = resolve_run_config(model="gvae", overrides=["sampling_prior.temperature=0.8"], registry=registry)
    gvae_prior = registry.make_config(registry.get("model", "gvae"), asked.model_config).sampling_prior
    assert (gvae_prior.components, gvae_prior.draws) == (20, 1)
    rows = {name: default for name, _, default, _ in describe_fields(type(registry.make_config(spec)))}
    assert rows["sampling_prior.components"] == "50" and rows["sampling_prior.draws"] == "4"
    # ... while a stored config written before `draws` existed reads it at 1, what it was fitted with
    stored = {"sampling_prior": {"kind": "mixture", "components": 20, "images": 10000, "iterations": 100,
                                 "ridge": 1e-4, "temperature": 1.0}}
    old = registry.make_config(spec, stored).sampling_prior
    assert (old.components, old.draws) == (20, 1)


def test_wgan_gps_wider_critic_survives_a_partial_net_override_and_other_models_keep_32(tmp_path) -> None:
    from genzoo.checkpoint import load_model, model_metadata, save_model
    from genzoo.config import to_dict
    from genzoo.registry import get_registry

    registry = get_registry()
    spec = registry.get("model", "wgan-gp")
    assert registry.make_config(spec).net.discriminator_width == 64
    asked = resolve_run_config(model="wgan-gp", overrides=["net.generator_width=16"], registry=registry)
    net = registry.make_config(spec, asked.model_config).net
    assert (net.generator_width, net.discriminator_width) == (16, 64)
    for name in ("gvae", "vae-gan", "alpha-gan", "avb"):
        assert registry.make_config(registry.get("model", name)).net.discriminator_width == 32, name

    def critic_width(model) -> int:
        return next(p for n, p in model.named_parameters() if n.startswith("critic.")).shape[0]

    # a checkpoint trained at width 32 (before the change) loads at width 32 from its stored config
    config = to_dict(registry.make_config(spec, {"net": {**to_dict(net), "discriminator_width": 32}}))
    model = registry.build_model("wgan-gp", config, (1, 28, 28))
    assert critic_width(model) == 32
    meta = model_metadata(model, registry.resolve("model", "wgan-gp"), dataset="mnist5k", dataset_config={},
                          data_shape=(1, 28, 28), normalisation={}, step=0)
    loaded, _ = load_model(save_model(tmp_path / "old.safetensors", model, meta))
    assert critic_width(loaded) == 32
    assert critic_width(registry.build_model("wgan-gp", None, (1, 28, 28))) == 64
