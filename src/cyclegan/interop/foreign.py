"""Generators trained by the reference implementation (or saved in its layout), from plain state dicts.

The reference implementation saves each generator as the state dict of a module whose `model` attribute
holds the network (REFERENCE.md section 2), e.g. its 18 pretrained `*.pth` files. The architecture is not
stored, so it is read from the tensors' names and shapes:

- ResNet: `model.1` the 7x7 conv in (its output channels are ngf), blocks `model.10` .. `model.(9 + n)`,
  each with its two 3x3 convs at `conv_block.1` and `conv_block.5` (`conv_block.6` with dropout);
  InstanceNorm without parameters (or with `weight`/`bias` when affine), or BatchNorm (convs without bias).
  The CUT code's generators (its default anti-aliased layers) hold a fixed blur `filt` in each resampling
  layer (`model.7.filt`, `model.11.filt`, ...), which shifts the blocks to `model.12`; checked against our
  blur filters and loaded into the same layout.
- U-Net: nested `model.model.1.model.3. ...` levels; one level per stride-2 conv (`unet_256`: 8).

Files that follow the layout with other names (residual blocks at `block` instead of `conv_block`, a
network attribute other than `model`, `module.` prefixes of DataParallel, ...) are read by position: the
tensors, in the file's order, are grouped by layer, the ResNet they imply is inferred from the
convolutions' shapes (the 7x7 input conv gives ngf, the 3x3 convs between the resamplings the blocks, a
conv bias InstanceNorm, norm weights affine ones) and each layer is matched to ours in order, name by name
within a layer (`weight`, `bias`, `running_mean`, ...), shape by shape. The first tensor that does not fit
is named.

Anything else gives one line saying what was found and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..errors import CycleGANError, counted
from ..models import MAX_PARAMETERS, ResnetGenerator
from ..models.layers import BlurDownsample, BlurUpsample
from .unet import UnetGenerator

ForeignKind = Literal["resnet", "unet"]
NormKind = Literal["instance", "batch"]

# Where a file holds several networks: which entry is which direction (A -> B is the reference's G_A).
DIRECTION_KEYS = {"AtoB": ("G_A", "netG_A", "G_AB", "G", "netG", "generator"), "BtoA": ("G_B", "netG_B", "G_BA", "F")}
# Where other projects' training code wraps the generator's state dict (`{"model": sd, "epoch": 3}`)
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net", "params")
NORM_STATS = ("running_mean", "running_var", "num_batches_tracked")
EXPECTED = (
    "expected a cyclegan checkpoint or a generator state dict in the reference layout "
    "(ResNet `model.N...` or U-Net `model.model...`)"
)


@dataclass(frozen=True)
class ForeignArchitecture:
    """What a foreign generator file's tensors say about its network.

    `depth` is the number of residual blocks (ResNet) or of stride-2 levels (U-Net, `num_downs`).
    `dropout` cannot be seen in a U-Net file (Dropout has no tensors) and does not matter in eval mode.
    """

    kind: ForeignKind
    ngf: int
    depth: int
    norm: NormKind
    affine: bool = False
    dropout: bool = False
    downsample: str = "stride"  # or "antialias" (the CUT code's default)
    upsample: str = "transpose"  # or "antialias_zero_pad" (the CUT code's anti-aliased upsampling)

    def describe(self) -> str:
        depth = counted(self.depth, "block" if self.kind == "resnet" else "level")  # "1 block", not "1 blocks"
        norm = "BatchNorm" if self.norm == "batch" else f"InstanceNorm ({'affine' if self.affine else 'no affine'})"
        kind = "ResNet" if self.kind == "resnet" else "U-Net"
        dropout = "" if self.kind == "unet" else f", {'dropout' if self.dropout else 'no dropout'}"
        aa = ", anti-aliased (CUT)" if self.downsample == "antialias" or self.upsample != "transpose" else ""
        return f"{kind} generator, {depth}, ngf {self.ngf}, {norm}{dropout}{aa}"


# --- finding the state dict -------------------------------------------------------------------------------


def _is_state_dict(obj: object) -> bool:
    return (
        isinstance(obj, Mapping)
        and bool(obj)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def _unwrapped(obj: object) -> object:
    """The dict inside a lone wrapper entry (`{"model": {...}, "epoch": 3}`), else `obj` itself."""
    if isinstance(obj, Mapping) and not any(k in obj for keys in DIRECTION_KEYS.values() for k in keys):
        inner = [obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)]
        if len(inner) == 1:
            return inner[0]
    return obj


def holds_both(obj: object) -> bool:
    """Whether a loaded file holds a generator for each direction by name (G_A and G_B, ...), itself or under a
    wrapper entry: `direction` chooses between them, where a file of one generator is used as it is."""
    obj = _unwrapped(obj)
    if _is_state_dict(obj):
        obj = _networks(obj) or {}
    return isinstance(obj, Mapping) and all(any(k in obj for k in keys) for keys in DIRECTION_KEYS.values())


def _networks(sd: Mapping[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]] | None:
    """A whole model's state dict (`netG_A.model.0.weight`, `netG_B...`, `netD_A...`, as a module holding all
    four networks saves it, under any prefix) -> its generators by name (`netG_A`: its own keys); None for the
    state dict of one network."""
    names = {k for keys in DIRECTION_KEYS.values() for k in keys}
    nets: dict[str, dict[str, torch.Tensor]] = {}
    outside = False  # keys of no generator: the discriminators, a loss's buffers
    for key, value in sd.items():
        parts = key.split(".")
        at = next((i for i, part in enumerate(parts[:-1]) if part in names), None)
        if at is None:
            outside = True
        else:
            nets.setdefault(parts[at], {})[".".join(parts[at + 1 :])] = value
    return nets if nets and (outside or len(nets) > 1) else None


def select_state_dict(obj: object, direction: str, *, source: str) -> dict[str, torch.Tensor]:
    """The generator's tensors in a loaded file: the file itself when it is a plain state dict (one
    generator: `direction` does not choose), else the entry for `direction` (`G_A`/`netG_A` for AtoB,
    `G_B`/`netG_B` for BtoA) or under a wrapper entry (`state_dict`, `model`: itself a state dict or such a dict)."""
    if _is_state_dict(obj):
        if (nets := _networks(obj)) is None:  # type: ignore[arg-type]
            return dict(obj)  # type: ignore[arg-type]
        obj = nets  # a whole CycleGAN's tensors: its generators by name
    if not isinstance(obj, Mapping):
        raise CycleGANError(f"{source}: found a {type(obj).__name__}, {EXPECTED}")
    if not obj:  # said "no AtoB generator among the entries ;"
        raise CycleGANError(f"{source}: found an empty dict, {EXPECTED}")
    for key in DIRECTION_KEYS[direction]:
        if key in obj and _is_state_dict(obj[key]):
            return dict(obj[key])
    for key in WRAPPER_KEYS:
        if key in obj and _is_state_dict(obj[key]):  # one generator's tensors, or a whole model's (`_networks`)
            return select_state_dict(obj[key], direction, source=source)
    if (inner := _unwrapped(obj)) is not obj:  # {"model": {"G_A": ..., "G_B": ...}}: its entries, named as such
        wrapper = next(k for k in WRAPPER_KEYS if obj.get(k) is inner)
        return select_state_dict(inner, direction, source=f"{source} (entry '{wrapper}')")
    if all(isinstance(k, str) for k in obj) and any(isinstance(v, torch.Tensor) for v in obj.values()):
        # tensors and other entries side by side: not "no AtoB generator among the entries model.1.weight, ..."
        extra = [f"{k} ({type(v).__name__})" for k, v in obj.items() if not isinstance(v, torch.Tensor)]
        raise CycleGANError(
            f"{source}: a state dict with entries that are no tensors, {', '.join(extra[:3])}"
            f"{', ...' if len(extra) > 3 else ''}; save the generator's state_dict() alone, or under G_A"
        )
    names = ", ".join(map(str, list(obj)[:8]))
    other = "BtoA" if direction == "AtoB" else "AtoB"
    if others := [k for k in DIRECTION_KEYS[other] if k in obj]:  # not "expected a cyclegan checkpoint": it is one
        raise CycleGANError(
            f"{source}: no {direction} generator among the entries {names} (it holds {others[0]}, the other "
            f"direction); use --direction {other}, or the file that holds the {direction} generator"
        )
    raise CycleGANError(f"{source}: no {direction} generator among the entries {names}; {EXPECTED}")


def strip_prefix(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove a wrapper prefix shared by every key (`module.` from DataParallel, `netG_A.`, ...), so that
    keys start at the reference's `model.`."""
    first = next(iter(sd))
    parts = first.split(".")
    for i in range(len(parts)):
        prefix = ".".join(parts[:i]) + "." if i else ""
        if all(k.startswith(prefix) and k[len(prefix) :].startswith("model.") for k in sd):
            return {k[len(prefix) :]: v for k, v in sd.items()}
    return dict(sd)


