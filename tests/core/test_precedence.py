"""First-party names win over a shadowing third-party plugin, and checkpoints record which plugin
provided every component, so a shadowing or a missing plugin never loads the wrong code."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from genzoo.checkpoint import load_model, model_metadata, read_metadata, save_model
from genzoo.cli import build_app
from genzoo.errors import AmbiguousNameError, PluginMissingError
from genzoo.plugins import PluginHost
from genzoo.evaluation import evaluate_checkpoint
from genzoo.registry import Registry, get_registry, set_registry
from tests.conftest import FakeEntryPoint

SHADOW = FakeEntryPoint("shadow", "tests.fakes.shadow_plugin", dist="genzoo-shadow", version="0.2")
SHADOW2 = FakeEntryPoint("shadow2", "tests.fakes.shadow2_plugin", dist="genzoo-shadow2", version="1.0")
SMALL = {"latent_dim": 4, "code_hidden": 8, "net": {"encoder_width": 4, "generator_width": 4, "discriminator_width": 4}}


def first_party() -> list:
    return [ep for ep in metadata.entry_points(group="genzoo") if ep.dist and ep.dist.metadata["Name"] == "genzoo"]


def registry_of(*extra, disabled=(), warnings=None) -> Registry:
    sink = warnings if warnings is not None else []
    return Registry(PluginHost([*first_party(), *extra], strict=False, disabled=disabled, warn=sink.append))


@pytest.fixture
def installed():
    """Install a registry process-wide for the duration of a test (models build their losses through it)."""
    previous = get_registry.__globals__["_REGISTRY"]

    def install(registry: Registry) -> Registry:
        set_registry(registry)
        return registry

    yield install
    set_registry(previous)


def save_alpha_gan(registry: Registry, folder: Path, config: dict) -> Path:
    torch.manual_seed(0)
    model = registry.build_model("alpha-gan", config, (1, 28, 28))
    meta = model_metadata(model, registry.resolve("model", "alpha-gan"), dataset="mnist5k", dataset_config={},
                          data_shape=(1, 28, 28), normalisation={}, step=1)
    return save_model(folder / "model.safetensors", model, meta)


def test_first_party_names_win_and_the_shadowing_component_is_qualified():
    registry = registry_of(SHADOW)
    assert registry.resolve("model", "vae").plugin.name == "models"
    assert registry.resolve("loss", "l1").plugin.name == "losses"
    assert type(registry.build_model("shadow:vae", None, (1, 8, 8))).__name__ == "TinyGAN"
    assert "vae" in registry.names("model") and "shadow:vae" in registry.names("model")
    assert "l1" in registry.names("loss") and "shadow:l1" in registry.names("loss")
    (model_warning,) = [line for line in registry.shadow_warnings(["model"])]
    assert "plugin 'shadow' (genzoo-shadow 0.2) also provides model 'vae'" in model_warning
    assert "use 'shadow:vae'" in model_warning


def test_two_third_party_plugins_sharing_a_name_stay_ambiguous():
    registry = registry_of(SHADOW, SHADOW2)
    with pytest.raises(AmbiguousNameError, match="'shadow2:l1x' and 'shadow:l1x'|'shadow:l1x' and 'shadow2:l1x'"):
        registry.resolve("loss", "l1x")
    warnings = registry.shadow_warnings(["loss"])
    assert len(warnings) == 1 and "also provides loss 'l1';" in warnings[0]  # no first-party l1x to win


def test_list_warns_about_shadowed_names_on_stderr(installed):
    app = build_app(PluginHost([*first_party(), SHADOW], strict=False, disabled=(), warn=lambda _: None))
    result = CliRunner().invoke(app, ["list", "losses"])
    assert result.exit_code == 0
    assert "also provides loss 'l1'" in result.stderr and "'shadow:l1'" in result.stderr
    assert "shadow:l1" in result.stdout


def test_gvae_trains_names_unchanged_with_a_shadowing_plugin(installed):
    registry = installed(registry_of(SHADOW))
    model = registry.build_model("gvae", {"latent_dim": 4, "net": {"encoder_width": 4, "generator_width": 4,
                                                                  "discriminator_width": 4}}, (1, 28, 28))
    providers = {(c["kind"], c["name"]): c["plugin"] for c in model.genzoo_components}
    assert providers and set(providers.values()) == {"losses"}


def test_checkpoint_records_the_provider_of_each_loss(installed, tmp_path):
    registry = installed(registry_of(SHADOW))
    path = save_alpha_gan(registry, tmp_path, SMALL)
    components = {(c["kind"], c["name"]): c for c in read_metadata(path)["components"]}
    assert components[("loss", "l1")]["plugin"] == "losses"
    assert components[("loss", "l1")]["distribution"] == "genzoo"
    assert {("loss", "non-saturating"), ("loss", "code-discriminator")} <= set(components)
    model, _ = load_model(path, registry=registry)
    assert type(model.reconstruction).__name__ == "L1"


def test_a_pinned_loss_comes_from_its_plugin_even_where_the_name_became_ambiguous(installed, tmp_path):
    registry = installed(registry_of(SHADOW))
    path = save_alpha_gan(registry, tmp_path, {**SMALL, "loss": {"reconstruction": "l1x"}})
    assert type(registry.build_model("alpha-gan", {**SMALL, "loss": {"reconstruction": "l1x"}}, (1, 28, 28))
                .reconstruction).__name__ == "L1"
    both = installed(registry_of(SHADOW, SHADOW2))
    with pytest.raises(AmbiguousNameError):
        both.build_model("alpha-gan", {**SMALL, "loss": {"reconstruction": "l1x"}}, (1, 28, 28))
    model, _ = load_model(path, registry=both)
    assert type(model.reconstruction).__name__ == "L1"  # shadow's l1x, not shadow2's Gaussian


@pytest.mark.parametrize(
    "make_registry, expected",
    [
        (lambda: registry_of(), r"needs loss 'l1x' from plugin 'shadow', which is not installed: pip install 'genzoo-shadow>=0.2'"),
        (lambda: registry_of(SHADOW, disabled=["shadow"]),
         r"needs loss 'l1x' from plugin 'shadow', which is installed but disabled by GENZOO_DISABLE_PLUGINS"),
        (lambda: registry_of(FakeEntryPoint("shadow", "tests.fakes.no_such_module", dist="genzoo-shadow")),
         r"from plugin 'shadow', which is installed \(genzoo-shadow 1.0\) but failed to load: ModuleNotFoundError"),
    ],
    ids=["missing", "disabled", "failed"],
)
def test_an_unavailable_loss_plugin_is_named_with_the_right_reason(installed, tmp_path, make_registry, expected):
    path = save_alpha_gan(installed(registry_of(SHADOW)), tmp_path, {**SMALL, "loss": {"reconstruction": "l1x"}})
    with pytest.raises(PluginMissingError, match=expected):
        load_model(path, registry=installed(make_registry()))


def save_shadow_vae(registry: Registry, folder: Path) -> Path:
    """A checkpoint of the shadowing plugin's ``vae`` (a tiny GAN), built through ``shadow:vae``."""
    model = registry.build_model("shadow:vae", None, (1, 8, 8))
    meta = model_metadata(model, registry.resolve("model", "shadow:vae"), dataset="x", dataset_config={},
                          data_shape=(1, 8, 8), normalisation={}, step=0)
    return save_model(folder / "model.safetensors", model, meta)


