"""A test plugin whose model factory path is malformed (a dot where the colon belongs)."""

import genzoo
from genzoo import ModelSpec


@genzoo.hookimpl
def genzoo_models():
    return [ModelSpec("vae", "tests.fakes.tiny.TinyGAN", "A malformed factory path",
                      config="tests.fakes.tiny:TinyGANConfig")]
