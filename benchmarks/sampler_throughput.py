"""Throughput of the counting sampler against its limit and against a Cohen-style loop.

Measured in one run, on the same model, the same batch size and interleaved repetitions (the best
repetition of each method counts, so load from other processes hurts every method alike):

* ``bare forward``      -- ``model(batch)`` on a ready batch under inference_mode: the limit.
* ``counts float32``    -- ``smoothcert.gpu_sampler.counts`` (noise, add, forward, argmax, tally).
* ``counts bfloat16``   -- the same with ``precision="bfloat16"`` (float32 noise, then the
  BatchNorm-folded channels_last inference copy under bf16 autocast).
* ``Cohen-style loop``  -- Cohen et al.'s ``core.py`` ``_sample_noise``: ``x.repeat``,
  ``randn_like * sigma``, forward, argmax, bincount, float32, under ``torch.no_grad``.
* ``compiled limit``    -- noise + add + the model + argmax + tally as one ``torch.compile``d
  function, no generator, no padding (float32 on the CPU; on CUDA the folded bf16 copy): the real
  limit.
* ``counts compiled step`` -- ``counts(..., compile=True)``: only the raw draw eager (through the
  seeded generator), transform + add + forward + argmax + tally one compiled step (CUDA graphs on
  CUDA); the limit's precision.
* ``counts compiled fwd`` -- the previous design: eager noise, add and tally around a
  ``torch.compile``d forward (+ bf16 autocast on CUDA); the limit's precision.
* ``counts grid (sound)`` -- ``counts`` with the ``gaussian-grid`` noise (Voracek & Hein 2023:
  exact integer noise, inputs in integer units): the price of the sound mode.

``--no-compile`` leaves out the three compiled rows (compiling a ResNet takes minutes on 2 cores).

Goals: counts float32 >= 0.95 x bare forward; counts bfloat16 >= 2 x the Cohen-style loop with
>= 99.5% agreement of bf16 and float32 predictions on the same noisy samples (eager, and on CUDA
the compiled step); on CUDA the compiled step >= 0.9 x the compiled limit; on the CPU the
compiled step never slower per CPU-second than eager counts.

    python benchmarks/sampler_throughput.py            # ~1-2 minutes on two cores
    python benchmarks/sampler_throughput.py --samples 20000 --reps 5
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from smoothcert import get
from smoothcert.gpu_sampler import counts, default_device
from smoothcert.gpu_sampler.data import embedded_sample, to_tensor
from smoothcert.gpu_sampler.models import fmnist_resnet, load_checkpoint
from smoothcert.gpu_sampler.sampler import bf16_inference_model

ASSETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gpu_sampler", "assets")


def bf16_support() -> str:
    """What this CPU and torch offer for bfloat16 (oneDNN/mkldnn, AVX512-BF16, AMX)."""
    flags = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    has = {name: name in flags.split() for name in ("avx512_bf16", "amx_bf16", "amx_tile")}
    return (
        f"torch {torch.__version__}; mkldnn available={torch.backends.mkldnn.is_available()} "
        f"enabled={torch.backends.mkldnn.enabled}; mkldnn bf16 supported="
        f"{torch.ops.mkldnn._is_mkldnn_bf16_supported()}; cpu capability="
        f"{torch.backends.cpu.get_cpu_capability()}; cpu flags: "
        + ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in has.items())
    )


def load_model(path, device):
    if path and os.path.isfile(path):
        return load_checkpoint(path, device=device), os.path.basename(path)
    torch.manual_seed(0)
    return fmnist_resnet().to(device).eval(), "fmnist_resnet (random init: no shipped checkpoint found)"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def cohen_loop(model, x, n, sigma, batch_size, num_classes):
    """Cohen et al. 2019 ``core.Smooth._sample_noise`` (their code, restated): float32."""
    tally = torch.zeros(num_classes, dtype=torch.int64, device=x.device)
    with torch.no_grad():
        remaining = n
        while remaining > 0:
            this = min(batch_size, remaining)
            remaining -= this
            batch = x.repeat((this, 1, 1, 1))
            noise = torch.randn_like(batch, device=x.device) * sigma
            preds = model(batch + noise).argmax(1)
            tally += torch.bincount(preds, minlength=num_classes)
    return tally


def time_methods(methods, reps, device):
    """Best wall time and best process CPU time of each method over ``reps`` interleaved runs.

    On a machine shared with other jobs the wall time of a run depends on their load; the CPU
    time this process spends is much less sensitive to it, so both are reported.
    """
    wall = {name: float("inf") for name in methods}
    cpu = dict(wall)
    for _ in range(reps):
        for name, fn in methods.items():
            sync(device)
            t, c = time.perf_counter(), time.process_time()
            fn()
            sync(device)
            wall[name] = min(wall[name], time.perf_counter() - t)
            cpu[name] = min(cpu[name], time.process_time() - c)
    return wall, cpu


def compiled_limit(model, x, sigma, batch_size, num_classes, device):
    """``n -> tally``: noise, add, forward, argmax and tally of one batch as one compiled function
    (the folded bf16 copy under autocast with CUDA graphs on CUDA, float32 on the CPU)."""
    cuda = device.type == "cuda"
    net = bf16_inference_model(model) if cuda else model

    def step():
        noisy = x + sigma * torch.randn(batch_size, *x.shape, device=device)
        if cuda:
            noisy = noisy.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cuda):
            return torch.bincount(net(noisy).argmax(1), minlength=num_classes)

    fast = torch.compile(step, mode="max-autotune-no-cudagraphs" if cuda else None)

    def run(n):
        with torch.inference_mode():
            tally = torch.zeros(num_classes, dtype=torch.int64, device=device)
            for _ in range(n // batch_size):
                tally += fast()
        return tally

    return run


class _Bf16Forward(torch.nn.Module):
    """What the bf16 path runs on a float32 batch: channels_last, then the folded copy under
    bfloat16 autocast (for the compiled-forward row on CUDA)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, batch):
        with torch.autocast(device_type=batch.device.type, dtype=torch.bfloat16):
            return self.net(batch.contiguous(memory_format=torch.channels_last))