def test_a_disabled_model_plugin_is_not_reported_as_missing(installed, tmp_path):
    path = save_shadow_vae(installed(registry_of(SHADOW)), tmp_path)
    with pytest.raises(PluginMissingError, match="model 'vae' from plugin 'shadow', which is installed but disabled"):
        load_model(path, registry=installed(registry_of(SHADOW, disabled=["genzoo-shadow"])))
    # without the shadowing plugin its checkpoint never falls back to genzoo's own vae
    with pytest.raises(PluginMissingError, match="pip install 'genzoo-shadow>=0.2'"):
        load_model(path, registry=installed(registry_of()))


def test_eval_scores_on_the_data_set_of_the_plugin_the_checkpoint_names(installed, tmp_path):
    registry = installed(registry_of(SHADOW))
    torch.manual_seed(0)
    model = registry.build_model("vae", {"latent_dim": 2, "net": {"encoder_width": 4, "generator_width": 4}},
                                 (1, 28, 28))
    meta = model_metadata(model, registry.resolve("model", "vae"), dataset="shadow:mnist5k", dataset_config={},
                          data_shape=(1, 28, 28), normalisation={}, step=1,
                          dataset_entry=registry.resolve("dataset", "shadow:mnist5k"))
    path = save_model(tmp_path / "model.safetensors", model, meta)
    report = evaluate_checkpoint(path, ["sharpness"], n=8, registry=registry)
    assert report.dataset == "shadow:mnist5k" and report.n_real == 8
    # without the plugin: the install hint, as loading the model gives, not "unknown dataset"
    bare = installed(registry_of())
    with pytest.raises(PluginMissingError, match="needs dataset 'mnist5k' from plugin 'shadow', which is not "
                                                 "installed: pip install 'genzoo-shadow>=0.2'"):
        evaluate_checkpoint(path, ["sharpness"], n=8, registry=bare)