# --- inferring the architecture ---------------------------------------------------------------------------


def _shape(t: torch.Tensor) -> str:
    return "x".join(map(str, t.shape)) or "scalar"


def _norm_of(sd: Mapping[str, torch.Tensor], conv: str, norm: str, *, other: str, source: str) -> tuple[NormKind, bool]:
    """The reference adds conv biases exactly when the norm is InstanceNorm, so the first conv's bias (or, where a
    damaged file lost it, the bias of `other`, a later conv followed by a norm) tells the norm; the norm's own
    `weight` tells whether it is affine."""
    # a file missing model.1.bias alone was taken for the reference's norm 'none', not named as missing it
    if f"{conv}.bias" in sd or (f"{other}.bias" in sd and f"{norm}.running_mean" not in sd):
        return "instance", f"{norm}.weight" in sd
    if f"{norm}.running_mean" in sd:
        return "batch", False
    raise CycleGANError(
        f"{source}: {conv} has no bias and {norm} no BatchNorm statistics (norm 'none' in the reference?); "
        "expected InstanceNorm (convs with bias) or BatchNorm"
    )


def _check_outputs(w: torch.Tensor, dim: int, *, source: str) -> None:
    """Refuse a generator whose output layer `w` gives other than 3 channels (its `dim`): a greyscale one (the
    reference's --output_nc 1) was refused as one tensor's shape, "1x64x7x7, expected 3x64x7x7"."""
    if w.dim() == 4 and w.shape[dim] != 3:
        raise CycleGANError(
            f"{source}: the generator gives {counted(w.shape[dim], 'output channel')}, expected 3 (RGB); only colour "
            "generators are read here"
        )


