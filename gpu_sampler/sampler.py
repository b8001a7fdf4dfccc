"""The counting sampler and Cohen et al.'s CERTIFY / PREDICT on torch models.

Cohen, Rosenfeld & Kolter 2019, "Certified Adversarial Robustness via Randomized Smoothing",
Section 3.2 (pseudocode of PREDICT and CERTIFY): the smoothed classifier
``g(x) = argmax_c P(f(x + z) = c)`` is evaluated from the class counts of ``f`` on noisy copies
of ``x``.

* :func:`counts` -- ``n`` noisy copies per input, classified in batches, int64 counts per class.
  Eagerly, noise is drawn (float32 or wider) straight into one preallocated batch buffer and ``x`` is
  added by broadcasting (no copy of ``x`` beyond that buffer); the model runs under
  ``torch.inference_mode`` and in eval mode. ``precision="bfloat16"`` evaluates the model under
  ``torch.autocast(device_type, torch.bfloat16)`` on a channels_last buffer -- the noise is still
  sampled and added in float32 first (docs/contributing.md, Soundness). It runs an inference copy of the model
  (:func:`bf16_inference_model`: BatchNorm folded into the convolutions, channels_last weights);
  the caller's model is never modified.
  ``compile`` runs each batch as one ``torch.compile``d step (:func:`_step`: the noise
  transform, the add, the forward, the argmax and the tally; CUDA graphs on CUDA) on fixed-shape
  buffers (the last batch is padded, the padding rows never counted). Only the raw draw stays
  eager (:meth:`~smoothcert.gpu_sampler.noise.NoiseSampler.draw`, one ``normal_``/``uniform_``/...
  through the caller's generator into preallocated buffers), so the samples are the same with or
  without it; families whose sampler needs rejection or several dependent draws keep their whole
  draw eager and compile the rest. ``"auto"`` (default) compiles on CUDA only. On the CPU
  (2 shared AVX2 cores, shipped ResNet, batch 1000) the compiled step ran 1.61x the samples per
  CPU-second of eager counts and 0.96x the compiled limit, no faster than compiling the forward
  alone (1.00x: the ResNet dominates), but compiling took about 2 minutes per model and batch
  shape: it pays only in long runs (``compile=True``), not in the short calls of tests and
  per-input optimizers (benchmarks/sampler_throughput.py; benchmarks/results/
  sampler_throughput_cpu.txt; docs/guide.md). A lattice sampler
  (:class:`~smoothcert.gpu_sampler.lattice.LatticeNoise`, the ``gaussian-grid`` family) runs in
  integer units: ``levels x + k`` is exact and divided by ``levels`` once before the model
  (Voracek & Hein, ICLR 2023).
* :func:`certify` -- CERTIFY: ``n0`` selection samples choose the class, ``n`` fresh samples bound
  its probability; ``smoothcert.estimators.certify_counts`` turns the counts into a radius.
* :func:`predict` -- PREDICT: two-sided binomial test on the top two of ``n`` counts
  (``smoothcert.estimators.predict_counts``); -1 abstains.

Several inputs ``x`` of shape ``(B, *shape)`` share one sampling loop: the ``B * n`` noisy samples
are laid out input after input and cut into batches of ``batch_size`` rows.
Models take inputs in [0, 1] pixel units (normalization is their first layer) and return logits.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import time
import warnings
import weakref
from dataclasses import dataclass

import numpy as np
import torch

from ..estimators import certify_counts, predict_counts
from ..core.checks import check_alpha, check_int
from .lattice import LatticeNoise
from .noise import NoiseSampler, _check_generator, make_noise

PRECISIONS = ("float32", "float64", "bfloat16")
COMPILE_MODES = ("auto", True, False)


@dataclass(frozen=True)
class CertifyResult:
    """One input's CERTIFY outcome (Cohen et al. 2019, Sec. 3.2).

    ``prediction`` is -1 (abstain, ``radius`` 0.0) when the bound does not certify;
    ``p_a_lower`` / ``p_b_upper`` are the confidence bounds handed to the certificate
    (``p_b_upper = 1 - p_a_lower`` under the binary rule); ``counts_select`` (n0 samples) chose the
    class, ``counts_estimate`` (n fresh samples) bounded it; ``seconds`` is the wall time of the
    call divided by the number of inputs certified together.
    """

    prediction: int
    radius: float
    p_a_lower: float
    p_b_upper: float
    counts_select: np.ndarray
    counts_estimate: np.ndarray
    seconds: float


# ---------------------------------------------------------------------------------------------
# helpers
def _check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def _as_inputs(x, noise, batched):
    """``x`` as ``(B, *shape)`` and whether a single input was given.

    A single input is recognised by ``batched=False``, by its shape equal to a sampler's shape,
    or (``batched=None`` with a noise description) by ``x.ndim <= 3``: ``(C, H, W)`` is one image,
    ``(B, C, H, W)`` a batch.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension, got a 0-d tensor")
    if batched is None:
        if isinstance(noise, NoiseSampler):
            batched = tuple(x.shape) != noise.shape
        else:
            batched = x.ndim >= 4
    if not batched:
        x = x.unsqueeze(0)
    if x.shape[0] == 0:
        raise ValueError("x holds no inputs (batch dimension 0)")
    if not torch.isfinite(x).all():
        raise ValueError("x must be finite, got NaN or inf entries")
    if isinstance(noise, NoiseSampler) and tuple(x.shape[1:]) != noise.shape:
        raise ValueError(f"x has input shape {tuple(x.shape[1:])}, the noise sampler {noise.shape}")
    return x, not batched


