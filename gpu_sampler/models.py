"""Base classifiers for randomized smoothing: CIFAR ResNets, a small Fashion-MNIST ResNet, ResNet-50.

Every model is ``torch.nn.Sequential(NormalizeLayer, net)`` -- the layout of Cohen et al. (2019),
"Certified Adversarial Robustness via Randomized Smoothing", code ``architectures.py``: the
classifier takes images in [0, 1] pixel units, so smoothing noise is added *before* the
normalization, and a radius is measured in pixel units. The normalization layer holds no
parameters (its means and standard deviations are non-persistent buffers), so a state dict has
keys like ``"1.conv1.weight"`` and Cohen et al.'s published checkpoints (a dict with ``arch`` and
``state_dict``) load as they are.

Architectures (``ARCHITECTURES``):

* ``cifar_resnet20`` / ``cifar_resnet110`` -- He et al. (2016) Sec. 4.2 CIFAR ResNets: a 3x3
  stem with 16 channels, three stages of ``n = (depth - 2) / 6`` basic blocks at 16/32/64
  channels (stride 2 between stages, 1x1 convolution + BN projection shortcuts), global 8x8
  average pooling and a linear layer; parameter names as in Cohen et al.'s checkpoints.
* ``fmnist_resnet`` -- the same design for 28x28 grayscale input, one block per stage at
  16/32/128 channels (about 210k parameters),
  fast enough to train and to certify on two CPU cores.
* ``resnet50`` -- He et al. (2016) Table 1 ImageNet ResNet-50 (bottleneck blocks [3, 4, 6, 3],
  stride in the 3x3 convolution as in torchvision), the network of Cohen et al.'s ImageNet
  checkpoints: torchvision's ``resnet50`` when torchvision imports (``pip install
  smoothcert[vision]``), else :class:`ResNet50`, whose state-dict keys and shapes are
  torchvision's, so the same checkpoints load without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle

import torch
from torch import nn

from ..core.atomic import atomic_path
from ..core.checks import check_int
from ..core.errors import BadInput

#: Per-channel normalization constants. CIFAR-10 and ImageNet: exactly Cohen et al.'s
#: ``datasets.py`` (``_CIFAR10_STDDEV = [0.2023, 0.1994, 0.2010]``, not the 0.2470/0.2435/0.2616
#: per-pixel std of the training set: their checkpoints were trained behind these numbers);
#: Fashion-MNIST computed on its 60k training images: mean 0.2860, std 0.3530.
NORMALIZATION = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
}

#: The dataset each architecture is normalized for (and its number of input channels).
ARCH_DATASET = {
    "cifar_resnet20": "cifar10",
    "cifar_resnet110": "cifar10",
    "resnet50": "imagenet",
    "fmnist_resnet": "fashion-mnist",
}
ARCHITECTURES = tuple(ARCH_DATASET)
#: Input shape ``(C, H, W)`` each architecture was built for (None: any size, global pooling).
ARCH_INPUT = {
    "cifar_resnet20": (3, 32, 32),
    "cifar_resnet110": (3, 32, 32),
    "resnet50": (3, None, None),
    "fmnist_resnet": (1, 28, 28),
}

#: Stage widths of ``fmnist_resnet``: a wide last stage (at 7x7 it costs little) gives ~210k
#: parameters at the speed of a 16/32/64 net (about 2.5k images/s on two CPU cores).
FMNIST_WIDTHS = (16, 32, 128)


class NormalizeLayer(nn.Module):
    """``(x - mean_c) / std_c`` per channel; no parameters (Cohen et al. ``NormalizeLayer``).

    The constants are non-persistent buffers: they follow ``.to(device)`` but never appear in a
    state dict, exactly like the published checkpoints.
    """

    def __init__(self, means, sds):
        super().__init__()
        if len(means) != len(sds):
            raise ValueError(f"means and sds must have the same length, got {len(means)} and {len(sds)}")
        self.register_buffer("means", torch.tensor(means, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("sds", torch.tensor(sds, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.means.to(x.dtype)) / self.sds.to(x.dtype)


def _he_init(net: nn.Module) -> None:
    """He et al. (2015) initialization of convolutions (fan-out), batch norms at identity."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _projection(cin: int, cout: int, stride: int):
    """The shortcut of a residual block: None (identity) when the shape is kept, else a strided
    1x1 convolution with batch norm (He et al. 2016, option B; torchvision's ``downsample``)."""
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(cout))


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """He et al. (2016) basic residual block: relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut(x))."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = _conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = _projection(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class CifarResNet(nn.Module):
    """Three-stage ResNet (He et al. 2016, Sec. 4.2) with Cohen et al.'s parameter names.

    ``in_channels`` input planes, stem of ``widths[0]`` channels, stage ``s`` of
    ``blocks_per_stage`` basic blocks at ``widths[s]`` channels (stride 2 from the second stage),
    global average pooling, ``fc``. Depth = 6 * blocks_per_stage + 2.
    """

    def __init__(self, blocks_per_stage: int, num_classes: int = 10, in_channels: int = 3,
                 widths=(16, 32, 64)):
        super().__init__()
        check_int("blocks_per_stage", blocks_per_stage, minimum=1)
        check_int("num_classes", num_classes, minimum=2)
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        cin = widths[0]
        for stage, width in enumerate(widths, start=1):
            stride = 1 if stage == 1 else 2
            blocks = [BasicBlock(cin if i == 0 else width, width, stride if i == 0 else 1)
                      for i in range(blocks_per_stage)]
            setattr(self, f"layer{stage}", nn.Sequential(*blocks))
            cin = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], num_classes)
        _he_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class Bottleneck(nn.Module):
    """He et al. (2016) Fig. 5 bottleneck: 1x1 -> 3x3 (stride here, torchvision's "v1.5") -> 1x1
    at 4x the width, plus the identity or a 1x1 convolution + BN projection."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1):
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNet50(nn.Module):
    """He et al. (2016) Table 1 ResNet-50 with torchvision's parameter names (no torchvision needed).

    7x7/2 stem with 64 channels, 3x3/2 max pooling, stages of [3, 4, 6, 3] bottlenecks at widths
    64/128/256/512 (outputs 4x), stride 2 from the second stage, global average pooling, ``fc``.
    """

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        check_int("num_classes", num_classes, minimum=2)
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        cin = 64
        for stage, (width, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3)), start=1):
            stride = 1 if stage == 1 else 2
            layers = [Bottleneck(cin if i == 0 else width * 4, width, stride if i == 0 else 1)
                      for i in range(blocks)]
            setattr(self, f"layer{stage}", nn.Sequential(*layers))
            cin = width * 4
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)
        _he_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _resnet50(num_classes: int) -> nn.Module:
    """torchvision's ResNet-50 when it imports, else :class:`ResNet50` (same keys and shapes).

    A torchvision wheel built for another torch fails at import with ``RuntimeError`` (e.g.
    "operator torchvision::nms does not exist"); that counts as not importable.
    """
    try:
        from torchvision.models import resnet50
    except (ImportError, RuntimeError):
        return ResNet50(num_classes)
    return resnet50(num_classes=num_classes)


