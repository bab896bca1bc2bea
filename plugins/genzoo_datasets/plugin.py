"""Entry module of the first-party datasets plugin: registers specs and ``genzoo data`` commands.

Imports nothing heavy: factories and configs are named as strings and loaded on first use.
"""

from __future__ import annotations

from typing import Any

from genzoo.hookspecs import hookimpl
from genzoo.specs import DatasetSpec

MNIST_CITATION = (
    "Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-based learning applied to document recognition. "
    "Proc. IEEE 86(11), 1998."
)
FASHION_CITATION = (
    "H. Xiao, K. Rasul, R. Vollgraf. Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning "
    "Algorithms. arXiv:1708.07747, 2017."
)
PANCREAS_CITATION = (
    "H. R. Roth, A. Farag, E. B. Turkbey, L. Lu, J. Liu, R. M. Summers. Data from Pancreas-CT. "
    "The Cancer Imaging Archive, 2016. https://doi.org/10.7937/K9/TCIA.2016.tNB1kqBU"
)


@hookimpl
def genzoo_datasets() -> list[DatasetSpec]:
    """The first-party data sets."""
    return [
        DatasetSpec(
            name="mnist5k",
            factory="genzoo_datasets.mnist5k:factory",
            summary="5,000 real MNIST training digits shipped inside genzoo (default; no network)",
            config="genzoo_datasets.configs:Mnist5kConfig",
            tags=("2d", "grayscale", "labelled", "embedded"),
            splits=("train", "test", "all"),
            eval_split="test",
            license="CC BY-SA 3.0 (MNIST)",
            citation=MNIST_CITATION,
            obtain="nothing: genzoo_datasets/data/mnist5k.u8.gz ships in the wheel (sha256-checked)",
            hub_id="mnist",
        ),
        DatasetSpec(
            name="mnist",
            factory="genzoo_datasets.idx:mnist_factory",
            summary="MNIST handwritten digits (60,000 train / 10,000 test) from IDX files",
            config="genzoo_datasets.configs:IdxConfig",
            tags=("2d", "grayscale", "labelled"),
            splits=("train", "test"),
            eval_split="test",
            license="CC BY-SA 3.0",
            citation=MNIST_CITATION,
            obtain="downloaded through torchvision, or put {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz "
            "from https://ossci-datasets.s3.amazonaws.com/mnist/ in --data-dir",
            hub_id="mnist",
        ),
        DatasetSpec(
            name="fashion-mnist",
            factory="genzoo_datasets.idx:fashion_mnist_factory",
            summary="Fashion-MNIST clothing images (60,000 train / 10,000 test) from IDX files",
            config="genzoo_datasets.configs:IdxConfig",
            tags=("2d", "grayscale", "labelled"),
            splits=("train", "test"),
            eval_split="test",
            license="MIT",
            citation=FASHION_CITATION,
            obtain="downloaded through torchvision, or put {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz "
            "from https://github.com/zalandoresearch/fashion-mnist in --data-dir",
            hub_id="fashion_mnist",
        ),
        DatasetSpec(
            name="pancreas",
            factory="genzoo_datasets.pancreas.dataset:factory",
            summary="TCIA Pancreas-CT abdominal CT from DICOM: 2D axial slices or 3D volumes in HU windows",
            config="genzoo_datasets.configs:PancreasConfig",
            tags=("2d", "3d", "ct", "medical", "dicom", "unlabelled"),
            splits=("train", "test"),
            eval_split="test",
            license="CC BY 3.0 (TCIA Pancreas-CT)",
            citation=PANCREAS_CITATION,
            obtain="download with the NBIA Data Retriever from https://doi.org/10.7937/K9/TCIA.2016.tNB1kqBU "
            "and pass the folder as --data-dir (or try `genzoo data synth-ct OUT` for a synthetic collection)",
        ),
    ]


@hookimpl
def genzoo_commands(app: Any, groups: dict[str, Any]) -> None:
    """Add ``genzoo data prepare`` and ``genzoo data synth-ct``."""
    from genzoo_datasets.commands import register

    register(groups["data"])