def compiled_forward(model, device, bf16):
    """The forward alone under ``torch.compile`` (CUDA graphs on CUDA), for ``counts(...,
    compile=False)``: eager noise, add and tally around it."""
    net = _Bf16Forward(bf16_inference_model(model)) if bf16 else model
    return torch.compile(net, mode="reduce-overhead" if device.type == "cuda" else None, dynamic=False)


def agreement(model, images, cert, per_image, batch_size, seed, compile=False):
    """Fraction of noisy samples on which ``counts`` at bfloat16 (eager, or the compiled step)
    and at float32 (eager) predict the same class.

    Each image is repeated ``per_image`` times and counted with ``n = 1``, so every count row is
    one sample's prediction; the same seed gives both precisions the very same float32 noise
    (the raw draw does not depend on the precision).
    """
    xs = images.repeat_interleave(per_image, dim=0)
    opts = dict(batch_size=batch_size, batched=True)
    gen = torch.Generator(device=images.device)
    p32 = counts(model, xs, 1, cert, generator=gen.manual_seed(seed), compile=False, **opts)
    p16 = counts(model, xs, 1, cert, generator=gen.manual_seed(seed), precision="bfloat16",
                 compile=compile, **opts)
    return float((p32.argmax(1) == p16.argmax(1)).double().mean()), len(xs)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=8000, help="noisy samples per method and repetition")
    p.add_argument("--batch", type=int, default=1000, help="batch size (the same for every method)")
    p.add_argument("--reps", type=int, default=3, help="interleaved repetitions (best counts)")
    p.add_argument("--sigma", type=float, default=0.25)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--agree-images", type=int, default=40, help="images for the bf16 agreement check")
    p.add_argument("--agree-per-image", type=int, default=500)
    p.add_argument("--checkpoint", default=os.path.join(ASSETS, "fmnist-gaussian-0.25.pt"))
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = default_device()
    model, model_name = load_model(args.checkpoint, device)
    images, _ = embedded_sample()
    images = to_tensor(images, device=device)
    x = images[0]
    cert = get("cohen-gaussian-l2", sigma=args.sigma)
    grid = get("gaussian-grid-l2", sigma=args.sigma)
    num_classes, n, bs = 10, args.samples, args.batch
    ready = (x + args.sigma * torch.randn(bs, *x.shape, device=device)).contiguous()

    def bare():
        with torch.inference_mode():
            for _ in range(n // bs):
                model(ready).argmax(1)

    gen = torch.Generator(device=device).manual_seed(0)
    methods = {
        "bare forward (float32)": bare,
        "counts float32": lambda: counts(model, x, n, cert, batch_size=bs, generator=gen),
        "counts bfloat16": lambda: counts(model, x, n, cert, batch_size=bs, generator=gen,
                                          precision="bfloat16"),
        "Cohen-style loop (float32)": lambda: cohen_loop(model, x, n, args.sigma, bs, num_classes),
        "counts grid (sound)": lambda: counts(model, x, n, grid, batch_size=bs, generator=gen),
    }
    cuda = device.type == "cuda"
    prec = "bfloat16" if cuda else "float32"  # the compiled rows run at the limit's precision
    eager = f"counts {prec}"
    if not args.no_compile:
        limit = compiled_limit(model, x, args.sigma, bs, num_classes, device)
        fwd = compiled_forward(model, device, bf16=cuda)
        methods["compiled limit"] = lambda: limit(n)
        methods["counts compiled step"] = lambda: counts(model, x, n, cert, batch_size=bs, generator=gen,
                                                         precision=prec, compile=True)
        methods["counts compiled fwd"] = lambda: counts(fwd, x, n, cert, batch_size=bs, generator=gen,
                                                        compile=False)
    print(f"device: {device}; threads: {torch.get_num_threads()}; model: {model_name}")
    print(bf16_support())
    print(f"{n} samples per method, batch {bs}, best of {args.reps} interleaved repetitions\n")
    methods["bare forward (float32)"]()  # warm-up (oneDNN primitive caches)
    methods["counts bfloat16"]()
    for name in ("compiled limit", "counts compiled step", "counts compiled fwd", "counts grid (sound)"):
        if name in methods:
            t = time.perf_counter()
            methods[name]()  # compiles (or builds the grid table) once, outside the timing
            print(f"  warm-up {name}: {time.perf_counter() - t:.1f} s")
    wall, cpu = time_methods(methods, args.reps, device)
    size = {k: (n // bs * bs if k.startswith(("bare", "compiled")) else n) for k in methods}
    rate = {k: size[k] / t for k, t in wall.items()}
    rate_cpu = {k: size[k] / t for k, t in cpu.items()}
    print(f"  {'method':<28} {'samples/s (wall)':>17} {'samples per CPU-s':>18}")
    for k in methods:
        print(f"  {k:<28} {rate[k]:17.0f} {rate_cpu[k]:18.0f}")

    def ratio(a, b):
        return rate[a] / rate[b], rate_cpu[a] / rate_cpu[b]

    r32, r32c = ratio("counts float32", "bare forward (float32)")
    r16, r16c = ratio("counts bfloat16", "Cohen-style loop (float32)")
    agree = images[: args.agree_images]
    frac, total = agreement(model, agree, cert, args.agree_per_image, bs, 1)
    print()
    print(f"counts float32 / bare forward      = {r32:.3f} wall, {r32c:.3f} CPU   (goal >= 0.95)")
    print(f"counts bfloat16 / Cohen-style loop = {r16:.3f} wall, {r16c:.3f} CPU   (goal >= 2)")
    print(f"bf16 vs float32 prediction agreement = {100 * frac:.2f}% of {total} noisy samples "
          f"(goal >= 99.5%)")
    if cuda and not args.no_compile:
        frac, total = agreement(model, agree, cert, args.agree_per_image, bs, 1, compile=True)
        print(f"bf16 compiled step vs float32 eager agreement = {100 * frac:.2f}% of {total} noisy "
              f"samples (goal >= 99.5%)")
    print(f"counts grid (sound) / counts float32 = {ratio('counts grid (sound)', 'counts float32')[0]:.3f} wall")
    if "compiled limit" in methods:
        for a, b, goal in [("compiled limit", "bare forward (float32)", ""),
                           ("counts compiled step", "compiled limit", "   (goal >= 0.9 on CUDA)"),
                           ("counts compiled step", "counts compiled fwd", ""),
                           ("counts compiled step", eager, "   (goal >= 1 per CPU-s on the CPU)"),
                           ("counts compiled fwd", eager, "")]:
            print(f"{a} / {b} = {ratio(a, b)[0]:.3f} wall, {ratio(a, b)[1]:.3f} CPU{goal}")
    if "random init" in model_name:
        print("  (random-init model: agreement is only meaningful with a trained checkpoint)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