def _infer_resnet(sd: Mapping[str, torch.Tensor], *, source: str) -> ForeignArchitecture:
    w = sd.get("model.1.weight")
    if w is None or w.dim() != 4 or tuple(w.shape[2:]) != (7, 7):
        found = f"shape {_shape(w)}" if w is not None else "nothing"
        raise CycleGANError(
            f"{source}: found {found} at model.1.weight, expected the 7x7 input conv of a ResNet generator"
        )
    if w.shape[1] != 3:
        raise CycleGANError(f"{source}: the generator takes {counted(w.shape[1], 'input channel')}, expected 3 (RGB)")
    antialias_down = "model.7.filt" in sd  # the CUT code: conv, norm, ReLU, blur per downsampling
    first = 12 if antialias_down else 10
    blocks = sorted({int(m.group(1)) for k in sd if (m := re.match(r"model\.(\d+)\.conv_block\.", k))})
    if blocks != list(range(first, first + len(blocks))):
        raise CycleGANError(
            f"{source}: residual blocks at model.{blocks[0]}..{blocks[-1]} with gaps, expected consecutive "
            f"blocks from model.{first}"
        )
    convs = {  # 4-d weights only: affine norms have (1-d) weights too
        int(m.group(1))
        for k, t in sd.items()
        if (m := re.fullmatch(rf"model\.{first}\.conv_block\.(\d+)\.weight", k)) and t.dim() == 4
    }
    if sd.get(f"model.{first}.conv_block.1.weight", torch.empty(0)).dim() != 4 or not ({5, 6} & convs):
        raise CycleGANError(
            f"{source}: block model.{first} holds convs at conv_block.{sorted(convs)}, expected conv_block.1 and "
            "conv_block.5 (or conv_block.6 with dropout)"
        )
    norm, affine = _norm_of(sd, "model.1", "model.2", other=f"model.{first}.conv_block.1", source=source)
    top = max(int(m[1]) for k in sd if (m := re.fullmatch(r"model\.(\d+)\.weight", k)))
    last = sd[f"model.{top}.weight"]
    if tuple(last.shape[2:]) == (7, 7):  # the output conv, (out, in, 7, 7); not there: named as missing below
        _check_outputs(last, 0, source=source)
    antialias_up = f"model.{first + len(blocks)}.filt" in sd
    return ForeignArchitecture(
        kind="resnet",
        ngf=int(w.shape[0]),
        depth=len(blocks),
        norm=norm,
        affine=affine,
        dropout=6 in convs,
        downsample="antialias" if antialias_down else "stride",
        upsample="antialias_zero_pad" if antialias_up else "transpose",
    )