def build_model(arch: str, num_classes: int | None = None) -> nn.Sequential:
    """``Sequential(NormalizeLayer, net)`` for ``arch`` in :data:`ARCHITECTURES`, random weights.

    ``num_classes`` defaults to 10 (1000 for resnet50).
    """
    if arch not in ARCH_DATASET:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}, got {arch!r}")
    means, sds = NORMALIZATION[ARCH_DATASET[arch]]
    if arch == "resnet50":
        net = _resnet50(1000 if num_classes is None else num_classes)
    else:
        k = 10 if num_classes is None else num_classes
        if arch == "fmnist_resnet":
            net = CifarResNet(1, k, in_channels=1, widths=FMNIST_WIDTHS)
        else:
            net = CifarResNet((int(arch.split("resnet")[1]) - 2) // 6, k, in_channels=3)
    return nn.Sequential(NormalizeLayer(means, sds), net)


def cifar_resnet20(num_classes: int = 10) -> nn.Sequential:
    """Cohen et al.'s ``cifar_resnet20`` (3 x 3 basic blocks)."""
    return build_model("cifar_resnet20", num_classes)


def cifar_resnet110(num_classes: int = 10) -> nn.Sequential:
    """Cohen et al.'s ``cifar_resnet110`` (3 x 18 basic blocks)."""
    return build_model("cifar_resnet110", num_classes)


def fmnist_resnet(num_classes: int = 10) -> nn.Sequential:
    """Small ResNet-8 for 28x28 grayscale input (16/32/128 channels, one block per stage)."""
    return build_model("fmnist_resnet", num_classes)


# ---------------------------------------------------------------------------------------------
# checkpoints
def _num_classes_of(state_dict) -> int | None:
    """Output classes from the final linear layer (CIFAR ResNets and torchvision ResNet-50)."""
    w = state_dict.get("1.fc.weight")
    return None if w is None else int(w.shape[0])


def _strip_data_parallel(state_dict: dict) -> dict:
    """Cohen et al.'s ImageNet checkpoint wraps ResNet-50 in DataParallel: '1.module.x' -> '1.x'."""
    return {(("1." + k[len("1.module."):]) if k.startswith("1.module.") else k): v
            for k, v in state_dict.items()}


def check_state_dict(model: nn.Module, state_dict: dict, where: str = "checkpoint") -> None:
    """Raise ``ValueError`` listing missing, unexpected and mis-shaped keys, if any."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    misshaped = sorted(
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state_dict)
        if tuple(state_dict[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or misshaped:
        def show(items):
            return ", ".join(items[:8]) + (f", ... ({len(items)} in all)" if len(items) > 8 else "")

        parts = []
        if missing:
            parts.append(f"missing keys: {show(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {show(unexpected)}")
        if misshaped:
            parts.append(f"mis-shaped: {show(misshaped)}")
        raise BadInput(f"{where} does not match the architecture: " + "; ".join(parts))


def save_checkpoint(model: nn.Module, path, arch: str, storage_dtype=None, **extra) -> None:
    """Write ``{"arch": arch, "state_dict": ..., **extra}`` atomically (temp file + os.replace).

    ``extra`` holds plain metadata (numbers, strings, lists, dicts), readable with
    ``torch.load(weights_only=True)``. ``storage_dtype`` (e.g. ``torch.float16``) stores the
    floating-point tensors in that dtype to halve the file; loading casts them back into the
    model's float32 parameters, so evaluate the reloaded model, not the one in memory.
    """
    if arch not in ARCH_DATASET:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}, got {arch!r}")
    path = os.fspath(path)

    def stored(v):
        v = v.detach().cpu().clone()
        return v.to(storage_dtype) if storage_dtype is not None and v.is_floating_point() else v

    state = {k: stored(v) for k, v in model.state_dict().items()}
    payload = {"arch": arch, "state_dict": state, **extra}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def file_sha256(path) -> str:
    """Hex SHA-256 of the bytes of the file at ``path`` (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(os.fspath(path), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _refused_pickle(path: str) -> BadInput:
    return BadInput(f"path={path!r}: refused: the checkpoint holds pickled Python objects other "
                    "than tensors and plain data, and loading them could run code from the file; "
                    "save only the state dict and plain metadata")


def read_torch_file(path):
    """``torch.load(path, weights_only=True)`` on CPU, every failure a one-line :class:`BadInput`.

    No code from the file runs. A file that pickles anything beyond tensors and plain data (a
    global such as ``os.system`` or a model class) is refused in our words; an empty, truncated,
    text or random file says it is no readable checkpoint instead of a torch traceback.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise BadInput(f"path={path!r}: no such checkpoint file")
    if os.path.getsize(path) == 0:
        raise BadInput(f"path={path!r}: empty file (0 bytes), not a checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" in str(exc).lower():  # "Unsupported global" / "unsupported GLOBAL posix.system"
            raise _refused_pickle(path) from exc
        error = exc
    except Exception as exc:  # noqa: BLE001 -- torch raises many types on a damaged file
        error = exc
    raise BadInput(f"path={path!r}: not a readable torch checkpoint (truncated, damaged or another "
                   f"format; torch.load raised {type(error).__name__})") from error


def check_sha256(path, expected: str) -> None:
    """Raise :class:`BadInput` unless the SHA-256 of the file at ``path`` is ``expected``."""
    actual = file_sha256(path)
    if actual != expected:
        raise BadInput(f"path={os.fspath(path)!r}: SHA-256 {actual} differs from the recorded "
                       f"{expected}: the file is damaged or was replaced; reinstall the package")


def load_checkpoint(path, device="cpu", return_meta: bool = False, sha256: str | None = None):
    """Load a checkpoint (ours or Cohen et al.'s) into a fresh model in eval mode on ``device``.

    Reads with :func:`read_torch_file` (``weights_only=True``: a pickled object other than tensors
    and plain data is refused; a damaged file is a one-line :class:`BadInput`). With ``sha256``
    the file content must have that hash first. A checkpoint whose keys or shapes do not fit
    ``arch`` raises ``ValueError`` saying which keys are missing, unexpected or mis-shaped. With
    ``return_meta`` also returns the other entries of the dict.
    """
    path = os.fspath(path)
    if sha256 is not None and os.path.isfile(path):
        check_sha256(path, sha256)
    ckpt = read_torch_file(path)
    if not isinstance(ckpt, dict) or "arch" not in ckpt or not isinstance(ckpt.get("state_dict"), dict):
        raise BadInput(f"path={path!r} is not a checkpoint dict with 'arch' and 'state_dict'")
    arch = ckpt["arch"]
    if arch not in ARCH_DATASET:
        raise BadInput(f"path={path!r}: arch must be one of {', '.join(ARCHITECTURES)}, got {arch!r}")
    state = _strip_data_parallel(ckpt["state_dict"])
    model = build_model(arch, _num_classes_of(state))
    check_state_dict(model, state, where=f"checkpoint {path!r} (arch={arch!r})")
    model.load_state_dict(state)
    model.to(device).eval()
    if return_meta:
        return model, {k: v for k, v in ckpt.items() if k != "state_dict"}
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------------------------
# shipped models (trained by smoothcert.gpu_sampler.train on Fashion-MNIST)
_SQRT2, _SQRT3 = 2.0**0.5, 3.0**0.5

#: name -> (noise family, parameter name, value, certificate): Gaussian models at sigma = 0.12, 0.25,
#: 0.5 and 1.0 (Cohen et al.'s grid), Laplace and uniform at per-coordinate std 0.5 (Laplace std =
#: sqrt(2) b, uniform lambda/sqrt(3)). Recipes and accuracies: docs/models.md.
SHIPPED_MODELS = {
    "fmnist-gaussian-0.12": ("gaussian", "sigma", 0.12, "cohen-gaussian-l2"),
    "fmnist-gaussian-0.25": ("gaussian", "sigma", 0.25, "cohen-gaussian-l2"),
    "fmnist-gaussian-0.50": ("gaussian", "sigma", 0.5, "cohen-gaussian-l2"),
    "fmnist-gaussian-1.00": ("gaussian", "sigma", 1.0, "cohen-gaussian-l2"),
    "fmnist-laplace-0.50": ("laplace", "scale", 0.5 / _SQRT2, "teng-laplace-l1"),
    "fmnist-uniform-0.50": ("uniform", "half_width", 0.5 * _SQRT3, "uniform-l1"),
}
METRICS_FILE = "metrics.json"
#: ``{file name: {"sha256": hex digest, "bytes": size}}`` of every shipped checkpoint.
MANIFEST_FILE = "manifest.json"


def _asset(name: str):
    from importlib import resources

    return resources.files("smoothcert.gpu_sampler").joinpath("assets", name)


def asset_manifest() -> dict:
    """The recorded SHA-256 and size of each shipped checkpoint (``assets/manifest.json``)."""
    return json.loads(_asset(MANIFEST_FILE).read_text())


def write_manifest(folder) -> dict:
    """Record the SHA-256 and size of every ``.pt`` file in ``folder`` in its manifest (atomic)."""
    from ..core.atomic import atomic_write_text

    folder = os.fspath(folder)
    entries = {name: {"sha256": file_sha256(os.path.join(folder, name)),
                      "bytes": os.path.getsize(os.path.join(folder, name))}
               for name in sorted(os.listdir(folder)) if name.endswith(".pt")}
    atomic_write_text(os.path.join(folder, MANIFEST_FILE), json.dumps(entries, indent=2) + "\n")
    return entries


def shipped_file_sha256(file_name: str) -> str:
    """The recorded SHA-256 of a shipped asset, e.g. ``"fmnist-gaussian-0.25.pt"``."""
    entry = asset_manifest().get(file_name)
    if entry is None:
        raise BadInput(f"file_name={file_name!r} has no entry in the assets manifest")
    return entry["sha256"]


def shipped_model(name: str, device="cpu") -> nn.Sequential:
    """A shipped Fashion-MNIST model (eval mode) by name, e.g. ``"fmnist-gaussian-0.50"``.

    The file must have the SHA-256 recorded in ``assets/manifest.json`` (a damaged or replaced
    file is refused). ``shipped_noise(name)`` gives the noise it was trained with;
    ``shipped_metrics()`` its clean/noisy test accuracy.
    """
    from importlib import resources

    if name not in SHIPPED_MODELS:
        raise ValueError(f"name must be one of {', '.join(SHIPPED_MODELS)}, got {name!r}")
    ref = _asset(name + ".pt")
    if not ref.is_file():
        raise ValueError(f"the shipped checkpoint {name}.pt is missing from the package assets; "
                         "train it with python -m smoothcert.gpu_sampler.train --name " + name)
    with resources.as_file(ref) as path:
        return load_checkpoint(path, device, sha256=shipped_file_sha256(name + ".pt"))


def shipped_noise(name: str) -> dict:
    """``{"family", "<param name>": value, "certificate", "std"}`` of a shipped model."""
    if name not in SHIPPED_MODELS:
        raise ValueError(f"name must be one of {', '.join(SHIPPED_MODELS)}, got {name!r}")
    family, param, value, cert = SHIPPED_MODELS[name]
    std = {"gaussian": value, "laplace": _SQRT2 * value, "uniform": value / _SQRT3}[family]
    return {"family": family, param: value, "certificate": cert, "std": std}


def shipped_metrics() -> dict:
    """Training metrics of the shipped models (``assets/metrics.json``), keyed by name."""
    return json.loads(_asset(METRICS_FILE).read_text())
