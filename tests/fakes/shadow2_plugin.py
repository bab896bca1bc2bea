"""A second third-party test plugin that also provides the loss ``l1x`` (see shadow_plugin)."""

import genzoo
from genzoo import LossSpec


@genzoo.hookimpl
def genzoo_losses():
    return [LossSpec("l1x", "genzoo_losses.reconstruction:Gaussian", "Another l1x",
                     config="genzoo_losses.configs:GaussianConfig", role="reconstruction")]