def _infer_unet(sd: Mapping[str, torch.Tensor], *, source: str) -> ForeignArchitecture:
    w = sd.get("model.model.0.weight")
    if w is None or w.dim() != 4 or tuple(w.shape[2:]) != (4, 4):
        found = f"shape {_shape(w)}" if w is not None else "nothing"
        raise CycleGANError(f"{source}: found {found} at model.model.0.weight, expected the 4x4 input conv of a U-Net")
    if w.shape[1] != 3:
        raise CycleGANError(f"{source}: the generator takes {counted(w.shape[1], 'input channel')}, expected 3 (RGB)")
    levels, prefix = 1, "model.model.1.model."
    while any(k.startswith(prefix) for k in sd):  # each level nests the next at `.3.model.`
        levels += 1
        prefix += "3.model."
    if levels < 5:
        raise CycleGANError(f"{source}: found a U-Net with {levels} levels, expected at least 5 (unet_256 has 8)")
    inner = "model.model.1.model.3.model.1"  # the next level's down conv
    norm, affine = _norm_of(sd, "model.model.1.model.1", "model.model.1.model.2", other=inner, source=source)
    if (up := sd.get("model.model.3.weight")) is not None:  # the outermost transposed conv: (in, out, 4, 4)
        _check_outputs(up, 1, source=source)
    return ForeignArchitecture(kind="unet", ngf=int(w.shape[0]), depth=levels, norm=norm, affine=affine)


def is_reference_layout(sd: Mapping[str, torch.Tensor]) -> bool:
    """Whether the keys (prefix stripped) are the reference's own names (U-Net or ResNet)."""
    return any(k.startswith("model.model.") or re.match(r"model\.\d+\.conv_block\.", k) for k in sd)


def infer_architecture(sd: Mapping[str, torch.Tensor], *, source: str = "state dict") -> ForeignArchitecture:
    """Kind, width, depth, norm and dropout of a state dict in the reference layout (prefix stripped); a
    ResNet under other names is inferred from its tensors' order and shapes (`infer_by_shapes`)."""
    if any(k.startswith("model.model.") for k in sd):
        return _infer_unet(sd, source=source)
    if any(re.match(r"model\.\d+\.conv_block\.", k) for k in sd):
        return _infer_resnet(sd, source=source)
    return infer_by_shapes(sd, source=source)


# --- near-reference files: matched by order and shape -----------------------------------------------------

Layer = tuple[str, dict[str, torch.Tensor]]  # (module path, parameter name -> tensor)


def layers_of(sd: Mapping[str, torch.Tensor]) -> list[Layer]:
    """The tensors grouped by the layer they belong to (`a.b.weight` -> layer `a.b`), in the dict's order."""
    layers: dict[str, dict[str, torch.Tensor]] = {}
    for key, t in sd.items():
        module, _, param = key.rpartition(".")
        layers.setdefault(module, {})[param] = t
    return list(layers.items())


def _is_conv(params: Mapping[str, torch.Tensor]) -> bool:
    w = params.get("weight")
    return w is not None and w.dim() == 4


def _found(sd: Mapping[str, torch.Tensor], source: str) -> CycleGANError:
    names = ", ".join(list(sd)[:4])
    return CycleGANError(f"{source}: found tensors {names}, ...; {EXPECTED}")


