"""The plugin host: discovery, isolation of every failure mode, names, disable and strict modes."""

from __future__ import annotations

import pytest

import genzoo
from genzoo import DatasetSpec, LossSpec, ModelSpec
from genzoo.errors import AmbiguousNameError, UnknownNameError
from genzoo.plugins import PluginHost
from genzoo.registry import Registry
from tests.conftest import FakeEntryPoint, make_module


def model_spec(name="m1", summary="A model"):
    return ModelSpec(name, "tests.fakes.tiny:TinyGAN", summary, config="tests.fakes.tiny:TinyGANConfig")


def good_module(name="good", models=("m1",)):
    @genzoo.hookimpl
    def genzoo_models():
        return [model_spec(m) for m in models]

    return make_module(name, genzoo_models=genzoo_models)


def host_of(*entry_points, **kwargs):
    lines: list[str] = []
    kwargs.setdefault("strict", False)
    kwargs.setdefault("disabled", ())
    host = PluginHost(list(entry_points), warn=lines.append, **kwargs)
    return host, lines


def test_good_plugin_is_listed_with_its_distribution():
    host, lines = host_of(FakeEntryPoint("good", good_module(), dist="genzoo-good", version="2.1"))
    (record,) = host.plugins()
    assert (record.name, record.distribution, record.version, record.status) == ("good", "genzoo-good", "2.1", "ok")
    assert [spec.name for _, spec in host.specs("model")] == ["m1"]
    assert lines == []


def broken_import():
    raise ImportError("No module named 'torchh'")


@pytest.mark.parametrize(
    "target, expected",
    [
        (broken_import, "ImportError: No module named 'torchh'"),
        (make_module("raising", genzoo_models=genzoo.hookimpl(lambda: 1 / 0)), "ZeroDivisionError"),
        (make_module("notspec", genzoo_models=genzoo.hookimpl(lambda: ["gvae"])), "expected a ModelSpec"),
        (make_module("badname", genzoo_models=genzoo.hookimpl(lambda: [model_spec("Bad Name")])), "name 'Bad Name' is invalid"),
        (make_module("badfactory", genzoo_models=genzoo.hookimpl(
            lambda: [ModelSpec("x", "not-a-path", "s")])), "factory 'not-a-path'"),
        (make_module("wrongkind", genzoo_models=genzoo.hookimpl(
            lambda: [LossSpec("x", "a.b:c", "s")])), "expected a ModelSpec"),
        (make_module("notlist", genzoo_models=genzoo.hookimpl(lambda: model_spec())), "must return a list"),
    ],
    ids=["import-error", "raising-hook", "not-a-spec", "bad-name", "bad-factory", "wrong-kind", "not-a-list"],
)
def test_broken_plugin_is_isolated_with_one_warning(target, expected):
    host, lines = host_of(
        FakeEntryPoint("broken", target, dist="genzoo-broken", version="0.3"),
        FakeEntryPoint("good", good_module()),
    )
    records = {r.name: r for r in host.plugins()}
    assert records["broken"].status == "failed"
    assert expected in records["broken"].error
    assert records["good"].status == "ok"
    assert [spec.name for _, spec in host.specs("model")] == ["m1"]
    assert len(lines) == 1
    assert "plugin 'broken' (genzoo-broken 0.3)" in lines[0] and expected in lines[0]


def test_unknown_hook_fails_the_plugin():
    @genzoo.hookimpl
    def genzoo_samplers():
        return []

    module = make_module("future", genzoo_samplers=genzoo_samplers, genzoo_models=good_module().genzoo_models)
    host, lines = host_of(FakeEntryPoint("future", module))
    assert host.plugins()[0].status == "failed"
    assert "unknown hook(s) genzoo_samplers" in lines[0]
    assert host.specs("model") == []


def test_half_registration_is_rolled_back():
    """Models registered by a plugin whose dataset hook raises must disappear too."""

    @genzoo.hookimpl
    def genzoo_datasets():
        raise RuntimeError("dataset hook exploded")

    module = make_module("half", genzoo_models=good_module().genzoo_models, genzoo_datasets=genzoo_datasets)
    host, lines = host_of(FakeEntryPoint("half", module))
    assert host.specs("model") == [] and host.specs("dataset") == []
    assert "dataset hook exploded" in lines[0]


