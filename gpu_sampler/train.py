"""Noise-augmented training of base classifiers (Cohen et al. 2019, Sec. 3 "Training").

Cohen et al. train the base classifier f on inputs corrupted by the smoothing noise, so that f
classifies x + eps well and the smoothed classifier g(x) = argmax_c P(f(x + eps) = c) has large
p_A. We do the same on Fashion-MNIST with the three noise families of the shipped certificates:
Gaussian at Cohen et al.'s sigma grid, Laplace and uniform at per-coordinate standard deviation 0.5:

==========================  ==============  =======================================
model name                  noise           parameter (docs/contributing.md)
==========================  ==============  =======================================
``fmnist-gaussian-0.12``    N(0, s^2)       sigma = 0.12
``fmnist-gaussian-0.25``    N(0, s^2)       sigma = 0.25
``fmnist-gaussian-0.50``    N(0, s^2)       sigma = 0.5
``fmnist-gaussian-1.00``    N(0, s^2)       sigma = 1.0
``fmnist-laplace-0.50``     Laplace(0, b)   b = 0.5 / sqrt(2)   (std sqrt(2) b = 0.5)
``fmnist-uniform-0.50``     U[-l, l]        lambda = 0.5 sqrt(3)  (std lambda/sqrt(3) = 0.5)
==========================  ==============  =======================================

Noise is added in [0, 1] pixel units before the normalization layer, as at certification.
Training uses SGD with Nesterov momentum and a one-cycle learning rate; a state file after each
epoch lets an interrupted run resume. Metrics (clean accuracy,
and noisy accuracy -- one noise draw per image, fixed seed -- on the full 10k test set) are
measured on the *shipped* weights (reloaded from the checkpoint) and merged into a JSON file.

Recipe (docs/models.md, the model card): all 60,000 training images (no ``--subset``), random
horizontal flips, one fresh noise draw of the model's family per image and step, SGD (momentum
0.9, Nesterov, weight decay 5e-4, batch 128) with a one-cycle learning rate peaking at 0.1, seed
0, float16 storage; ``--epochs 15`` for the sigma = 0.25 and 0.5 models (about 2 minutes per epoch
and model on one idle CPU core), 5 for the others. ``--ars-bundle`` trains the ARS bundle from the
shipped sigma = 0.25 model. Training shipped models (``--all``/``--name``) rewrites
``assets/manifest.json``, the SHA-256 of every checkpoint that :func:`~smoothcert.gpu_sampler.models.shipped_model` checks.

Run ``python -m smoothcert.gpu_sampler.train --help``; ``--all`` trains the six shipped models.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

from ..bounds.base import Noise
from ..bounds.family import REQUIRED, noise_family
from ..core.atomic import atomic_path, atomic_write_text
from .data import load_fashion_mnist, to_tensor
from .models import (METRICS_FILE, SHIPPED_MODELS, fmnist_resnet, load_checkpoint, save_checkpoint,
                     write_manifest)
from .noise import NoiseSampler, make_noise, samplers

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
SHIPPED = SHIPPED_MODELS


def training_sampler(family: str, param: float, shape, device="cpu") -> NoiseSampler:
    """The registered sampler of ``family`` with its scale parameter ``param`` (Gaussian sigma,
    Laplace b, uniform lambda; the family's other parameters at their defaults), float32, for
    inputs of shape ``shape``: the noise the certificate of that family assumes."""
    fam = noise_family(family)
    return make_noise(Noise(fam.name, {fam.scale_param: param}), shape, device=device)


def trainable_families() -> list[str]:
    """Families with a sampler whose only required parameter is the scale (one ``--param``)."""
    return [name for name in samplers()
            if all(p.default is not REQUIRED or p.name == noise_family(name).scale_param
                   for p in noise_family(name).params)]


def evaluate(model, images, labels, family=None, param=None, seed=0, batch_size=1000):
    """Accuracy of ``model`` on uint8 ``images`` (clean when ``family`` is None, else one noise draw)."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    noise = None if family is None else training_sampler(family, param, to_tensor(images[:1]).shape[1:])
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            x = to_tensor(images[i:i + batch_size])
            if noise is not None:
                x = x + noise.sample(len(x), generator=gen)
            pred = model(x).argmax(1).numpy()
            correct += int((pred == labels[i:i + batch_size]).sum())
    return correct / len(images)


def _merge_metrics(path, name, entry) -> None:
    """Merge ``{name: entry}`` into the JSON file at ``path`` (atomic rewrite).

    Several training processes may finish at once: the read-modify-write holds an exclusive
    ``flock`` on ``path + ".lock"`` (in the system temp folder, so no stray file is shipped).
    """
    import fcntl

    lock_path = os.path.join(tempfile.gettempdir(), "smoothcert-" + os.path.abspath(path).replace(os.sep, "_") + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = {}
        if os.path.exists(path):
            with open(path) as f:
                data = json.load(f)
        data[name] = entry
        atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def train_model(family, param, out_path, epochs=3, subset=None, batch_size=128, lr=0.1,
                weight_decay=5e-4, seed=0, root=None, threads=2, log=print, progress=True,
                device="cpu"):
    """Train ``fmnist_resnet`` with noise-augmented inputs; write the checkpoint; return metrics.

    Resumes from ``out_path + ".state.pt"`` (written after every epoch) when it exists.
    ``subset`` uses the first ``subset`` training images. The checkpoint stores float16 weights
    (half the size); the returned accuracies are those of the reloaded, shipped model (on the CPU).
    ``device`` is where the steps run (e.g. ``"cuda"``); the noise and the permutation are drawn
    on the CPU generator whatever the device, so a seed gives the same batches everywhere.
    """
    from tqdm import tqdm

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    images, labels = load_fashion_mnist("train", root)
    if subset is not None:
        images, labels = images[:subset], labels[:subset]
    x_all, y_all = to_tensor(images), torch.from_numpy(labels)
    noise = training_sampler(family, param, x_all.shape[1:])
    model = fmnist_resnet().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True,
                          weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(x_all) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs,
                                                steps_per_epoch=steps_per_epoch)
    gen = torch.Generator().manual_seed(seed)
    state_path = os.fspath(out_path) + ".state.pt"
    start, seconds = 0, 0.0
    config = {"family": family, "param": float(param), "epochs": epochs, "subset": subset,
              "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay, "seed": seed}
    if os.path.exists(state_path):
        st = torch.load(state_path, weights_only=True)
        if st.get("config") != config:
            raise ValueError(f"{state_path} was written by a run with {st.get('config')}, this run "
                             f"has {config}; delete it to start over")
        model.load_state_dict({k: v.to(device) for k, v in st["model"].items()})
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        gen.set_state(st["gen"])
        start, seconds = st["epoch"], st["seconds"]
        log(f"resuming from epoch {start} ({state_path})")
    for epoch in range(start, epochs):
        t0 = time.time()
        model.train()
        perm = torch.randperm(len(x_all), generator=gen)
        bar = tqdm(range(steps_per_epoch), desc=f"{family} {param:.4g} epoch {epoch + 1}/{epochs}",
                   disable=not progress, mininterval=5, file=sys.stderr)
        total, running = 0, 0.0
        for step in bar:
            idx = perm[step * batch_size:(step + 1) * batch_size]
            x, y = x_all[idx], y_all[idx]
            flip = torch.rand(len(x), generator=gen) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
            x = x + noise.sample(len(x), generator=gen)
            loss = F.cross_entropy(model(x.to(device)), y.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += float(loss.detach()) * len(x)
            total += len(x)
            bar.set_postfix(loss=f"{running / total:.3f}", refresh=False)
        seconds += time.time() - t0
        with atomic_path(state_path) as tmp:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                        "sched": sched.state_dict(), "gen": gen.get_state(),
                        "epoch": epoch + 1, "seconds": seconds, "config": config}, tmp)
        log(f"epoch {epoch + 1}/{epochs}: train loss {running / total:.4f}, {seconds:.0f} s so far")
    meta = {"family": family, "param": param, "epochs": epochs, "seed": seed,
            "train_images": len(x_all), "train_seconds": round(seconds, 1), "batch_size": batch_size,
            "lr": lr, "weight_decay": weight_decay}
    save_checkpoint(model, out_path, "fmnist_resnet", storage_dtype=torch.float16, training=meta)
    shipped = load_checkpoint(out_path)
    test_x, test_y = load_fashion_mnist("test", root)
    meta["clean_test_accuracy"] = evaluate(shipped, test_x, test_y)
    meta["noisy_test_accuracy"] = evaluate(shipped, test_x, test_y, family, param, seed=seed + 1)
    meta["test_images"] = len(test_x)
    os.remove(state_path)
    log(f"{out_path}: clean {meta['clean_test_accuracy']:.4f}, noisy {meta['noisy_test_accuracy']:.4f}")
    return meta


def train_ars_bundle(out_path, base="fmnist-gaussian-0.25", epochs=1, subset=None, seed=0, root=None,
                     threads=2, device="cpu", progress=True, log=print) -> dict:
    """Train the shipped ARS bundle (Hong & Hong 2022, Sec. 5; :mod:`.per_input.ars_generator`).

    Both variants -- the per-input generator and the dataset-wise maps -- are trained jointly with
    their own copy of the shipped ``base`` classifier (Eqs. 9-12, :class:`ARSTrainConfig` defaults:
    sigma0 = 0.25, two noise draws per image, Adam) on the first ``subset`` training images (all
    60,000 by default) for ``epochs`` epochs; the bundle is written atomically with its metadata
    (the settings, the loss history and the command) and the trained variants' states resume from
    ``out_path + ".generator.pt"`` / ``".dataset.pt"``, removed at the end.
    """
    import copy

    from .models import shipped_model
    from .per_input.ars_generator import (ARSTrainConfig, DatasetNoise, NoiseGenerator,
                                          save_ars_bundle, train_ars)

    torch.set_num_threads(threads)
    images, labels = load_fashion_mnist("train", root)
    if subset is not None:
        images, labels = images[:subset], labels[:subset]
    x, y = to_tensor(images, device), torch.from_numpy(labels).to(device)
    base_model = shipped_model(base, device)
    sigma0 = float(SHIPPED[base][2])
    cfg = ARSTrainConfig(sigma0=sigma0, epochs=epochs)
    pairs, history, t0 = {}, {}, time.time()
    for key, noise in (("generator", NoiseGenerator(channels=x.shape[1], sigma0=sigma0)),
                       ("dataset", DatasetNoise(tuple(x.shape[1:]), sigma0=sigma0))):
        clf, noise = copy.deepcopy(base_model), noise.to(device)
        gen = torch.Generator(device=device).manual_seed(seed + (key == "dataset"))
        state = os.fspath(out_path) + f".{key}.pt"
        history[key] = train_ars(clf, noise, x, y, cfg, generator=gen, checkpoint=state, progress=progress)
        pairs[key] = (clf.cpu(), noise.cpu())
        log(f"ARS {key}: {history[key][-1]}")
    meta = {"base_model": base, "training": {**cfg.__dict__}, "history_generator": history["generator"],
            "history_dataset": history["dataset"], "train_images": len(x), "seed": seed,
            "train_seconds": round(time.time() - t0, 1),
            "command": f"python -m smoothcert.gpu_sampler.train --ars-bundle --epochs {epochs}"
                       + (f" --subset {subset}" if subset is not None else "")}
    save_ars_bundle(out_path, pairs["generator"], pairs["dataset"], **meta)
    for key in pairs:
        os.remove(os.fspath(out_path) + f".{key}.pt")
    return meta


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m smoothcert.gpu_sampler.train",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n")[0] + "\n\nexamples:\n"
        "  python -m smoothcert.gpu_sampler.train --all                  # the six shipped models\n"
        "  python -m smoothcert.gpu_sampler.train --name fmnist-gaussian-0.25 --epochs 15"
        "   # the model card's recipe\n"
        "  python -m smoothcert.gpu_sampler.train --name fmnist-gaussian-0.25 --epochs 1 --subset 10000\n"
        "  python -m smoothcert.gpu_sampler.train --family laplace --param 0.3 --out my.pt",
    )
    p.add_argument("--all", action="store_true", help="train every shipped model into --assets")
    p.add_argument("--ars-bundle", action="store_true",
                   help="train the shipped ARS bundle from the shipped fmnist-gaussian-0.25 (--epochs, --subset)")
    p.add_argument("--name", choices=sorted(SHIPPED), action="append", help="train this shipped model")
    p.add_argument("--family", choices=trainable_families(), help="custom noise family")
    p.add_argument("--param", type=float,
                   help="custom noise family's scale parameter (Gaussian sigma, Laplace b, uniform lambda, ...)")
    p.add_argument("--out", help="checkpoint path for --family/--param")
    p.add_argument("--assets", default=ASSETS, help="folder for shipped checkpoints and metrics.json")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--subset", type=int, default=None, help="use the first N training images")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1 is fastest when the CPU is shared; run models in parallel instead)")
    p.add_argument("--data-root", default=None, help="folder with the Fashion-MNIST idx files")
    p.add_argument("--device", default="cpu", help="torch device of the training steps (cpu, cuda, cuda:1, ...)")
    args = p.parse_args(argv)
    if args.ars_bundle:
        from .per_input.ars_generator import SHIPPED_BUNDLE

        os.makedirs(args.assets, exist_ok=True)
        meta = train_ars_bundle(os.path.join(args.assets, SHIPPED_BUNDLE), epochs=args.epochs,
                                subset=args.subset, seed=args.seed, root=args.data_root,
                                threads=args.threads, device=args.device)
        write_manifest(args.assets)
        print(json.dumps({k: meta[k] for k in ("train_images", "train_seconds", "command")}))
        return 0
    common = dict(epochs=args.epochs, subset=args.subset, batch_size=args.batch, lr=args.lr,
                  seed=args.seed, root=args.data_root, threads=args.threads, device=args.device)
    if args.family or args.param or args.out:
        if not (args.family and args.param and args.out):
            p.error("--family, --param and --out go together")
        print(json.dumps(train_model(args.family, args.param, args.out, **common), indent=2))
        return 0
    names = sorted(SHIPPED) if args.all else (args.name or [])
    if not names:
        p.error("give --all, --name NAME or --family/--param/--out")
    os.makedirs(args.assets, exist_ok=True)
    for name in names:
        family, _, value, _ = SHIPPED[name]
        meta = train_model(family, value, os.path.join(args.assets, name + ".pt"), **common)
        _merge_metrics(os.path.join(args.assets, METRICS_FILE), name, meta)
        write_manifest(args.assets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