def infer_by_shapes(sd: Mapping[str, torch.Tensor], *, source: str = "state dict") -> ForeignArchitecture:
    """The reference ResNet a state dict under other names implies: 6 convs plus 2 per residual block, the
    first 7x7 from 3 channels (its outputs: ngf); a conv bias means InstanceNorm (affine if the norms have
    weights), running statistics without it BatchNorm. Dropout has no tensors (and no effect in eval)."""
    layers = layers_of(sd)
    convs = [p for _, p in layers if _is_conv(p)]
    if not convs or tuple(convs[0]["weight"].shape[2:]) != (7, 7):
        last = next((m for m, p in reversed(layers) if _is_conv(p)), None)
        if not convs and any(re.match(r"mlp_\d+\.", k) for k in sd):  # not the BtoA generator, as F is here
            raise CycleGANError(
                f"{source}: the CUT code's patch-feature MLP (its net_F, tensors {next(iter(sd))}, ...), not a "
                "generator: CUT trains one generator, its latest_net_G.pth"
            )
        if len(convs) > 1 and convs[-1]["weight"].shape[0] == 1:  # the reference's latest_net_D_A.pth, say
            raise CycleGANError(
                f"{source}: a discriminator, not a generator (its last conv {last} gives 1 channel, a real/fake "
                "map); give a generator file: the reference's latest_net_G_A.pth translates A to B, G_B B to A"
            )
        raise _found(sd, source)
    w = convs[0]["weight"]
    if w.shape[1] != 3:
        raise CycleGANError(f"{source}: the generator takes {counted(w.shape[1], 'input channel')}, expected 3 (RGB)")
    if len(convs) < 6 or len(convs) % 2:
        raise CycleGANError(
            f"{source}: found {len(convs)} convolutions, expected a ResNet generator's 6 plus 2 per residual "
            f"block; {EXPECTED}"
        )
    norms = [p for _, p in layers if not _is_conv(p)]
    if "bias" in convs[0]:
        norm: NormKind = "instance"
        affine = any("weight" in p for p in norms)
    elif any("running_mean" in p for p in norms):
        norm, affine = "batch", False
    else:
        first = next(iter(sd))
        raise CycleGANError(
            f"{source}: the first conv ({first}) has no bias and no layer has BatchNorm statistics (norm 'none' "
            "in the reference?); expected InstanceNorm (convs with bias) or BatchNorm"
        )
    return ForeignArchitecture(
        kind="resnet", ngf=int(w.shape[0]), depth=(len(convs) - 6) // 2, norm=norm, affine=affine
    )


def _natural_key(key: str) -> list:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in key.split(".")]


def match_by_order(
    sd: Mapping[str, torch.Tensor], net: nn.Module, arch: ForeignArchitecture, *, source: str
) -> dict[str, torch.Tensor]:
    """`sd`'s tensors under `net`'s names, matched layer by layer in order (see the module docstring).

    InstanceNorm running statistics (PyTorch < 0.4 files) are dropped, as the reference does; a missing
    BatchNorm `num_batches_tracked` (older files) is not needed. A file whose keys were sorted as text
    (`model.10` before `model.2`) is tried in natural order too. Refused in one line naming the first
    tensor that does not fit.
    """
    try:
        return _match(sd, net, arch, source=source)
    except CycleGANError as first:
        natural = dict(sorted(sd.items(), key=lambda kv: _natural_key(kv[0])))
        if list(natural) == list(sd):
            raise
        try:
            return _match(natural, net, arch, source=source)
        except CycleGANError:
            raise first from None


def _match(
    sd: Mapping[str, torch.Tensor], net: nn.Module, arch: ForeignArchitecture, *, source: str
) -> dict[str, torch.Tensor]:
    theirs = layers_of(sd)
    if arch.norm == "instance":
        theirs = [(m, {k: t for k, t in p.items() if k not in NORM_STATS}) for m, p in theirs]
        theirs = [(m, p) for m, p in theirs if p]
    ours = layers_of(net.state_dict())
    what = f"a {arch.describe()}"
    matched: dict[str, torch.Tensor] = {}
    for i, (our_layer, our_params) in enumerate(ours):
        if i >= len(theirs):
            name, t = next(iter(our_params.items()))
            raise CycleGANError(
                f"{source}: the file ends after {len(theirs)} layers; {what} also needs {our_layer}.{name} "
                f"({_shape(t)})"
            )
        their_layer, their_params = theirs[i]
        for name, t in our_params.items():
            if name not in their_params:
                if name == "num_batches_tracked":
                    continue
                raise CycleGANError(
                    f"{source}: layer {their_layer} has no '{name}' where {what} has {our_layer}.{name} ({_shape(t)})"
                )
            if their_params[name].shape != t.shape:
                raise CycleGANError(
                    f"{source}: tensor {their_layer}.{name} has shape {_shape(their_params[name])} where {what} "
                    f"has {our_layer}.{name} of shape {_shape(t)}"
                )
            matched[f"{our_layer}.{name}"] = their_params[name]
        extra = next((name for name in their_params if name not in our_params), None)
        if extra is not None:
            raise CycleGANError(
                f"{source}: tensor {their_layer}.{extra} does not fit: {what} has no '{extra}' at {our_layer}"
            )
    if len(theirs) > len(ours):
        layer, params = theirs[len(ours)]
        raise CycleGANError(
            f"{source}: tensor {layer}.{next(iter(params))} is left over after the last layer of {what}"
        )
    return matched


