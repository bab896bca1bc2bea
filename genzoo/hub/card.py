"""Shareable model folders in the Hugging Face layout, and their model cards.

``genzoo export RUN_DIR OUT`` writes::

    OUT/model.safetensors   the run's final checkpoint, copied byte for byte (metadata intact)
    OUT/config.json         the checkpoint's metadata, plus the run's training config under "training"
    OUT/README.md           the model card (YAML front matter + Markdown)
    OUT/samples.png         the run's newest sample grid, if it has one
    OUT/eval.json           `genzoo eval --json` output, if the run folder has an eval.json

The folder can be uploaded to a model hub as is, or published with ``genzoo push``.
"""

from __future__ import annotations

import json
import math
import shlex
import shutil
import uuid
from pathlib import Path
from typing import Any

from genzoo.checkpoint import MODEL_FILENAME, atomic_write, describe_write_failure, read_metadata
from genzoo.config import parse_value
from genzoo.errors import CheckpointError, OutputError
from genzoo.safejson import loads_bounded
from genzoo.tensorfile import MAX_HEADER_BYTES
from genzoo.runconfig import DEFAULT_DATASET

CARD_FILENAME = "README.md"
CONFIG_FILENAME = "config.json"
SAMPLES_FILENAME = "samples.png"
EVAL_FILENAME = "eval.json"
CARD_MARKER = "<!-- genzoo model card: `genzoo push` regenerates this file -->"
DEFAULT_LICENSE = "apache-2.0"
PIPELINE_TAG = "unconditional-image-generation"
_TRAIN_FLAGS = {"steps": "--steps", "batch_size": "--batch-size", "seed": "--seed"}
_TRAIN_SKIP = {"device", "num_workers", "epochs", *_TRAIN_FLAGS}


def _set_value(value: Any) -> str:
    """``value`` as ``--set`` parses it back (TOML literals; bare words stay strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if parse_value(value) == value else json.dumps(value)
    return json.dumps(value)


def _flatten(prefix: str, values: dict[str, Any]) -> list[tuple[str, Any]]:
    items = []
    for key, value in values.items():
        if isinstance(value, dict):
            items.extend(_flatten(f"{prefix}{key}.", value))
        else:
            items.append((f"{prefix}{key}", value))
    return items


def _diff(values: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``values`` that differ from ``defaults`` (nested tables compared key by key)."""
    changed = {}
    for key, value in values.items():
        default = defaults.get(key)
        if isinstance(value, dict) and isinstance(default, dict):
            inner = _diff(value, default)
            if inner:
                changed[key] = inner
        elif key not in defaults or value != default:
            changed[key] = value
    return changed


def changed_from_defaults(kind: str, name: str, values: dict[str, Any]) -> dict[str, Any]:
    """A resolved config minus what the installed plugin's defaults already say.

    Run folders record fully resolved configs; a command or card listing every field hides the
    few that were chosen. Without the plugin installed, every field is kept (still exact).
    """
    from genzoo.config import to_dict

    try:
        from genzoo.registry import get_registry

        registry = get_registry()
        defaults = to_dict(registry.make_config(registry.get(kind, name), None))
    except Exception:  # the plugin is not installed here, or its defaults cannot be built
        return values
    return _diff(values, defaults)


