"""A second third-party test plugin that also provides the loss ``l1x`` (see shadow_plugin), and a
divergence ``kl-bare`` without a config (so it takes no options, not even ``reduction``) and a
reconstruction ``scaled-l1`` whose config has a required field."""

from dataclasses import dataclass

import genzoo
from genzoo import LossSpec
from genzoo_losses.reconstruction import L1


@dataclass
class ScaledL1Config:
    scale: float  # required (no default): a config class may have such fields
    reduction: str = "sum"


class ScaledL1(L1):
    def __init__(self, config: ScaledL1Config) -> None:
        super().__init__(config)


@genzoo.hookimpl
def genzoo_losses():
    return [LossSpec("l1x", "genzoo_losses.reconstruction:Gaussian", "Another l1x",
                     config="genzoo_losses.configs:GaussianConfig", role="reconstruction"),
            LossSpec("kl-bare", "genzoo_losses.divergence:KLNormal", "A KL without a config", role="divergence"),
            LossSpec("scaled-l1", "tests.fakes.shadow2_plugin:ScaledL1", "An L1 whose config has a required field",
                     config="tests.fakes.shadow2_plugin:ScaledL1Config", role="reconstruction")]