# --- building and loading ---------------------------------------------------------------------------------


def _make_norms_affine(net: nn.Module, names: set[str]) -> None:
    """Swap the parameter-free InstanceNorms named in `names` for affine ones (other projects' variant)."""
    for name, module in list(net.named_modules()):
        if isinstance(module, nn.InstanceNorm2d) and name in names:
            parent_name, _, child = name.rpartition(".")
            parent = net.get_submodule(parent_name)
            affine = nn.InstanceNorm2d(module.num_features, affine=True, track_running_stats=False)
            setattr(parent, child, affine)


def build_bounded(arch: ForeignArchitecture, *, source: str) -> nn.Module:
    """`build_foreign`, once the network is known to be within MAX_PARAMETERS (counted on the meta device): the
    width comes from a tensor's shape, which a file of a few KB can declare as large as it likes (a stride-0
    tensor stores one value), and building it allocated that many weights."""
    with torch.device("meta"):
        n = sum(p.numel() for p in build_foreign(arch).parameters())
    if n > MAX_PARAMETERS:
        raise CycleGANError(
            f"{source}: its tensors describe a {arch.describe()} of {n:.3g} weights ({4 * n / 1e9:.3g} GB), beyond "
            f"the {MAX_PARAMETERS:.0e} this program loads"
        )
    return build_foreign(arch)


def build_foreign(arch: ForeignArchitecture) -> nn.Module:
    """An untrained network of `arch` whose state-dict keys are the reference's."""

    if arch.kind == "unet":
        return UnetGenerator(num_downs=arch.depth, ngf=arch.ngf, norm=arch.norm, affine=arch.affine)
    net = ResnetGenerator(
        ngf=arch.ngf,
        n_blocks=arch.depth,
        norm=arch.norm,
        dropout=0.5 if arch.dropout else 0.0,
        downsample=arch.downsample,
        upsample=arch.upsample,  # type: ignore[arg-type]
    )
    if arch.affine:
        names = {n for n, m in net.named_modules() if isinstance(m, nn.InstanceNorm2d)}
        _make_norms_affine(net, names)
    return net


def _drop_instance_norm_stats(sd: dict[str, torch.Tensor], net: nn.Module) -> dict[str, torch.Tensor]:
    """Files from PyTorch < 0.4 carry InstanceNorm running statistics; the reference deletes them on load
    (its norms do not track statistics), and so do we, so both compute the same thing."""
    norms = {n for n, m in net.named_modules() if isinstance(m, nn.InstanceNorm2d)}
    return {k: v for k, v in sd.items() if not (k.rpartition(".")[0] in norms and k.rpartition(".")[2] in NORM_STATS)}


def _fill_batches_tracked(sd: dict[str, torch.Tensor], net: nn.Module) -> dict[str, torch.Tensor]:
    """Files from PyTorch < 0.4.1 have BatchNorm running statistics without `num_batches_tracked`, which the
    reference's `load_state_dict` fills in (a count for momentum None, unused in eval): a BatchNorm ResNet or
    U-Net of such a file was refused as "missing ...num_batches_tracked". Filled in as torch fills it."""
    counts = {k: t for k, t in net.state_dict().items() if k.rpartition(".")[2] == "num_batches_tracked"}
    return {**sd, **{k: t for k, t in counts.items() if k not in sd}}


