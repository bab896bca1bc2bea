"""Spec records that plugins yield from their registration hooks.

A spec is a small frozen record: it names a component and says where its code lives, without
importing that code. The host validates every spec in one place (:func:`validate_spec`) and
imports the factory only when the component is first used, so ``genzoo --help`` and
``genzoo list`` never import model code.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from genzoo.errors import PluginError

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
FACTORY_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def import_object(path: str) -> Any:
    """Import ``"package.module:attr"`` (``attr`` may be dotted) and return the object."""
    module_name, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Spec:
    """Common fields of every spec record.

    Attributes:
        name: lower-case name users type (``gvae``, ``mnist5k``); letters, digits, ``. _ -``.
        factory: ``"pkg.module:attr"`` of the callable that builds the component; imported lazily.
        summary: one line shown by ``genzoo list``.
        config: the component's config dataclass, or ``"pkg.module:Class"`` to import it lazily,
            or ``None`` when the component takes no configuration.
        tags: free-form labels (``"gan"``, ``"3d"``, ``"needs-encoder"``) used for filtering.
    """

    kind: ClassVar[str] = "component"

    name: str
    factory: str
    summary: str
    config: type | str | None = None
    tags: tuple[str, ...] = ()

    def load(self) -> Any:
        """Import and return the factory."""
        return import_object(self.factory)

    def config_class(self) -> type | None:
        """Return the config dataclass, importing it if it was given as a string."""
        if isinstance(self.config, str):
            return import_object(self.config)
        return self.config

    def default_config(self) -> Any:
        cls = self.config_class()
        return cls() if cls is not None else None


@dataclass(frozen=True)
class ModelSpec(Spec):
    """A generative model. The factory is called as ``factory(config, data_shape)`` and returns a
    :class:`genzoo.model.GenerativeModel`.

    Attributes:
        default_steps: iterations ``genzoo run MODEL`` trains for when neither ``--steps``,
            ``--epochs`` nor a config file sets a budget (``None``: the trainer's 2000). Size it
            so the default run on the default data set takes minutes on a laptop CPU.
        presets: named sets of config overrides (dotted keys, as ``--set`` takes them), applied by
            ``genzoo run MODEL --preset NAME``; ``"paper"`` holds the settings of the model's paper,
            which ``genzoo report`` trains beside the defaults.
    """

    kind: ClassVar[str] = "model"
    default_steps: int | None = None
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class LossSpec(Spec):
    """A loss term a model composes by name. The factory is called as ``factory(config)``.

    Attributes:
        role: what the loss is for, so a model can check it was given the right kind
            (``"adversarial"``, ``"reconstruction"``, ``"divergence"``, ``"code"``).
    """

    kind: ClassVar[str] = "loss"
    role: str = "other"


#: The methods every loss of a role has (CONTRIBUTING.md states their arguments and returns);
#: ``__call__`` means the loss object itself is called, ``loss(pre_tanh, x)``.
LOSS_ROLE_METHODS: dict[str, tuple[str, ...]] = {
    "adversarial": ("discriminator_loss", "generator_loss"),
    "code": ("discriminator_loss", "encoder_loss"),
    "reconstruction": ("__call__", "per_sample", "log_prob"),
    "divergence": ("__call__", "per_sample"),
}


def missing_loss_methods(loss: Any, role: str) -> str:
    """What a built loss of ``role`` lacks, as text for an error ('' when nothing)."""
    # ``loss(...)`` looks ``__call__`` up on the type, so an instance attribute of that name does not count
    missing = [m for m in LOSS_ROLE_METHODS.get(role, ())
               if not (callable(loss) if m == "__call__" else callable(getattr(loss, m, None)))]
    return ", ".join("__call__ (the loss object is called: loss(...))" if m == "__call__" else m for m in missing)


@dataclass(frozen=True)
class DatasetSpec(Spec):
    """A data set. The factory is called as ``factory(config, split, data_dir)`` and returns a
    :class:`genzoo.data.ImageDataset`.

    Attributes:
        splits: the split names the factory accepts; the first is used for training and
            ``eval_split`` for evaluation.
        eval_split: the held-out split that evaluation scores against.
        license: license of the data itself.
        citation: how to cite it.
        obtain: how a user gets the files (URL, command), shown in errors and ``genzoo info``.
        hub_id: the Hugging Face Hub data set id the images come from (``"mnist"``), written into
            model cards' ``datasets`` and ``model-index``; empty when there is none.
    """

    kind: ClassVar[str] = "dataset"
    splits: tuple[str, ...] = ("train", "test")
    eval_split: str = "test"
    license: str = "unknown"
    citation: str = ""
    obtain: str = ""
    hub_id: str = ""


@dataclass(frozen=True)
class MetricSpec(Spec):
    """An evaluation metric. The factory is called as ``factory(config)`` and returns an object
    with ``compute(context) -> dict`` (see :mod:`genzoo.evaluation`).

    Attributes:
        higher_is_better: direction shown next to the value, or ``None`` when the metric is
            read against a reference (MS-SSIM diversity against the real-pair value).
        requires: model capabilities the metric needs (``"encoder"``); a model without them
            gets "not applicable", not an error.
    """

    kind: ClassVar[str] = "metric"
    higher_is_better: bool | None = None
    requires: tuple[str, ...] = ()


SPEC_TYPES: dict[str, type[Spec]] = {
    "model": ModelSpec,
    "loss": LossSpec,
    "dataset": DatasetSpec,
    "metric": MetricSpec,
}


def validate_spec(obj: object, expected: type[Spec]) -> Spec:
    """Check that ``obj`` is a well-formed ``expected`` record; raise :class:`PluginError` if not."""
    if not isinstance(obj, expected):
        raise PluginError(f"yielded {type(obj).__name__} {obj!r:.80}, expected a {expected.__name__}")
    if not isinstance(obj.name, str) or not NAME_PATTERN.match(obj.name):
        raise PluginError(
            f"{expected.__name__} name {obj.name!r} is invalid: use lower-case letters, digits, '.', '_' or '-'"
        )
    if not isinstance(obj.factory, str) or not FACTORY_PATTERN.match(obj.factory):
        raise PluginError(f"{obj.name}: factory {obj.factory!r} is not of the form 'package.module:attr'")
    if not isinstance(obj.summary, str) or not obj.summary.strip() or "\n" in obj.summary.strip():
        raise PluginError(f"{obj.name}: summary must be one non-empty line")
    if obj.config is not None and not isinstance(obj.config, str):
        if not (isinstance(obj.config, type) and dataclasses.is_dataclass(obj.config)):
            raise PluginError(f"{obj.name}: config must be a dataclass type or 'pkg.mod:Class'")
    if isinstance(obj.config, str) and not FACTORY_PATTERN.match(obj.config):
        raise PluginError(f"{obj.name}: config {obj.config!r} is not of the form 'package.module:Class'")
    if not isinstance(obj.tags, tuple) or not all(isinstance(t, str) for t in obj.tags):
        raise PluginError(f"{obj.name}: tags must be a tuple of strings")
    if isinstance(obj, ModelSpec):
        steps = obj.default_steps
        if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 1):
            raise PluginError(f"{obj.name}: default_steps must be a positive integer or None, got {steps!r}")
        if not isinstance(obj.presets, Mapping) or not all(
            isinstance(k, str) and isinstance(v, Mapping) and all(isinstance(key, str) for key in v)
            for k, v in obj.presets.items()
        ):
            raise PluginError(f"{obj.name}: presets must map names to {{'dotted.key': value}} tables")
    return obj


__all__ = [
    "DatasetSpec",
    "LossSpec",
    "MetricSpec",
    "ModelSpec",
    "SPEC_TYPES",
    "Spec",
    "import_object",
    "validate_spec",
]
