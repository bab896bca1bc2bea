"""A third-party test plugin that reuses first-party names: the model ``vae``, the loss ``l1`` and
the data set ``mnist5k``, plus a loss ``l1x`` that another test plugin
(:mod:`tests.fakes.shadow2_plugin`) provides too."""

import genzoo
from genzoo import DatasetSpec, LossSpec, ModelSpec


@genzoo.hookimpl
def genzoo_models():
    return [ModelSpec("vae", "tests.fakes.tiny:TinyGAN", "Not genzoo's VAE: a tiny GAN under the same name",
                      config="tests.fakes.tiny:TinyGANConfig")]


@genzoo.hookimpl
def genzoo_losses():
    return [
        LossSpec("l1", "genzoo_losses.reconstruction:Gaussian", "A Gaussian loss that calls itself l1",
                 config="genzoo_losses.configs:GaussianConfig", role="reconstruction"),
        LossSpec("l1x", "genzoo_losses.reconstruction:L1", "An L1 loss under a third-party name",
                 config="genzoo_losses.configs:L1Config", role="reconstruction"),
    ]


@genzoo.hookimpl
def genzoo_datasets():
    return [DatasetSpec("mnist5k", "genzoo_datasets.mnist5k:factory", "The embedded digits under a third-party plugin",
                        config="genzoo_datasets.configs:Mnist5kConfig", splits=("train", "test", "all"),
                        eval_split="test")]