def _counts_as_integers(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """BatchNorm's `num_batches_tracked` as the integer count it is: a file whose every tensor was converted
    (`{k: v.half() for k, v in sd.items()}`, where `module.half()` keeps the count an integer) was refused as
    "num_batches_tracked is a torch.float16 tensor". A count unused in eval; a value that is no count stays, to be
    named by `load_state_into`."""
    out = dict(sd)
    for k, t in sd.items():
        whole = t.is_floating_point() and not t.is_meta and t.numel() == 1 and float(t) >= 0 and float(t).is_integer()
        if k.rpartition(".")[2] == "num_batches_tracked" and whole:
            out[k] = t.long()
    return out


def _check_blur_filters(sd: dict[str, torch.Tensor], net: nn.Module, *, source: str) -> dict[str, torch.Tensor]:
    """The CUT code saves its fixed resampling filters (`filt`); ours are fixed too and not saved. Each must
    be the filter we compute with (a different filter size would compute something else); then it is dropped."""

    out = dict(sd)
    for name, module in net.named_modules():
        if isinstance(module, (BlurDownsample, BlurUpsample)) and f"{name}.filt" in out:
            filt = out.pop(f"{name}.filt")
            if filt.shape != module.kernel.shape or not torch.allclose(filt.float(), module.kernel, atol=1e-6):
                raise CycleGANError(
                    f"{source}: {name}.filt has shape {_shape(filt)} or values unlike the anti-aliasing filter "
                    f"{_shape(module.kernel)} of the CUT code's defaults (filter size 3 down, 4 up)"
                )
    return out


def load_state_into(net: nn.Module, sd: Mapping[str, torch.Tensor], arch: ForeignArchitecture, *, source: str) -> None:
    """Load with every key and shape checked first, so a mismatch is one line naming the tensor."""
    expected = net.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:3])}{' ...' if len(unexpected) > 3 else ''}")
        raise CycleGANError(f"{source}: {'; '.join(parts)} for a {arch.describe()}")
    for k, t in expected.items():
        if sd[k].shape != t.shape:
            raise CycleGANError(
                f"{source}: {k} has shape {_shape(sd[k])}, expected {_shape(t)} for a {arch.describe()}"
            )
        # load_state_dict casts integers and complex numbers to float without a word, and fails on a sparse or
        # a meta (data-less) tensor
        theirs = sd[k]
        if theirs.is_meta or theirs.layout != torch.strided or theirs.is_floating_point() != t.is_floating_point():
            what = "a meta tensor (no data)" if theirs.is_meta else f"a {theirs.dtype} tensor ({theirs.layout})"
            raise CycleGANError(f"{source}: {k} is {what}, expected a dense {t.dtype} one for a {arch.describe()}")
    net.load_state_dict(sd, strict=True)


def _read(
    obj: object, direction: str, *, source: str
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], ForeignArchitecture]:
    """A loaded foreign file's generator tensors as found, under the reference's names where they are its layout
    (`strip_prefix`), and the network they describe: by name in the reference layout, else by order and shape."""
    raw = select_state_dict(obj, direction, source=source)
    sd = strip_prefix(raw)
    arch = infer_architecture(sd, source=source) if is_reference_layout(sd) else infer_by_shapes(raw, source=source)
    return raw, sd, arch


def foreign_architecture(obj: object, direction: str = "AtoB", *, source: str = "checkpoint") -> ForeignArchitecture:
    """The network `load_foreign_generator` builds for a loaded foreign file, read from its tensors without
    building it (`zoo.published_mismatch`: a published name's file must be the network its catalogue names)."""
    return _read(obj, direction, source=source)[2]


def load_foreign_generator(obj: object, direction: str = "AtoB", *, source: str = "checkpoint") -> nn.Module:
    """A generator from a loaded foreign file (a state dict, or a dict holding generators by name).

    The result maps (B, 3, H, W) in [-1, 1] to the same shape in [-1, 1], in eval mode (dropout off,
    BatchNorm on its running statistics: the reference's `--eval`), on the CPU. A plain state dict holds
    one generator, which is used whatever `direction` says.
    """
    raw, sd, arch = _read(obj, direction, source=source)
    if is_reference_layout(sd):
        net = build_bounded(arch, source=source)
        sd = _check_blur_filters(sd, net, source=source)
        if arch.norm == "instance":
            sd = _drop_instance_norm_stats(sd, net)
        else:
            sd = _fill_batches_tracked(sd, net)
    else:  # other names: matched by order and shape, errors naming the file's own keys
        net = build_bounded(arch, source=source)
        sd = {**net.state_dict(), **match_by_order(raw, net, arch, source=source)}
    load_state_into(net, _counts_as_integers(sd), arch, source=source)
    return net.eval().requires_grad_(False)
