"""DiffAugment's translation: an exact per-sample shift with edge fill, differentiable, 2-D and 3-D,
and wgan-gp's critic sees it on real and generated images alike."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from genzoo.registry import get_registry
from genzoo_models.augment import augment, translate


def _crops(x: torch.Tensor, pads: list[int]) -> list[torch.Tensor]:
    """Every shifted copy of one sample (C, *spatial) that ``translate`` may return."""
    padded = F.pad(x[None], [p for pad in reversed(pads) for p in (pad, pad)], mode="replicate")[0]
    spatial = x.shape[1:]
    crops = []
    for offsets in itertools.product(*(range(2 * p + 1) for p in pads)):
        index = (slice(None), *(slice(o, o + s) for o, s in zip(offsets, spatial)))
        crops.append(padded[index])
    return crops


@pytest.mark.parametrize("shape,pads", [((1, 16, 16), [2, 2]), ((2, 8, 12, 16), [1, 2, 2])])
def test_translation_is_a_shift_with_edge_fill_per_sample(shape, pads) -> None:
    torch.manual_seed(0)
    x = torch.randn(24, *shape)  # distinct values: a crop is identified exactly
    y = translate(x)
    assert y.shape == x.shape
    unshifted = 0
    for sample, out in zip(x, y):
        matches = [torch.equal(out, crop) for crop in _crops(sample, pads)]
        assert sum(matches) == 1  # one of the allowed shifts, never anything else
        unshifted += matches[len(matches) // 2]  # the middle offset is no shift
    assert unshifted < len(x) // 2  # offsets differ per sample; most are moved


def test_translation_passes_gradients_and_none_is_the_identity() -> None:
    x = torch.randn(4, 1, 16, 16, requires_grad=True)
    translate(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert augment(x, "none") is x
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment(x, "rotation")


def test_wgan_gp_critic_sees_translated_real_and_generated_images() -> None:
    tiny = {"net": {"generator_width": 4, "discriminator_width": 4, "max_width": 16}, "latent_dim": 8}
    registry = get_registry()
    plain = registry.build_model("wgan-gp", tiny, (1, 28, 28))
    shifted = registry.build_model("wgan-gp", {**tiny, "augment": "translation"}, (1, 28, 28))
    shifted.load_state_dict(plain.state_dict())
    seen: list[torch.Tensor] = []
    shifted.critic.register_forward_pre_hook(lambda _module, args: seen.append(args[0].detach()))
    batch = torch.rand(8, 1, 28, 28) * 2 - 1
    torch.manual_seed(1)
    terms = shifted("critic", batch)
    torch.manual_seed(1)
    assert not torch.equal(terms["loss"], plain("critic", batch)["loss"])
    assert not any(torch.equal(images, batch) for images in seen)  # real images reach it shifted
    generator_loss = shifted("generator", batch)["loss"]
    generator_loss.backward()
    assert all(p.grad is not None for p in shifted.generator.parameters())  # through the shift