@contextlib.contextmanager
def _eval_mode(model):
    """Evaluate ``model`` in eval mode (BatchNorm/dropout fixed), restoring every module's flag."""
    if not isinstance(model, torch.nn.Module):
        yield
        return
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


#: model -> (reference copy of its state, its structure, the bfloat16 inference copy)
_BF16_COPIES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _state_of(model: torch.nn.Module):
    tensors = [t.detach() for t in itertools.chain(model.parameters(), model.buffers())]
    structure = tuple((name, type(m)) for name, m in model.named_modules())
    return tensors, structure


def _unchanged(reference, tensors) -> bool:
    return len(reference) == len(tensors) and all(
        a.shape == b.shape and a.dtype == b.dtype and a.device == b.device and torch.equal(a, b)
        for a, b in zip(reference, tensors)
    )


def bf16_inference_model(model):
    """The eval-mode copy of ``model`` that the bfloat16 path runs (the caller's model is untouched).

    BatchNorm is folded into the preceding convolution by ``torch.fx.experimental.optimization.fuse``
    -- exact in real arithmetic: ``W' = W gamma / sqrt(var + eps)``, ``b' = (b - mean) gamma /
    sqrt(var + eps) + beta`` -- and 4-D weights are made channels_last, the layout oneDNN's
    bfloat16 convolutions run fastest in. Models torch.fx cannot trace are copied unfused.
    The copy is cached per model and rebuilt whenever any parameter or buffer differs (compared
    exactly with a reference copy) or a submodule was replaced, so later training is never missed.
    Callables that are not ``nn.Module`` are returned as they are.
    """
    if not isinstance(model, torch.nn.Module):
        return model
    tensors, structure = _state_of(model)
    hit = _BF16_COPIES.get(model)
    if hit is not None and hit[1] == structure and _unchanged(hit[0], tensors):
        return hit[2]
    with warnings.catch_warnings():  # torch's own deprecation notices from torch.jit internals
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch.fx.experimental.optimization import fuse
    with _eval_mode(model):
        try:
            fast = fuse(model)  # a deep copy with BatchNorm folded (eval-mode statistics)
        except Exception:  # noqa: BLE001 -- not symbolically traceable: keep its structure
            fast = copy.deepcopy(model)
    fast = fast.eval().to(memory_format=torch.channels_last)
    _BF16_COPIES[model] = ([t.clone() for t in tensors], structure, fast)
    return fast


def _check_compile(compile) -> bool | str:
    if not any(compile is m or (isinstance(m, str) and compile == m) for m in COMPILE_MODES):
        raise ValueError(f"compile must be 'auto', True or False, got {compile!r}")
    return compile


def _use_compile(compile, device: torch.device, model) -> bool:
    """``"auto"``: an ``nn.Module`` on CUDA (on the CPU compiling takes 14-60 s per model and shape,
    repaid only in long runs: module docstring); True: an ``nn.Module`` (a ``TypeError`` otherwise)."""
    if compile == "auto":
        return device.type == "cuda" and isinstance(model, torch.nn.Module)
    if compile and not isinstance(model, torch.nn.Module):
        raise TypeError(f"compile=True needs a torch.nn.Module model, got {type(model).__name__}")
    return bool(compile)


