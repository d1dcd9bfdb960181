"""The fp32 CPU fast paths of #23: fused layer forms compute what the plain layers do (float64, tiny shapes) with
the same state_dict, and the two-lane CycleGAN step computes what the one-thread-of-work step does and
resumes exactly."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from cyclegan import execution as ex
from cyclegan.config import resolve
from cyclegan.execution import Execution, choose_execution
from cyclegan.models import build_networks, fused
from cyclegan.models.fused import (
    EntryConv2d,
    GroupInstanceNorm,
    SubpixelUpConv,
    ThinConv2d,
    WinogradConv2d,
    fuse_layers,
    winograd_conv3x3,
)
from cyclegan.models.patchgan import PatchGANDiscriminator
from cyclegan.models.resnet import ResnetGenerator
from cyclegan.train.cyclegan import CycleGANTrainer

CPU = torch.device("cpu")
TINY = {"ngf": 8, "ndf": 8, "n_blocks": 1, "size": 16, "d_layers": 2, "upsample": "resize", "spectral_norm": False}


def _forward_backward(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    x = x.clone().requires_grad_(True)
    out = net(x)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(3), dtype=out.dtype)
    (out * weights).sum().backward()  # a loss that weighs every output differently
    return out.detach(), [x.grad, *(p.grad for p in net.parameters())]


@pytest.mark.parametrize(
    "build",
    [
        lambda: ResnetGenerator(ngf=8, n_blocks=1, upsample="resize"),
        lambda: ResnetGenerator(ngf=8, n_blocks=1, upsample="resize", padding="zeros"),  # zero-padded sub-pixel form
        # dilated blocks: their pads (2 px) fold into the dilated convs, which stay plain (not Winograd)
        lambda: ResnetGenerator(ngf=8, n_blocks=1, upsample="resize", padding="zeros", block_dilation=2),
        lambda: PatchGANDiscriminator(ndf=8, n_layers=2),  # its last conv (16 -> 1, 4x4, padding 1) is thin
    ],
)
def test_fused_layers_compute_the_plain_layers_in_float64(build):
    torch.manual_seed(0)
    plain = build().double()
    fast = fuse_layers(copy.deepcopy(plain))
    kinds = {type(m) for m in fast.modules()}
    assert GroupInstanceNorm in kinds and ThinConv2d in kinds
    assert (SubpixelUpConv in kinds) == (EntryConv2d in kinds) == isinstance(plain, ResnetGenerator)
    assert nn.ZeroPad2d not in kinds  # zero pads folded into the convs after them
    x = torch.rand(2, 3, 16, 20, dtype=torch.float64) * 2 - 1  # not square: rows and columns kept apart
    out_a, grads_a = _forward_backward(plain, x)
    out_b, grads_b = _forward_backward(fast, x)
    torch.testing.assert_close(out_b, out_a, rtol=0, atol=1e-10)
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-9)


def test_the_channels_last_forms_compute_the_plain_convs_in_bf16_and_return_nchw(monkeypatch):
    # The entry conv computes on a channels-last copy under bf16 autocast only, the thin conv always; both hand
    # NCHW on, and compute what the plain conv does (to bf16 rounding).
    channels_last = []  # per conv call: was its input channels-last?
    for name in ("conv2d", "conv_transpose2d"):
        real = getattr(torch.nn.functional, name)

        def spy(x, *args, _real=real, **kwargs):
            channels_last.append(x.is_contiguous(memory_format=torch.channels_last))
            return _real(x, *args, **kwargs)

        monkeypatch.setattr(torch.nn.functional, name, spy)
    torch.manual_seed(4)
    for plain, shape in ((nn.Conv2d(3, 16, 7), (2, 3, 20, 22)), (nn.Conv2d(16, 3, 7), (2, 16, 20, 22))):
        fast = fuse_layers(nn.Sequential(copy.deepcopy(plain)))[0]
        assert type(fast) is (EntryConv2d if plain.in_channels == 3 else ThinConv2d)
        x = torch.rand(shape) * 2 - 1
        results = []
        for net in (plain, fast):
            channels_last.clear()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                xi = x.clone().requires_grad_(True)
                out = net(xi)
            assert channels_last == [net is fast]
            assert out.is_contiguous() and out.dtype == torch.bfloat16
            out.float().square().sum().backward()
            results.append([out.float(), xi.grad, net.weight.grad])
            net.zero_grad()
        for a, b in zip(*results):
            torch.testing.assert_close(b, a, rtol=0, atol=0.02 * a.abs().max().item())
        channels_last.clear()
        fast(x)  # in fp32 neither goes channels-last: the entry conv computes plainly, the thin conv by rows
        assert channels_last == [False]


def test_a_trained_state_dict_loads_unchanged_into_the_fused_form():
    torch.manual_seed(1)
    trained = ResnetGenerator(ngf=8, n_blocks=1, upsample="resize")
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # weights no initialisation gives
    state = trained.state_dict()
    fast = fuse_layers(ResnetGenerator(ngf=8, n_blocks=1, upsample="resize"))
    assert list(fast.state_dict()) == list(state)
    fast.load_state_dict(state)  # strict: same keys, same shapes
    for k, v in fast.state_dict().items():
        assert torch.equal(v, state[k]), k
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(fast(x), trained(x), rtol=0, atol=1e-5)


def test_plain_layers_restores_the_plain_generator_and_leaves_the_random_stream_alone():
    """`plain_layers` (the export's tracing of a trainer's fused G) built its plain decoder conv with a fresh
    initialisation drawn from torch's global random stream: exporting from Python mid-run changed every later draw
    of the training. Now the stream is untouched, and the plain generator computes and stores what it did."""
    torch.manual_seed(1)
    plain = ResnetGenerator(ngf=8, n_blocks=1, upsample="resize").eval()
    fast = fuse_layers(copy.deepcopy(plain))
    assert any(isinstance(m, SubpixelUpConv) for m in fast.modules())
    state = torch.random.get_rng_state()
    back = fused.plain_layers(fast)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert [type(m) for m in back.modules()] == [type(m) for m in plain.modules()]
    for (k, v), (k0, v0) in zip(back.state_dict().items(), plain.state_dict().items(), strict=True):
        assert k == k0 and torch.equal(v, v0), k
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(back(x), plain(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "c_in, c_out, kernel, padding, size",
    [
        (8, 3, (7, 7), (0, 0), (13, 16)),  # a generator's last conv after its reflection padding: by rows
        (8, 2, (5, 3), (2, 1), (9, 7)),  # padded, not square: rows and columns kept apart
        (3, 8, (7, 7), (0, 0), (12, 11)),  # an entry conv: its input gradient by rows
        (3, 8, (4, 4), (1, 1), (7, 8)),  # padded, an even kernel
    ],
)
@pytest.mark.parametrize("needs", ["all", "weights", "input"])
def test_the_row_forms_compute_the_plain_conv_and_its_gradients_in_float64(c_in, c_out, kernel, padding, size, needs):
    # The thin conv's rows form (O KH >= 8: each kernel row an output channel) and the entry conv's input
    # gradient by rows: the same sums as F.conv2d, whichever of input, weight and bias need a gradient.
    gen = torch.Generator().manual_seed(c_in * 10 + c_out)
    plain = nn.Conv2d(c_in, c_out, kernel, padding=padding).double()
    fast = fuse_layers(nn.Sequential(copy.deepcopy(plain)))[0]
    assert type(fast) is (ThinConv2d if c_in > 4 else EntryConv2d)
    x = torch.randn(2, c_in, *size, generator=gen, dtype=torch.float64)
    results = []
    for net in (plain, fast):
        xi = x.clone().requires_grad_(needs != "weights")
        net.requires_grad_(needs != "input")
        out = net(xi)
        g = torch.randn(out.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
        leaves = [t for t in (xi, net.weight, net.bias) if t.requires_grad]
        results.append([out.detach(), *torch.autograd.grad(out, leaves, g)])
    assert len(results[0]) == {"all": 4, "weights": 3, "input": 2}[needs]
    for a, b in zip(*results):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-10)


@pytest.mark.parametrize("shape", [(2, 5, 10, 12), (1, 3, 7, 9), (1, 2, 3, 3)])  # even, odd and one-pixel outputs
@pytest.mark.parametrize("with_bias", [True, False])
def test_winograd_conv_computes_the_direct_conv_and_its_gradients_in_float64(shape, with_bias):
    gen = torch.Generator().manual_seed(sum(shape))
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    w = torch.randn(4, shape[1], 3, 3, generator=gen, dtype=torch.float64)
    b = torch.randn(4, generator=gen, dtype=torch.float64) if with_bias else None
    g = torch.randn(shape[0], 4, shape[2] - 2, shape[3] - 2, generator=gen, dtype=torch.float64)
    results = []
    for conv in (torch.nn.functional.conv2d, winograd_conv3x3):
        leaves = [t.clone().requires_grad_(True) for t in (x, w) + ((b,) if with_bias else ())]
        out = conv(*leaves[:2], leaves[2] if with_bias else None)
        (out * g).sum().backward()
        results.append([out.detach(), *(t.grad for t in leaves)])
    for a, c in zip(*results):
        torch.testing.assert_close(c, a, rtol=0, atol=1e-10)


def test_wide_convs_compute_by_winograd_where_it_pays_and_directly_elsewhere(monkeypatch):
    torch.manual_seed(2)
    plain = ResnetGenerator(ngf=32, n_blocks=1).double()  # 128 channels in the residual block
    fast = fuse_layers(copy.deepcopy(plain))
    wide = [m for m in fast.modules() if isinstance(m, WinogradConv2d)]
    assert len(wide) == 2  # the residual block's two convs; not the 7x7, strided or transposed ones
    calls = []
    original = fused.winograd_conv3x3
    monkeypatch.setattr(fused, "winograd_conv3x3", lambda *a: calls.append(a[0].shape) or original(*a))
    x = torch.rand(1, 3, 128, 128, dtype=torch.float64) * 2 - 1  # 32x32 in the block: Winograd
    out_a, grads_a = _forward_backward(plain, x)
    out_b, grads_b = _forward_backward(fast, x)
    assert len(calls) == 2
    torch.testing.assert_close(out_b, out_a, rtol=0, atol=1e-10)
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-9)
    calls.clear()
    plain = plain.float()
    fast = fuse_layers(copy.deepcopy(plain), ("winograd",))  # the other forms would change the last bits
    with torch.no_grad():
        small = torch.rand(1, 3, 64, 64) * 2 - 1  # 16x16 in the block: below WINOGRAD_MIN_PIXELS, direct
        assert torch.equal(fast(small), plain(small)) and not calls
        big = torch.rand(1, 3, 128, 128) * 2 - 1
        with torch.autocast("cpu", dtype=torch.bfloat16):  # bf16 autocast: the direct conv
            fast(big)
        assert not calls
        torch.testing.assert_close(fast(big), plain(big), rtol=0, atol=2e-4)  # fp32 Winograd: ~1e-6 apart
        assert len(calls) == 2


def test_auto_picks_the_forms_and_lanes_where_they_were_measured_to_pay(monkeypatch):
    monkeypatch.setattr(ex, "cpu_compiler", lambda: "g++")
    monkeypatch.setattr(ex, "cpu_has_native_bf16", lambda: False)
    two = torch.get_num_threads() >= 2
    e = choose_execution(device=CPU)
    assert (e.precision, e.fused_layers, e.parallel_chains) == ("fp32", True, two)
    assert not choose_execution(device=CPU, compile="on").fused_layers  # a compiled graph fuses its own way
    assert not choose_execution(device=CPU, channels_last="on").fused_layers
    monkeypatch.setattr(ex, "cpu_has_native_bf16", lambda: True)
    e = choose_execution(device=CPU)  # compiled (a large translation): no forms, no lanes
    assert (e.precision, e.compile, e.fused_layers, e.parallel_chains) == ("bf16", True, False, False)
    e = choose_execution(device=CPU, compile_pays=False)  # training: eager bf16, forms and lanes
    assert (e.precision, e.compile, e.fused_layers, e.parallel_chains) == ("bf16", False, True, two)
    assert not choose_execution(device=CPU, precision="fp32", compile="off").fused_layers  # not measured there


def _trainer(execution: Execution, **options) -> CycleGANTrainer:
    cfg = resolve({**TINY, "pool_size": 2, "lambda_identity": 0.5, **options}, preset="fast")
    return CycleGANTrainer(cfg, total_steps=10, device=CPU, execution=execution)


def _batches(n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(5)
    return [tuple(torch.rand(2, 3, 16, 16, generator=gen) * 2 - 1 for _ in range(2)) for _ in range(n)]


PLAIN = Execution(batch_generator_calls=True)
LANES = Execution(batch_generator_calls=True, fused_layers=True, parallel_chains=True)


def test_two_lanes_compute_the_sequential_step():
    seq, lanes = _trainer(PLAIN), _trainer(LANES)
    assert seq.lanes is None and lanes.lanes is not None
    for i, (x, y) in enumerate(_batches(3)):  # the pool fills, then draws: the lanes query it as `step` does
        a, b = seq.step(x, y), lanes.step(x, y)
        assert list(a) == list(b)
        for k in a:
            assert b[k].item() == pytest.approx(a[k].item(), rel=1e-4, abs=1e-5), k
        if i == 0:  # the first step's gradients for G and F (same weights): the lanes' sum is backward()'s
            for name in ("G", "F"):
                for (k, p), q in zip(seq.nets[name].named_parameters(), lanes.nets[name].parameters()):
                    if p.ndim > 1:  # (biases before InstanceNorm have no gradient but rounding: left out)
                        scale = p.grad.abs().max().item()
                        torch.testing.assert_close(q.grad, p.grad, rtol=0, atol=1e-4 * scale, msg=f"{name}.{k}")
                        assert q.grad.stride() == p.grad.stride()  # the layout the fused Adam expects


def test_two_lanes_compute_in_bf16_under_bf16_autocast():
    """On CPUs with native bf16 the lanes run the bf16 step: autocast is per thread, so each lane enters it."""
    bf16 = _trainer(Execution(precision="bf16", batch_generator_calls=True))
    lanes = _trainer(Execution(precision="bf16", batch_generator_calls=True, fused_layers=True, parallel_chains=True))
    assert lanes.lanes is not None
    dtypes = []
    for net in (lanes.G, lanes.F, lanes.D_X, lanes.D_Y):
        conv = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
        conv.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    for x, y in _batches(2):
        a, b = bf16.step(x, y), lanes.step(x, y)
        for k in a:  # the same step up to bf16 rounding of differently fused sums
            assert b[k].item() == pytest.approx(a[k].item(), rel=0.05, abs=0.02), k
    assert dtypes and set(dtypes) == {torch.bfloat16}


def test_other_families_record_no_forms_they_did_not_apply():
    from cyclegan.train import trainer_class

    cfg = resolve({**TINY, "family": "cut"}, preset="fast")
    cut = trainer_class("cut")(cfg, total_steps=4, device=CPU, execution=LANES)
    assert not cut.execution.fused_layers and not cut.execution.parallel_chains
    assert "fused layers" not in cut.execution.describe()
    assert all(type(m) is not GroupInstanceNorm for m in cut.nets["G"].modules())


def test_two_lanes_resume_exactly(tmp_path):
    data = _batches(4)
    a = _trainer(LANES)
    for x, y in data[:2]:
        a.step(x, y)
    state = copy.deepcopy(a.state_dict())
    expected = [a.step(x, y) for x, y in data[2:]]
    b = _trainer(LANES, seed=9)  # other weights, then restored
    b.load_state_dict(state)
    got = [b.step(x, y) for x, y in data[2:]]
    assert [{k: v.item() for k, v in s.items()} for s in got] == [{k: v.item() for k, v in s.items()} for s in expected]
    for name in a.nets:
        for k, v in a.nets[name].state_dict().items():
            assert torch.equal(v, b.nets[name].state_dict()[k]), f"{name}.{k}"


def test_lanes_stay_off_where_their_results_would_depend_on_timing():
    off = _trainer(LANES, dropout=0.5)
    assert off.lanes is None  # dropout draws from the global generator
    # the run announces and records what it applied, not what the execution asked for
    assert off.execution.fused_layers and not off.execution.parallel_chains
    assert _trainer(LANES).execution.parallel_chains
    assert _trainer(LANES, diffaug="color").lanes is None
    assert _trainer(LANES, norm="batch").lanes is None  # both lanes would update G's running statistics
    nets = build_networks(resolve(TINY, preset="fast"))
    assert all(type(m) is not GroupInstanceNorm for m in nets["G"].modules())  # built plain; fused on demand