def reproduce_command(run_config: dict[str, Any], out: str | None = None) -> str:
    """The ``genzoo run`` command that trains the same model again from a run's ``config.json``.

    Model and data settings are given as ``--set`` where they differ from the installed plugins'
    defaults (the card records the plugin version those defaults belong to).
    """
    from genzoo.runconfig import TrainConfig

    args = ["genzoo", "run", run_config["model"], "--dataset", run_config.get("dataset", DEFAULT_DATASET)]
    if run_config.get("data_dir"):
        args += ["--data-dir", str(run_config["data_dir"])]
    train = run_config.get("train", {})
    if train.get("epochs", 0) > 0:
        args += ["--epochs", str(train["epochs"])]
    for key, flag in _TRAIN_FLAGS.items():
        if key in train and not (key == "steps" and train.get("epochs", 0) > 0):
            args += [flag, str(train[key])]
    if train.get("device", "auto") != "auto":  # the same device gives the same numerics
        args += ["--device", str(train["device"])]
    defaults = TrainConfig().__dict__
    sets = [(f"train.{k}", v) for k, v in train.items() if k not in _TRAIN_SKIP and defaults.get(k) != v]
    dataset = run_config.get("dataset", DEFAULT_DATASET)
    sets += _flatten("", changed_from_defaults("model", run_config["model"], run_config.get("model_config", {})))
    sets += _flatten("data.", changed_from_defaults("dataset", dataset, run_config.get("data_config", {})))
    for key, value in sets:
        args += ["--set", f"{key}={_set_value(value)}"]
    if out:
        args += ["--out", out]
    return shlex.join(args)


def _dataset_spec(dataset: str) -> Any:
    try:
        from genzoo.registry import get_registry

        return get_registry().get("dataset", dataset)
    except Exception:  # the data set's plugin may be absent where the card is written
        return None


def _dataset_license(dataset: str) -> str:
    spec = _dataset_spec(dataset)
    return spec.license if spec is not None else "unknown (see the data set's plugin)"


def _yaml(value: Any) -> str:
    """A YAML scalar: JSON strings and numbers are valid YAML."""
    return json.dumps(value)


def front_matter(config: dict[str, Any], name: str, evaluation: dict[str, Any] | None, license_id: str) -> list[str]:
    """The card's YAML metadata as the Hugging Face Hub reads it: pipeline tag, data set id, model-index."""
    model, dataset = config["model"], config["dataset"]
    spec = _dataset_spec(dataset)
    hub_id = getattr(spec, "hub_id", "") or ""
    lines = [
        "---",
        f"license: {license_id}",
        "library_name: genzoo",
        f"pipeline_tag: {PIPELINE_TAG}",
        f"tags: [genzoo, generative-model, {_yaml(model)}, {_yaml(dataset)}]",
    ]
    if hub_id:
        lines.append(f"datasets: [{_yaml(hub_id)}]")
    scores = [r for r in (evaluation or {}).get("results", [])
              if r.get("status") == "ok" and isinstance(r.get("value"), (int, float)) and math.isfinite(r["value"])]
    if scores:
        lines += [
            "model-index:",
            f"- name: {_yaml(name)}",
            "  results:",
            "  - task:",
            f"      type: {PIPELINE_TAG}",
            "      name: Unconditional image generation",
            "    dataset:",
            f"      type: {_yaml(hub_id or dataset)}",
            f"      name: {_yaml(dataset + ' (' + str(evaluation.get('split')) + ' split, genzoo)')}",
            f"      split: {_yaml(evaluation.get('split'))}",
            "    metrics:",
        ]
        for result in scores:
            lines += [f"    - type: {_yaml(result['metric'])}", f"      value: {_yaml(float(result['value']))}",
                      f"      name: {_yaml(result['metric'])}"]
    return [*lines, "---"]


def _eval_rows(evaluation: dict[str, Any]) -> list[str]:
    rows = []
    for result in evaluation.get("results", []):
        if result.get("status") != "ok" or result.get("value") is None:
            continue
        better = {True: "higher", False: "lower"}.get(result.get("higher_is_better"), "vs real")  # as `genzoo eval` says
        rows.append(f"| {result['metric']} | {result['value']:.4g} | {better} |")
    return rows


def metrics_of(evaluation: dict[str, Any] | None) -> dict[str, float]:
    """``{metric: value}`` of the successful results of a ``genzoo eval --json`` report."""
    if not evaluation:
        return {}
    return {r["metric"]: float(r["value"]) for r in evaluation.get("results", [])
            if r.get("status") == "ok" and isinstance(r.get("value"), (int, float))}


