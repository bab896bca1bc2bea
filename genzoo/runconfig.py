"""The resolved configuration of one training run, and how it is assembled.

Sources, later ones winning: defaults, a TOML file (``--config``), command-line flags, then
``--set key=value`` overrides. Keys starting ``train.`` go to :class:`TrainConfig`, ``data.`` to
the data set's config and ``model.`` (or no recognised prefix, e.g. ``loss.adversarial``) to the
model's config. The result is written to ``config.json`` in the run folder and into every
checkpoint. A TOML file looks like::

    model = "gvae"
    dataset = "mnist5k"
    [train]
    steps = 2000
    [model_config]
    latent_dim = 64
    [data_config]

A run's own ``config.json`` (or an exported model folder's, whose ``training`` entry is the run's
config) is accepted as a config file too, so ``--config runs/g/config.json`` repeats a run.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from genzoo.config import apply_overrides, build, doc, load_toml
from genzoo.errors import ConfigError

DEFAULT_DATASET = "mnist5k"
MAX_GRID_SIZE = 1024


@dataclass
class TrainConfig:
    """How the shared trainer runs (the ``[train]`` table)."""

    steps: int = doc(
        "Training iterations; each steps every player its `steps` times (a new run without a budget trains for "
        "the model's default_steps, see genzoo info MODEL).",
        2000,
    )
    epochs: float = doc("If > 0, train for this many passes over the data instead of `steps`.", 0.0)
    batch_size: int = doc("Images per batch per process.", 64)
    lr: float = doc("If > 0, the Adam learning rate of every player instead of the model's own (a shared lr sweep).", 0.0)
    lr_decay: float = doc(
        "Fraction of the run, at its end, over which every player's lr falls linearly towards 0 "
        "(0: constant lr; 0.5: the last half; see genzoo.lr_schedule).",
        0.0,
    )
    holdout: int = doc(
        "Hold this many training images out of training (a fixed random subset, the same for every seed) "
        "as a validation split; 0 trains on all.",
        0,
    )
    ema: float = doc(
        "Decay of the moving average of the weights that samples, checkpoints and the published model use "
        "(ramped as min(ema, (1+t)/(10+t)); see genzoo.averaging); 0 uses the live weights.",
        0.999,
    )
    seed: int = doc("Seed for weights, data order and noise; same seed, same run.", 0)
    device: str = doc("auto, cpu, cuda, cuda:N or mps.", "auto")
    precision: Literal["fp32", "bf16", "fp16"] = doc("Autocast precision; fp16 uses one GradScaler per player.", "fp32")
    compile: bool = doc("torch.compile the model's networks.", False)
    compile_backend: str = doc("torch.compile backend (inductor; eager or aot_eager to debug).", "inductor")
    compile_mode: str = doc("torch.compile mode: default, reduce-overhead or max-autotune.", "default")
    channels_last: bool = doc("Use channels_last memory format for 2D nets on CUDA.", True)
    num_workers: int = doc("DataLoader worker processes.", 0)
    log_every: int = doc("Write a metrics.jsonl line every N steps.", 25)
    sample_every: int = doc("Write a sample grid every N steps (0: only at the end).", 250)
    checkpoint_every: int = doc("Write a checkpoint every N steps (0: only at the end).", 250)
    keep_last: int = doc("Keep the newest K checkpoints (the final model is always kept).", 3)
    grid_size: int = doc("Images in each sample grid (drawn from fixed noise).", 64)

    def __post_init__(self) -> None:
        positive = ("batch_size", "log_every", "keep_last", "grid_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be at least 1")
        if self.steps < 1 and self.epochs <= 0:
            raise ValueError("train.steps must be at least 1 (or set train.epochs)")
        if self.sample_every < 0 or self.checkpoint_every < 0 or self.num_workers < 0:
            raise ValueError("train.sample_every, checkpoint_every and num_workers must be >= 0")
        if not self.lr >= 0 or self.holdout < 0:  # `not >=` also refuses NaN
            raise ValueError("train.lr and train.holdout must be >= 0")
        if not 0.0 <= self.lr_decay <= 1.0:  # also refuses NaN
            raise ValueError(f"train.lr_decay must be in [0, 1] (0 keeps the lr constant), not {self.lr_decay}")
        if not 0.0 <= self.ema < 1.0:  # also refuses NaN
            raise ValueError(f"train.ema must be in [0, 1) (0 turns the weight average off), not {self.ema}")
        if not math.isfinite(self.epochs) or self.epochs < 0:
            raise ValueError(f"train.epochs must be a finite number >= 0, not {self.epochs}")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"train.seed must be between 0 and 2^63-1, not {self.seed}")
        if self.grid_size > MAX_GRID_SIZE:
            raise ValueError(f"train.grid_size must be at most {MAX_GRID_SIZE} (it is {self.grid_size})")


@dataclass
class RunConfig:
    """Everything that defines a run."""

    model: str
    dataset: str = DEFAULT_DATASET
    data_dir: str | None = None
    train: TrainConfig = field(default_factory=TrainConfig)
    model_config: dict[str, Any] = field(default_factory=dict)
    data_config: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        return build(cls, values)

    def save(self, path: Path) -> None:
        from genzoo.checkpoint import atomic_write

        text = json.dumps(self.to_dict(), indent=2) + "\n"
        atomic_write(path, lambda tmp: tmp.write_text(text))


_PREFIXES = {"train": "train", "data": "data_config", "model": "model_config"}


def route_overrides(overrides: list[str]) -> list[str]:
    """Map user ``--set`` keys onto RunConfig paths (``loss.x=1`` -> ``model_config.loss.x=1``)."""
    routed = []
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected key=value, for example --set latent_dim=64")
        head, _, rest = key.strip().partition(".")
        if head in _PREFIXES and rest:
            routed.append(f"{_PREFIXES[head]}.{rest}={value}")
        elif head in ("model_config", "data_config") and rest:
            routed.append(item)
        else:
            routed.append(f"model_config.{key.strip()}={value}")
    return routed


def load_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML file, or a JSON run config (``config.json`` of a run or of an exported model folder)."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        return load_toml(path)
    try:
        values = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid JSON: {exc}") from None
    if isinstance(values, dict) and "train" not in values and isinstance(values.get("training"), dict):
        values = values["training"]  # an exported model folder's config.json
    if not isinstance(values, dict) or "model" not in values:
        raise ConfigError(f"config file {path} is not a genzoo run config (a JSON object with 'model', 'train', ...)")
    return values


def resolve_run_config(
    *,
    model: str | None,
    config_file: str | Path | None = None,
    flags: dict[str, Any] | None = None,
    overrides: list[str] | None = None,
    base: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    preset: str | None = None,
    registry: Any = None,
) -> RunConfig:
    """Merge ``base`` (a saved run), a TOML file, ``settings`` (the same tables from Python), a model
    preset, CLI flags and ``--set`` overrides.

    A new run (no ``base``) with no step or epoch budget anywhere trains for the model's
    ``default_steps``, and its partial nested tables are completed from the model's own defaults.
    """
    values: dict[str, Any] = json.loads(json.dumps(base or {}))
    for tables in (load_config_file(config_file) if config_file else {}, copy.deepcopy(settings or {})):
        for key, value in tables.items():
            if isinstance(value, dict) and isinstance(values.get(key), dict):
                values[key].update(value)
            else:
                values[key] = value
    if model:
        values["model"] = model
    if "model" not in values:
        raise ConfigError("no model given: genzoo run MODEL (see `genzoo list models`)")
    spec = None
    if preset or base is None:
        from genzoo.registry import get_registry

        spec = (registry or get_registry()).get("model", values["model"])
    if preset:  # after the file, before the flags and --set, as the docstring says
        presets = getattr(spec, "presets", None) or {}
        if preset not in presets:
            known = ", ".join(sorted(presets)) or "none"
            raise ConfigError(f"model '{values['model']}' has no preset {preset!r} (presets: {known})")
        values["preset"] = preset
        values = apply_overrides(values, route_overrides([f"{k}={json.dumps(v)}" for k, v in presets[preset].items()]))
    for key, value in (flags or {}).items():
        if value is None:
            continue
        if key == "epochs" and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"--epochs {value}: give a positive finite number of passes (or use --steps)")
        if key in ("dataset", "data_dir"):
            values[key] = str(value)
        else:
            values.setdefault("train", {})[key] = value
        if key == "steps":  # --steps replaces an epoch budget (a resumed run may have one)
            values["train"]["epochs"] = 0.0
    routed = route_overrides(overrides or [])
    values = apply_overrides(values, routed)
    if base is None and isinstance(values.get("model_config"), dict):
        values["model_config"] = _nested_tables_from_defaults(spec, values["model_config"], registry)
    for table in ("model_config", "data_config", "train"):
        _refuse_non_finite(values.get(table), table)
    train_values = values.setdefault("train", {})
    default_steps = getattr(spec, "default_steps", None)
    if base is None and default_steps and "steps" not in train_values and not train_values.get("epochs"):
        train_values["steps"] = default_steps
    return RunConfig.from_dict(values)


def _nested_tables_from_defaults(spec: Any, model_config: dict[str, Any], registry: Any) -> dict[str, Any]:
    """A new run's partial nested tables, completed from the model's *own* defaults.

    ``--set sampling_prior.temperature=0.8`` gives ``{"sampling_prior": {"temperature": 0.8}}``;
    built as is, the other fields would take the nested class's defaults, not the model's (vae-gan's
    prior defaults to 50 components, the class to 20). Completing them here, where only user input
    arrives, leaves stored configs alone: a run folder or checkpoint written before a field existed
    still reads that field at the class default, the behaviour it was trained with.
    """
    from genzoo.config import deep_merge, to_dict
    from genzoo.registry import get_registry

    defaults = to_dict((registry or get_registry()).make_config(spec, None))  # spec: resolved for every new run
    return {key: deep_merge(defaults[key], value) if isinstance(value, dict) and isinstance(defaults.get(key), dict) else value
            for key, value in model_config.items()}


def _refuse_non_finite(value: Any, where: str) -> None:
    """nan and inf are never a meaningful setting (a learning rate, a weight, a size)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where} is {value}; use a finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_non_finite(item, f"{where}.{key}")
    elif isinstance(value, list):
        for item in value:
            _refuse_non_finite(item, where)