#: device type -> the torch.compile'd :func:`_step` (its compiled graphs are cached per model,
#: noise parameters, precision and shapes by torch's guards)
_COMPILED_STEPS: dict = {}


def compiled_step(device: torch.device):
    """:func:`_step` under ``torch.compile(dynamic=False)``: ``mode="reduce-overhead"`` (CUDA
    graphs) on CUDA, where the counting loop keeps every shape static; the default mode elsewhere."""
    hit = _COMPILED_STEPS.get(device.type)
    if hit is None:
        mode = "reduce-overhead" if device.type == "cuda" else None
        hit = _COMPILED_STEPS[device.type] = torch.compile(_step, mode=mode, dynamic=False)
    return hit


def _autocast(precision: str, device: torch.device):
    if precision == "bfloat16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _add_inputs(buf: torch.Tensor, x: torch.Tensor, start: int, n: int) -> None:
    """Add input ``r // n`` to row ``r - start`` of ``buf`` (rows of one input are contiguous)."""
    stop = start + buf.shape[0]
    for i in range(start // n, (stop - 1) // n + 1):
        a, b = max(start, i * n) - start, min(stop, (i + 1) * n) - start
        buf[a:b].add_(x[i])  # broadcast: x[i] is expanded, never repeated


def _logits_error(out, rows: int, num_classes) -> str | None:
    """What is wrong with the model's output ``out`` for a batch of ``rows`` rows, or None."""
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != rows:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return f"model must return logits of shape ({rows}, K), got {shape}"
    if num_classes is not None and out.shape[1] != num_classes:
        return f"num_classes={num_classes} but the model returns {out.shape[1]} logits"
    return None


def _logits(model, batch: torch.Tensor, num_classes):
    out = model(batch)
    error = _logits_error(out, batch.shape[0], num_classes)
    if error is not None:
        raise ValueError(error)
    return out


# ---------------------------------------------------------------------------------------------
# public API
def counts(model, x, n, noise, batch_size=1000, num_classes=None, generator=None,
           precision="float32", batched=None, compile="auto") -> torch.Tensor:
    """Class counts of ``model`` on ``n`` noisy copies of each input (Cohen et al. Sec. 3.2).

    Parameters
    ----------
    model : callable taking ``(m, *shape)`` inputs in [0, 1] pixel units, returning ``(m, K)`` logits.
    x : one input ``(C, H, W)`` (any ``shape``) or a batch ``(B, C, H, W)``; see ``batched``.
    n : noisy samples per input (``n = 0`` needs ``num_classes`` and gives zeros).
    noise : a certificate, a :class:`~smoothcert.bounds.base.Noise` or a
        :class:`~smoothcert.gpu_sampler.noise.NoiseSampler` for ``shape``.
    batch_size : rows per model call (samples of several inputs share a batch).
    generator : a seeded ``torch.Generator`` on ``x``'s device, or None (global RNG). The same
        seed, inputs, ``batch_size`` and device give the same counts (another ``batch_size``
        draws the noise in other chunks, so the samples may differ).
    precision : ``"float32"`` (default), ``"float64"`` (model and buffer in float64) or
        ``"bfloat16"`` (noise drawn and added in float32, then the cached inference copy of
        :func:`bf16_inference_model` under bfloat16 autocast on a channels_last buffer).
    compile : ``"auto"`` (CUDA only), True or False: noise transform, add, forward, argmax and
        tally as one compiled step per batch (:func:`compiled_step`; the noise is the same, the
        logits may round differently). torch recompiles for each new model, noise family or
        parameter value, precision and batch shape, and runs eagerly past its recompile limit
        (8 per function).

    Returns int64 counts on the CPU: ``(K,)`` for one input, ``(B, K)`` for a batch.
    """
    x, single = _as_inputs(x, noise, batched)
    n = check_int("n", n, minimum=0)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    precision = _check_precision(precision)
    compile = _check_compile(compile)
    if num_classes is not None:
        num_classes = check_int("num_classes", num_classes, minimum=1)
    B, shape, device = x.shape[0], tuple(x.shape[1:]), x.device
    dtype = torch.float64 if precision == "float64" else torch.float32
    sampler = noise if isinstance(noise, NoiseSampler) else make_noise(noise, shape, device, dtype)
    if sampler.device.type != device.type:
        raise ValueError(f"the noise sampler lives on {sampler.device}, x on {device}")
    x = x.to(dtype)
    if isinstance(sampler, LatticeNoise):
        x = sampler.to_units(x)
    total = B * n
    if total == 0:
        if num_classes is None:
            raise ValueError("n=0 gives no sample to infer the classes from: pass num_classes")
        out = torch.zeros(B, num_classes, dtype=torch.int64)
        return out[0] if single else out
    rows = min(batch_size, total)
    layout = torch.channels_last if precision == "bfloat16" and len(shape) == 3 else torch.contiguous_format
    fast = _use_compile(compile, device, model)
    if precision == "bfloat16":
        model = bf16_inference_model(model)
    with torch.inference_mode(), _eval_mode(model):
        if fast:
            tally = _tally_compiled(model, x, n, sampler, rows, generator, precision, num_classes)
        else:
            buf = torch.empty((rows, *shape), dtype=dtype, device=device, memory_format=layout)
            tally = _tally(model, x, n, sampler, buf, generator, precision, num_classes)
    return tally[0] if single else tally


def _noisy_batch(sampler, batch, x, start, n, generator) -> None:
    """``batch`` := noise + the inputs its rows belong to. A lattice sampler adds in integer
    units (exact) and divides by ``levels`` once: the model sees a function of the grid point."""
    if isinstance(sampler, LatticeNoise):
        sampler.sample_units_into(batch, generator)
        _add_inputs(batch, x, start, n)
        batch.div_(sampler.levels)
    else:
        sampler.sample_into(batch, generator)
        _add_inputs(batch, x, start, n)


def _tally(model, x, n, sampler, buf, generator, precision, num_classes):
    """The eager sampling loop of :func:`counts`: rows ``[start, start + len(buf))`` of the
    ``B * n`` samples per batch, noise into ``buf``, inputs added, argmax counted per (input, class)."""
    B, device, rows = x.shape[0], x.device, buf.shape[0]
    total, tally = B * n, None
    for start in range(0, total, rows):
        m = min(rows, total - start)
        _noisy_batch(sampler, buf[:m], x, start, n, generator)
        with _autocast(precision, device):
            logits = _logits(model, buf[:m], num_classes)
        if tally is None:
            num_classes = logits.shape[1]
            tally = torch.zeros(B * num_classes, dtype=torch.int64, device=device)
        owner = torch.arange(start, start + m, device=device) // n
        tally += torch.bincount(owner * num_classes + logits.argmax(1), minlength=B * num_classes)
    return tally.view(B, num_classes).cpu()


def _step(model, sampler, raws, xs, owner, precision, num_classes):
    """One batch of the compiled sampling loop, as one function: the noise
    ``sampler.transform(*raws)`` (in ``xs``'s dtype, float32 or wider) plus the input each row
    belongs to (``xs[owner]``), divided by ``levels`` for a lattice sampler, channels_last under
    bfloat16 autocast for ``precision="bfloat16"``, the forward, the argmax and the tally:
    ``((B + 1) * K,)`` int64 counts of the buckets ``owner * K + class``. A model output of the
    wrong shape returns the error message instead (known when the step is traced): an exception
    raised inside a compiled function would make torch fall back to eager for the rest of the
    process."""
    noisy = sampler.transform(*raws).to(xs.dtype) + xs[owner]
    if isinstance(sampler, LatticeNoise):
        noisy = noisy / sampler.levels
    if precision == "bfloat16" and noisy.ndim == 4:
        noisy = noisy.contiguous(memory_format=torch.channels_last)
    with _autocast(precision, noisy.device):
        logits = model(noisy)
    error = _logits_error(logits, noisy.shape[0], num_classes)
    if error is not None:
        return error
    bucket = owner * logits.shape[1] + logits.argmax(1)
    tally = torch.zeros(xs.shape[0] * logits.shape[1], dtype=torch.int64, device=xs.device)
    return tally.index_add_(0, bucket, torch.ones_like(bucket))


def _tally_compiled(model, x, n, sampler, rows, generator, precision, num_classes):
    """The sampling loop of :func:`counts` with one :func:`compiled_step` per batch.

    Only the raw draw runs eagerly (:meth:`~smoothcert.gpu_sampler.noise.NoiseSampler.draw`,
    through the caller's generator: the stream, hence the samples, are those of the eager loop);
    every call gets ``rows`` rows (static shapes). The last batch is padded: rows past the last
    sample keep stale draws and belong to the extra input ``B`` (zeros), never counted."""
    B, device = x.shape[0], x.device
    _check_generator(generator, device)
    step, total = compiled_step(device), B * n
    raws = sampler.raw_buffers(rows, x.dtype)
    xs = torch.cat([x, torch.zeros_like(x[:1])])
    tally = None
    for start in range(0, total, rows):
        sampler.draw([r[: min(rows, total - start)] for r in raws], generator)
        owner = (torch.arange(start, start + rows, device=device) // n).clamp_(max=B)
        if device.type == "cuda":
            torch.compiler.cudagraph_mark_step_begin()
        batch = step(model, sampler, raws, xs, owner, precision, num_classes)
        if isinstance(batch, str):
            raise ValueError(batch)
        tally = batch.clone() if tally is None else tally.add_(batch)
    k = tally.numel() // (B + 1)
    return tally[: B * k].view(B, k).cpu()


def certify(model, x, cert, n0=100, n=100_000, alpha=0.001, batch_size=1000, rule="binary",
            generator=None, precision="float32", batched=None, compile="auto"):
    """Cohen et al. 2019 CERTIFY (Sec. 3.2) for one input or a batch of inputs.

    Draws ``n0`` selection samples (the top class ``c_A``), then ``n`` fresh estimation samples,
    and calls ``smoothcert.estimators.certify_counts(counts_estimate, cert, alpha,
    select=counts_select, rule=rule, return_bounds=True)``; ``rule`` is ``"binary"`` (Cohen's
    ``p_B = 1 - p_A``), ``"runner-up"`` (a separate bound on the runner-up) or ``"bonferroni"``
    (every class bounded); how ``alpha`` is split is tabulated in ``estimators.certify``. The whole procedure holds with probability ``1 - alpha``
    per input. Returns a :class:`CertifyResult` (one input) or a list of them (a batch).
    """
    alpha = check_alpha(alpha)
    n0 = check_int("n0", n0, minimum=1)
    n = check_int("n", n, minimum=1)
    t0 = time.perf_counter()
    x, single = _as_inputs(x, cert, batched)
    sampler = make_noise(cert, tuple(x.shape[1:]), x.device,
                         torch.float64 if precision == "float64" else torch.float32)
    opts = dict(batch_size=batch_size, generator=generator, precision=precision, batched=True,
                compile=compile)
    c_select = counts(model, x, n0, sampler, **opts).numpy()
    c_est = counts(model, x, n, sampler, num_classes=c_select.shape[1], **opts).numpy()
    seconds = (time.perf_counter() - t0) / x.shape[0]
    pred, radius, p_a, p_b = certify_counts(c_est, cert, alpha, select=c_select, rule=rule,
                                            return_bounds=True)
    results = [
        CertifyResult(int(pred[i]), float(radius[i]), float(p_a[i]), float(p_b[i]),
                      c_select[i], c_est[i], seconds)
        for i in range(len(pred))
    ]
    return results[0] if single else results


def predict(model, x, noise, n=100_000, alpha=0.001, batch_size=1000, generator=None,
            precision="float32", batched=None, compile="auto"):
    """Cohen et al. 2019 PREDICT (Sec. 3.2): the smoothed prediction, or -1 (abstain).

    ``n`` samples per input; ``smoothcert.estimators.predict_counts(counts, alpha)`` runs the
    two-sided binomial test on the top two counts and abstains unless it rejects at ``alpha``
    (then a returned class differs from ``g(x)`` with probability at most ``alpha``, Cohen et
    al. Proposition 1). Returns an int (one input) or an int64 array (a batch).
    """
    alpha = check_alpha(alpha)
    x, single = _as_inputs(x, noise, batched)
    c = counts(model, x, n, noise, batch_size=batch_size, generator=generator,
               precision=precision, batched=True, compile=compile).numpy()
    preds = predict_counts(c, alpha)
    return int(preds[0]) if single else preds


__all__ = ["COMPILE_MODES", "CertifyResult", "PRECISIONS", "bf16_inference_model", "certify",
           "compiled_step", "counts", "predict"]
