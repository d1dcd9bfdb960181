import math

import pytest
import torch

from cyclegan.losses import adversarial_loss, cycle_loss, identity_loss


def test_lsgan_is_mean_squared_distance_to_target():
    s = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    assert adversarial_loss(s, True, "lsgan").item() == pytest.approx((1 + 0 + 1 + 4) / 4)
    assert adversarial_loss(s, False, "lsgan").item() == pytest.approx((0 + 1 + 4 + 1) / 4)


def test_vanilla_is_cross_entropy_on_logits():
    s = torch.tensor([0.0, 2.0])
    real = (-math.log(0.5) - math.log(1 / (1 + math.exp(-2)))) / 2
    assert adversarial_loss(s, True, "vanilla").item() == pytest.approx(real, rel=1e-6)
    fake = (-math.log(0.5) - math.log(1 - 1 / (1 + math.exp(-2)))) / 2
    assert adversarial_loss(s, False, "vanilla").item() == pytest.approx(fake, rel=1e-6)


def test_cycle_and_identity_are_mean_absolute_error():
    a = torch.zeros(1, 3, 2, 2)
    b = torch.full((1, 3, 2, 2), 0.5)
    assert cycle_loss(a, b).item() == pytest.approx(0.5)
    assert identity_loss(b, b).item() == 0
