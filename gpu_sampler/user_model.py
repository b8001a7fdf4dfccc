"""Your own base classifier: resolve a ``--model`` spec, identify it, and probe it with the data.

A spec is one of (:func:`load_model`):

* a shipped model name (``fmnist-gaussian-0.25``, ...; its file's SHA-256 is checked against
  ``assets/manifest.json``);
* a checkpoint file in our format or Cohen et al.'s (a dict with ``arch`` and ``state_dict``,
  read with ``weights_only=True``);
* a Python entry point ``package.module:factory`` -- ``factory()`` returns an ``nn.Module`` --
  with an optional state-dict file (``weights=``; a plain state dict or a dict holding one under
  ``state_dict``), read with ``weights_only=True``;
* a TorchScript file (``torch.jit.save``) or a ``torch.export`` file (``torch.export.save``; export
  it with a dynamic batch dimension, ``dynamic_shapes={"x": {0: torch.export.Dim("batch")}}``).

Normalization convention (Cohen et al. 2019, ``architectures.py``): the model takes images in
[0, 1] pixel units, noise is added there, and the model normalizes *inside* (its first layer,
e.g. :class:`~smoothcert.gpu_sampler.models.NormalizeLayer`); radii are in pixel units. A model
trained behind an outside normalization is wrapped: ``nn.Sequential(NormalizeLayer(means, sds),
net)``.

Every model gets an identity (``info``): its kind, architecture, file and the file's SHA-256, and
``state_sha256``, the hash of its tensors (:func:`state_sha256`), which a results file records.
:func:`probe_model` runs one forward pass at the data's input shape and refuses, in one line
naming both shapes, a model that fails there or does not return ``(batch, classes)`` logits.
"""

from __future__ import annotations

import hashlib
import importlib
import math
import os
import re
import zipfile

import torch
from torch import nn

from ..core.errors import BadInput
from .models import (
    ARCH_INPUT,
    SHIPPED_MODELS,
    file_sha256,
    load_checkpoint,
    read_torch_file,
    shipped_file_sha256,
    shipped_model,
    shipped_noise,
)

_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_SQRT2, _SQRT3 = 2.0**0.5, 3.0**0.5
_CERT_OF_FAMILY = {"gaussian": "cohen-gaussian-l2", "laplace": "teng-laplace-l1", "uniform": "uniform-l1"}


def state_sha256(model: nn.Module) -> str:
    """SHA-256 of a model's state: every tensor's name, dtype, shape and bytes, in key order."""
    digest = hashlib.sha256()
    for key, value in model.state_dict().items():
        t = value.detach().cpu().contiguous()
        digest.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def model_identity(model) -> dict:
    """The identity of a model handed in as an object: its class name and :func:`state_sha256`
    (a plain callable, which has no state dict, is identified by its class name only)."""
    if not isinstance(model, nn.Module):
        return {"kind": "callable", "arch": type(model).__name__}
    return {"kind": "module", "arch": type(model).__name__, "state_sha256": state_sha256(model)}


class ExportedModel(nn.Module):
    """A ``torch.export`` program's module. Its train/eval mode was fixed at export and its
    ``eval()`` raises, so :meth:`train` (hence ``eval()``) leaves it alone."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def train(self, mode: bool = True):
        return self

    def forward(self, x):
        return self.module(x)


def _zip_names(path: str) -> list[str]:
    try:
        with zipfile.ZipFile(path) as z:
            return z.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


def _file_kind(path: str) -> str:
    """``torchscript``, ``export`` or ``checkpoint`` from the archive's layout (not its name)."""
    names = _zip_names(path)
    if any("/code/" in n for n in names):
        return "torchscript"
    if any(n.endswith("/archive_format") or n.endswith("/models/model.json") for n in names):
        return "export"
    return "checkpoint"


def _noise_info(training, path: str) -> dict:
    """Training noise recorded by our training script: ``family``, ``std``, the parameter by its
    name (``sigma``, ``scale`` or ``half_width``: the certificate is built from it, not from the
    std, which would round it) and ``certificate``.

    A record that names a noise family must also hold its parameter ``param`` (a positive
    number); a checkpoint whose record lacks it (hand-edited, or written by other code) is a
    one-line :class:`BadInput` naming the key and the file, not a ``KeyError``."""
    if not (isinstance(training, dict) and training.get("family") in _CERT_OF_FAMILY):
        return {}
    fam = training["family"]
    if "param" not in training:
        raise BadInput(f"model={path!r}: the checkpoint's 'training' record names family={fam!r} "
                       "but has no 'param' key (the noise parameter)")
    try:
        val = float(training["param"])
    except (TypeError, ValueError):
        val = math.nan
    if not (math.isfinite(val) and val > 0):
        raise BadInput(f"model={path!r}: the checkpoint's 'training' record has param="
                       f"{training['param']!r}, not a positive number")
    std = {"gaussian": val, "laplace": _SQRT2 * val, "uniform": val / _SQRT3}[fam]
    name = {"gaussian": "sigma", "laplace": "scale", "uniform": "half_width"}[fam]
    return {"family": fam, "std": std, name: val, "certificate": _CERT_OF_FAMILY[fam]}


def _load_weights(model: nn.Module, weights: str, where: str) -> None:
    from .models import check_state_dict

    state = read_torch_file(weights)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BadInput(f"weights={weights!r} is not a state dict (name -> tensor)")
    check_state_dict(model, state, where=f"weights={weights!r} for {where}")
    model.load_state_dict(state)


