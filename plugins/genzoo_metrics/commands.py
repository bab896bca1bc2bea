"""CLI commands of the metrics plugin: ``genzoo train-classifier`` and ``genzoo report``.

Only typer is imported at module level; torch and the metric code load inside the commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer


def train_classifier_command(
    dataset: str = typer.Option("mnist5k", "--dataset", "-d", help="Data set to train on."),
    split: Optional[str] = typer.Option(None, "--split", help="Training split (default: the data set's first)."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Folder of the training data."),
    eval_dataset: Optional[str] = typer.Option(
        None, "--eval-dataset", help="Data set the accuracy is measured on (default: the training data set)."
    ),
    eval_split: Optional[str] = typer.Option(None, "--eval-split", help="Its split (default: its eval split)."),
    eval_data_dir: Optional[str] = typer.Option(None, "--eval-data-dir", help="Folder of the evaluation data."),
    epochs: int = typer.Option(40, "--epochs", help="Passes over the training split."),
    batch_size: int = typer.Option(64, "--batch-size"),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate (cosine-decayed)."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto (default), cpu, cuda, cuda:N or mps."),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Output .safetensors (default: $GENZOO_CACHE_DIR/feature-nets/DATASET.safetensors)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Train the FID/KID feature network: a LeNet-5 classifier on labelled data, or a small
    autoencoder on unlabelled data (Pancreas-CT); saved as safetensors with its test score."""
    from genzoo import __version__
    from genzoo.evaluation import dataset_images
    from genzoo.registry import get_registry
    from genzoo.trainer import resolve_device
    from genzoo_metrics.classifier import (
        accuracy,
        reconstruction_mse,
        save_feature_net,
        train_feature_net,
        user_weights_dir,
    )

    registry = get_registry()
    spec = registry.get("dataset", dataset)
    split = split or spec.splits[0]
    eval_name = eval_dataset or dataset
    eval_spec = registry.get("dataset", eval_name)
    eval_split = eval_split or eval_spec.eval_split
    if eval_name == dataset and (split == eval_split or split == "all"):
        print(
            f"genzoo: warning: evaluating on {dataset}/{eval_split}, which overlaps the training split {split}",
            file=sys.stderr,
        )
    train_images, train_labels = dataset_images(registry.build_dataset(dataset, None, split, data_dir))
    test_images, test_labels = dataset_images(
        registry.build_dataset(
            eval_name, None, eval_split, eval_data_dir if eval_dataset else (eval_data_dir or data_dir)
        )
    )

    def progress(epoch: int, total: int, loss: float) -> None:
        print(f"epoch {epoch}/{total}  loss {loss:.4f}", file=sys.stderr)

    net = train_feature_net(
        train_images,
        train_labels,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=str(resolve_device(device)),
        progress=progress,
    )
    meta = {
        "dataset": dataset,
        "split": split,
        "train_size": len(train_images),
        "eval_dataset": eval_name,
        "eval_split": eval_split,
        "epochs": epochs,
        "seed": seed,
        "genzoo_version": __version__,
        "recipe": f"Adam lr={lr} cosine, batch {batch_size}, affine jitter (2 px, 0.9-1.1, 10 deg)",
    }
    if train_labels is not None:
        if test_labels is None:
            raise typer.BadParameter(f"{eval_name}/{eval_split} has no labels to measure accuracy on")
        meta["test_accuracy"] = round(accuracy(net, test_images, test_labels), 5)
    else:
        meta["test_mse"] = round(reconstruction_mse(net, test_images), 6)
    target = out or user_weights_dir() / f"{dataset}.safetensors"
    save_feature_net(target, net, meta)
    result = {"path": str(target), "kind": net.kind, **meta}
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        score = (
            f"accuracy {meta['test_accuracy']:.2%}"
            if "test_accuracy" in meta
            else f"thumbnail MSE {meta['test_mse']:.5f}"
        )
        print(
            f"{net.kind} trained on {dataset}/{split} ({len(train_images)} images): {score} on {eval_name}/{eval_split}"
        )
        print(f"saved {target}")


def register(app: typer.Typer) -> None:
    """Add the plugin's commands to the root app."""
    from genzoo_metrics.report_command import report_command

    app.command("train-classifier")(train_classifier_command)
    app.command("report")(report_command)
