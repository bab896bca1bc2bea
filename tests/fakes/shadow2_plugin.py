"""A second third-party test plugin that also provides the loss ``l1x`` (see shadow_plugin), and a
divergence ``kl-bare`` without a config (so it takes no options, not even ``reduction``)."""

import genzoo
from genzoo import LossSpec


@genzoo.hookimpl
def genzoo_losses():
    return [LossSpec("l1x", "genzoo_losses.reconstruction:Gaussian", "Another l1x",
                     config="genzoo_losses.configs:GaussianConfig", role="reconstruction"),
            LossSpec("kl-bare", "genzoo_losses.divergence:KLNormal", "A KL without a config", role="divergence")]