def render_card(
    config: dict[str, Any],
    *,
    load_reference: str,
    evaluation: dict[str, Any] | None = None,
    has_samples: bool = False,
    license_id: str = DEFAULT_LICENSE,
    title: str | None = None,
) -> str:
    """The Markdown model card of a model folder from its ``config.json`` (and eval report)."""
    model, dataset = config["model"], config["dataset"]
    training = config.get("training") or {}
    train = training.get("train", {})
    shape = "×".join(str(d) for d in config.get("data_shape", []))
    distribution = config.get("plugin_distribution") or config["plugin"]
    needs = "genzoo (which ships this plugin) is" if distribution == "genzoo" else f"genzoo and `{distribution}` are"
    lines = [
        *front_matter(config, title or f"{model}-{dataset}", evaluation, license_id),
        CARD_MARKER,
        "",
        f"# {title or model + '-' + dataset}",
        "",
        f"A **{model}** model from the genzoo plugin `{config['plugin']}` "
        f"({config.get('plugin_distribution', '')} {config.get('plugin_version', '')}), trained with genzoo "
        f"{config.get('genzoo_version', '')} on **{dataset}** (images of shape {shape}) for {config.get('step')} steps.",
        "",
        "## How to load",
        "",
        "```bash",
        f"genzoo sample {shlex.quote(load_reference)} -n 64 -o grid.png",
        "```",
        "",
    ]
    if "/" not in load_reference:
        lines += [
            "This finds the checkpoint in genzoo's default registry; for another registry set "
            "`GENZOO_REGISTRY` to its folder or URL first, or `genzoo pull` it with `--registry`.",
            "",
        ]
    else:
        lines += ["Run it beside this folder (for example after downloading it from a model hub into "
                  f"`{load_reference}`); a run folder or the `model.safetensors` file work too.", ""]
    lines += [
        f"In Python: `import genzoo; model = genzoo.load({json.dumps(load_reference)}); images = genzoo.sample(model, 64)`. "
        f"The file is safetensors (no pickle); its metadata names the model, plugin and config, so {needs} "
        "all you need.",
        "",
        "## Training",
        "",
    ]
    if train:
        lines += ["| setting | value |", "|---|---|"]
        for key in ("steps", "epochs", "batch_size", "seed", "precision"):
            if key in train and not (key == "epochs" and not train[key]):
                lines.append(f"| {key.replace('_', ' ')} | {train[key]} |")
        overrides = _flatten("", changed_from_defaults("model", model, training.get("model_config", {})))
        chosen = ", ".join(f"`{k}={v}`" for k, v in overrides) or "none"
        lines.append(f"| model config set apart from the defaults | {chosen} |")
        lines += ["", "Reproduce it:", "", "```bash", reproduce_command(training), "```"]
    else:
        lines.append("The training config was not recorded with this checkpoint.")
    lines += ["", "## Evaluation", ""]
    rows = _eval_rows(evaluation or {})
    if rows:
        lines += [
            f"On {evaluation.get('dataset')}/{evaluation.get('split')}: {evaluation.get('n_real')} real held-out images "
            f"against {evaluation.get('n_generated')} samples, seed {evaluation.get('seed')} (`genzoo eval`).",
            "", "| metric | value | better |", "|---|---|---|", *rows,
        ]
    else:
        lines.append(f"Not evaluated yet: `genzoo eval {shlex.quote(load_reference)}` scores it on held-out data.")
    if has_samples:
        lines += ["", "## Samples", "", f"![samples from fixed noise]({SAMPLES_FILENAME})"]
    lines += [
        "", "## Model config (resolved)", "", "```json", json.dumps(config.get("config", {}), indent=2), "```",
        "", "## License", "",
        f"Weights: {license_id}. Training data ({dataset}): {_dataset_license(dataset)}.",
        "",
    ]
    return "\n".join(lines)


def read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path} is not readable ({what}): {exc.strerror or exc}") from None
    data = loads_bounded(text, f"{path} ({what})", CheckpointError, max_bytes=MAX_HEADER_BYTES)
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} is not a JSON object ({what})")
    return data