def test_duplicate_names_are_qualified_and_bare_name_is_ambiguous():
    host, _ = host_of(FakeEntryPoint("alpha", good_module("a")), FakeEntryPoint("beta", good_module("b")))
    registry = Registry(host)
    assert registry.names("model") == ["alpha:m1", "beta:m1"]
    assert registry.resolve("model", "beta:m1").plugin.name == "beta"
    with pytest.raises(AmbiguousNameError, match="'alpha:m1' and 'beta:m1'"):
        registry.resolve("model", "m1")


def test_unknown_name_suggests_close_matches():
    host, _ = host_of(FakeEntryPoint("good", good_module(models=("gvae", "vae"))))
    with pytest.raises(UnknownNameError, match=r"unknown model 'gvea'; did you mean 'gvae'"):
        Registry(host).resolve("model", "gvea")


@pytest.mark.parametrize("disabled", ["skipme", "genzoo-skip"])
def test_disable_by_entry_point_or_distribution(disabled):
    host, lines = host_of(
        FakeEntryPoint("skipme", good_module("s", models=("hidden",)), dist="genzoo-skip"),
        FakeEntryPoint("good", good_module()),
        disabled=[disabled],
    )
    assert {r.name: r.status for r in host.plugins()} == {"skipme": "disabled", "good": "ok"}
    assert Registry(host).names("model") == ["m1"]
    assert lines == []


def test_disable_from_environment(monkeypatch):
    monkeypatch.setenv("GENZOO_DISABLE_PLUGINS", "other, skipme")
    host = PluginHost([FakeEntryPoint("skipme", good_module())], strict=False, warn=lambda _: None)
    assert host.plugins()[0].status == "disabled"


def test_strict_mode_reraises(monkeypatch):
    monkeypatch.setenv("GENZOO_STRICT_PLUGINS", "1")
    with pytest.raises(ImportError, match="torchh"):
        PluginHost([FakeEntryPoint("broken", broken_import)], disabled=())


def test_dataset_spec_fields_and_lazy_factory():
    spec = DatasetSpec("d", "tests.fakes.tiny:blobs", "data", config="tests.fakes.tiny:BlobsConfig", license="CC0")
    assert spec.load().__name__ == "blobs"
    assert spec.default_config().size == 96
    assert spec.splits == ("train", "test") and spec.license == "CC0"


def test_commands_hook_adds_commands_and_rolls_back_on_error():
    import typer

    @genzoo.hookimpl
    def genzoo_commands(app, groups):
        @groups["data"].command("hello")
        def hello():
            print("hi")

    @genzoo.hookimpl(specname="genzoo_commands")
    def bad_commands(app):
        app.command("half")(lambda: None)
        raise RuntimeError("command hook broke")

    host, lines = host_of(
        FakeEntryPoint("cmds", make_module("cmds", genzoo_commands=genzoo_commands)),
        FakeEntryPoint("badcmds", make_module("badcmds", bad_commands=bad_commands)),
    )
    app, data = typer.Typer(), typer.Typer()
    host.add_commands(app, {"data": data})
    assert [c.name for c in data.registered_commands] == ["hello"]
    assert app.registered_commands == []
    assert "command hook broke" in lines[0]
    assert {r.name: r.status for r in host.plugins()}["badcmds"] == "failed"


def test_hook_functions_without_the_decorator_fail_the_plugin_with_a_warning():
    def genzoo_models():  # no @genzoo.hookimpl: pluggy would ignore it
        return [model_spec()]

    host, lines = host_of(FakeEntryPoint("plain", make_module("plain", genzoo_models=genzoo_models)))
    assert host.plugins()[0].status == "failed"
    assert "genzoo_models lack(s) the @genzoo.hookimpl decorator" in lines[0]


def test_an_unknown_name_in_disable_is_warned_about():
    host, lines = host_of(FakeEntryPoint("good", good_module(), dist="genzoo-good"), disabled=["goood", "genzoo-good"])
    assert host.plugins()[0].status == "disabled"
    assert len(lines) == 1
    assert "GENZOO_DISABLE_PLUGINS names 'goood', which is no installed plugin or distribution (plugins: good)" in lines[0]


def test_dir_and_help_list_the_lazily_loaded_public_names():
    import pydoc

    assert {"GenerativeModel", "Player", "ImageDataset", "TensorImageDataset", "get_registry"} <= set(dir(genzoo))
    assert set(genzoo.__all__) <= set(dir(genzoo))
    assert "GenerativeModel" in pydoc.render_doc(genzoo, renderer=pydoc.plaintext)