TINY_NET = {"encoder_width": 4, "generator_width": 4, "discriminator_width": 4}


def test_choosing_another_loss_drops_the_default_options_it_does_not_take(installed, tmp_path):
    registry = installed(registry_of())
    config = {"latent_dim": 2, "net": TINY_NET, "loss": {"reconstruction": "l1"}}
    model = registry.build_model("vae-gan", config, (1, 28, 28))  # its default options carry gaussian's sigma
    assert type(model.reconstruction).__name__ == "L1" and model.reconstruction.config.reduction == "sum"
    meta = model_metadata(model, registry.resolve("model", "vae-gan"), dataset="mnist5k", dataset_config={},
                          data_shape=(1, 28, 28), normalisation={}, step=1)
    loaded, _ = load_model(save_model(tmp_path / "model.safetensors", model, meta), registry=registry)
    assert type(loaded.reconstruction).__name__ == "L1"
    # an option the user gives that the chosen loss does not take is still an error
    given = {**config, "loss": {"reconstruction": "l1", "reconstruction_options": {"sigma": 0.5}}}
    with pytest.raises(Exception, match="unknown config field sigma"):
        registry.build_model("vae-gan", given, (1, 28, 28))


def test_a_loss_without_a_config_can_replace_one_with_default_options(installed):
    registry = installed(registry_of(SHADOW2))
    model = registry.build_model("vae", {"latent_dim": 2, "net": TINY_NET, "loss": {"divergence": "kl-bare"}},
                                 (1, 28, 28))
    assert type(model.divergence).__name__ == "KLNormal"


def test_a_malformed_factory_path_is_named_not_reported_as_not_installed(installed, tmp_path):
    path = save_shadow_vae(installed(registry_of(SHADOW)), tmp_path)
    broken = FakeEntryPoint("shadow", "tests.fakes.bad_factory_plugin", dist="genzoo-shadow", version="0.3")
    with pytest.raises(PluginMissingError, match=r"installed \(genzoo-shadow 0.3\) but failed to load: PluginError: "
                                                 r".*factory 'tests.fakes.tiny.TinyGAN' is not of the form"):
        load_model(path, registry=installed(registry_of(broken)))


def test_the_published_checkpoints_load_with_a_shadowing_plugin_installed(installed):
    registry = installed(registry_of(SHADOW))
    published = sorted(Path(__file__).resolve().parents[2].glob("registry/*/v*/model.safetensors"))
    assert published, "the repository's registry/ holds the reference checkpoints"
    for path in published:
        model, meta = load_model(path, registry=registry)
        assert meta["plugin"] in ("models", "metrics"), (path, meta["plugin"])
        losses = (meta.get("config") or {}).get("loss") or {}
        if losses.get("reconstruction") == "l1":  # the shadow's "l1" is a Gaussian: it must not be the one built
            assert type(model.reconstruction).__name__ == "L1", path



def test_a_loss_whose_config_has_a_required_field_builds_when_it_is_given(installed):
    registry = installed(registry_of(SHADOW2))
    config = {"latent_dim": 2, "net": TINY_NET,
              "loss": {"reconstruction": "scaled-l1", "reconstruction_options": {"scale": 0.5}}}
    model = registry.build_model("vae", config, (1, 28, 28))
    assert type(model.reconstruction).__name__ == "ScaledL1" and model.reconstruction.config.scale == 0.5