def read_eval(folder: Path) -> dict[str, Any] | None:
    """The folder's ``eval.json`` (``genzoo eval --json`` output), if it has one."""
    path = folder / EVAL_FILENAME
    if not path.is_file():
        return None
    data = read_json(path, "expected `genzoo eval --json` output")
    if not isinstance(data.get("results"), list):
        raise CheckpointError(f"{path} has no 'results' list; write it with `genzoo eval CKPT --json > {path}`")
    if data.get("model_overrides"):
        raise CheckpointError(f"{path} scores the model with changed settings ({', '.join(map(str, data['model_overrides']))}), "
                              f"not the file as shipped; write it with `genzoo eval CKPT --json > {path}` (no --model-set)")
    return data


def newest_samples(run_dir: Path) -> Path | None:
    grids = sorted((run_dir / "samples").glob("*.png"))
    return grids[-1] if grids else None


def export_run(run_dir: Path, out: Path, *, license_id: str = DEFAULT_LICENSE, name: str | None = None) -> Path:
    """Write the shareable model folder of a finished run (``OUT`` must not exist or be empty)."""
    run_dir = Path(run_dir)
    model_path = run_dir / MODEL_FILENAME if run_dir.is_dir() else run_dir
    if not model_path.is_file():
        raise CheckpointError(f"{run_dir} holds no {MODEL_FILENAME}; has the run finished?")
    meta = read_metadata(model_path)
    training, evaluation, samples = None, None, None
    if run_dir.is_dir():  # a lone checkpoint file has no run folder to describe it
        run_config_path = run_dir / CONFIG_FILENAME
        training = read_json(run_config_path, "the run's config") if run_config_path.is_file() else None
        if training is not None and "train" not in training:
            training = training.get("training")  # an exported folder's config.json
        evaluation = read_eval(run_dir)
        samples = newest_samples(run_dir)
        if samples is None and (run_dir / SAMPLES_FILENAME).is_file():
            samples = run_dir / SAMPLES_FILENAME
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CheckpointError(f"{out} already exists and is not empty; export into a new folder")
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir(parents=True)
        shutil.copyfile(model_path, staging / MODEL_FILENAME)
        config = {**meta, "training": training}
        (staging / CONFIG_FILENAME).write_text(json.dumps(config, indent=2) + "\n")
        if evaluation is not None:
            (staging / EVAL_FILENAME).write_text(json.dumps(evaluation, indent=2) + "\n")
        if samples is not None:
            shutil.copyfile(samples, staging / SAMPLES_FILENAME)
        card = render_card(config, load_reference=name or f"./{out.name}", evaluation=evaluation,
                           has_samples=samples is not None, license_id=license_id, title=name and name.split("@")[0])
        (staging / CARD_FILENAME).write_text(card)
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):  # the error's filename may be the source: say what failed to be written
            raise OutputError(f"could not export {run_dir} into {out}: {describe_write_failure(exc)}") from None
        raise
    return out


def refresh_card(folder: Path, name: str, *, license_id: str | None = None) -> None:
    """Rewrite a genzoo-generated card so that it loads the model by its registry name."""
    card = folder / CARD_FILENAME
    if card.is_file() and CARD_MARKER not in card.read_text(errors="replace"):
        return  # a card the author wrote by hand stays as it is
    config = read_json(folder / CONFIG_FILENAME, "the model folder's config")
    if license_id is None and card.is_file():
        head = card.read_text(errors="replace").split("\n", 3)
        license_id = next((line.split(":", 1)[1].strip() for line in head if line.startswith("license:")), None)
    text = render_card(config, load_reference=name, evaluation=read_eval(folder),
                       has_samples=(folder / SAMPLES_FILENAME).is_file(), license_id=license_id or DEFAULT_LICENSE,
                       title=name.split("@")[0])
    atomic_write(card, lambda tmp: tmp.write_text(text))
