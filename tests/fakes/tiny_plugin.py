"""Hook implementations of the test-only 'tiny' plugin."""

import genzoo
from genzoo import DatasetSpec, ModelSpec


@genzoo.hookimpl
def genzoo_models():
    return [ModelSpec("tiny-gan", "tests.fakes.tiny:TinyGAN", "A tiny MLP GAN for tests",
                      config="tests.fakes.tiny:TinyGANConfig", tags=("test",))]


@genzoo.hookimpl
def genzoo_datasets():
    return [DatasetSpec("tiny-blobs", "tests.fakes.tiny:blobs", "Random 8x8 images for tests",
                        config="tests.fakes.tiny:BlobsConfig", license="CC0", hub_id="tiny-blobs-hub",
                        tags=("embedded",))]