def _entry_point(spec: str, weights, device) -> tuple[nn.Module, dict]:
    module_name, factory_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BadInput(f"model={spec!r}: cannot import module {module_name!r} ({exc})") from exc
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise BadInput(f"model={spec!r}: module {module_name!r} has no callable {factory_name!r}")
    model = factory()
    if not isinstance(model, nn.Module):
        raise BadInput(f"model={spec!r}: {factory_name}() returned {type(model).__name__}, not a torch.nn.Module")
    info = {"kind": "entry-point", "arch": type(model).__name__, "name": spec,
            "file": getattr(module, "__file__", None)}
    if info["file"]:
        info["sha256"] = file_sha256(info["file"])
    if weights is not None:
        _load_weights(model, weights, spec)
        info.update(weights=os.path.abspath(weights), weights_sha256=file_sha256(weights))
    return model.to(device).eval(), info


def _model_file(path: str, device) -> tuple[nn.Module, dict]:
    kind = _file_kind(path)
    info = {"kind": kind, "name": os.path.basename(path), "file": os.path.abspath(path),
            "sha256": file_sha256(path)}
    try:
        if kind == "torchscript":
            model = torch.jit.load(path, map_location=device)
        elif kind == "export":
            model = ExportedModel(torch.export.load(path).module()).to(device)
    except Exception as exc:  # noqa: BLE001 -- a damaged archive raises many types
        raise BadInput(f"model={path!r}: not a readable {kind} file ({type(exc).__name__})") from exc
    if kind == "checkpoint":
        model, meta = load_checkpoint(path, device, return_meta=True)
        info.update(arch=meta["arch"], **_noise_info(meta.get("training"), path))
    else:
        info["arch"] = kind
    return model, info


def load_model(spec: str, weights=None, device="cpu") -> tuple[nn.Module, dict]:
    """``(model in eval mode on device, info)`` for a shipped name, checkpoint, entry point or file.

    ``info``: ``kind``, ``arch``, ``name``, ``file`` and ``sha256`` (of the file read; for an entry
    point, its module's source), ``weights``/``weights_sha256`` when a state dict was loaded,
    ``state_sha256`` (the tensors), and the training noise when recorded (``family``, ``std``,
    ``certificate``). Anything unusable raises :class:`BadInput` in one line.
    """
    spec = os.fspath(spec)
    if weights is not None and not os.path.isfile(os.fspath(weights)):
        raise BadInput(f"weights={weights!r}: no such file")
    if spec in SHIPPED_MODELS:
        if weights is not None:
            raise BadInput(f"weights={weights!r}: a shipped model ({spec}) takes no weights file")
        model = shipped_model(spec, device)
        info = {"kind": "shipped", "arch": "fmnist_resnet", "name": spec, "file": spec + ".pt",
                "sha256": shipped_file_sha256(spec + ".pt"), **shipped_noise(spec)}
    elif os.path.isfile(spec):
        if weights is not None:
            raise BadInput(f"weights={weights!r}: only an entry point (package.module:factory) takes "
                           f"a weights file, and model={spec!r} is a file")
        model, info = _model_file(spec, device)
    elif _ENTRY_POINT.match(spec):
        model, info = _entry_point(spec, weights, device)
    else:
        raise BadInput(f"model={spec!r} is neither a shipped model ({', '.join(SHIPPED_MODELS)}), a "
                       "file, nor an entry point package.module:factory")
    info["state_sha256"] = state_sha256(model)
    return model, info


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def probe_model(model, input_shape, name: str, arch: str | None = None, num_labels: int | None = None,
                device="cpu") -> int:
    """Check ``model`` takes ``(batch, *input_shape)`` in [0, 1] and returns ``(batch, classes)``.

    A known ``arch`` (:data:`~smoothcert.gpu_sampler.models.ARCH_INPUT`) is compared with
    ``input_shape`` first (a 32x32 image runs through the 28x28 net's global pooling and would
    silently give nonsense). Then one forward pass at batch sizes 1 and 3 (a static-batch export
    fails here, not mid-run). With ``num_labels`` (largest label + 1) the classes must cover the
    labels. Returns the number of classes; raises :class:`BadInput` naming both shapes.
    """
    input_shape = tuple(int(s) for s in input_shape)
    want = ARCH_INPUT.get(arch)
    if want is not None and any(w is not None and w != g for w, g in zip(want, input_shape)):
        shown = tuple("any" if w is None else w for w in want)
        raise BadInput(f"model={name!r} ({arch}) takes inputs of shape (C, H, W) = {shown}, the data "
                       f"has {input_shape}")
    classes = None
    with torch.inference_mode():
        for batch in (1, 3):
            x = torch.full((batch,) + input_shape, 0.5, device=device)
            try:
                out = model(x)
            except Exception as exc:  # noqa: BLE001 -- whatever the user's forward raises
                raise BadInput(f"model={name!r} fails on a batch of shape {tuple(x.shape)} (the data's "
                               f"(C, H, W) = {input_shape}): {_first_line(exc)}") from exc
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != batch or out.shape[1] < 2:
                raise BadInput(f"model={name!r} maps inputs of shape {tuple(x.shape)} to {shape}, not "
                               f"({batch}, classes) logits")
            classes = int(out.shape[1])
    if num_labels is not None and num_labels > classes:
        raise BadInput(f"model={name!r} has {classes} classes, the data has labels up to {num_labels - 1}")
    return classes
