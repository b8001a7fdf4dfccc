"""Models: Cohen et al. checkpoint layout, normalization, checkpoint round trips and mismatches."""

import json
import os
import pickle
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from smoothcert.gpu_sampler import models as M


def expected_cifar_keys(blocks_per_stage):
    """Parameter/buffer names of Cohen et al.'s cifar_resnet checkpoints, written out from the
    architecture description (He et al. 2016 Sec. 4.2; Sequential(NormalizeLayer, net) -> '1.')."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = {"1.conv1.weight", "1.fc.weight", "1.fc.bias"} | {f"1.bn1.{s}" for s in bn}
    for stage in (1, 2, 3):
        for i in range(blocks_per_stage):
            pre = f"1.layer{stage}.{i}."
            keys |= {pre + "conv1.weight", pre + "conv2.weight"}
            keys |= {pre + f"bn{j}.{s}" for j in (1, 2) for s in bn}
            if stage > 1 and i == 0:
                keys |= {pre + "downsample.0.weight"} | {pre + f"downsample.1.{s}" for s in bn}
    return keys


@pytest.mark.parametrize("arch,n", [("cifar_resnet20", 3), ("cifar_resnet110", 18)])
def test_cifar_resnet_keys_match_cohen_checkpoints(arch, n):
    model = M.build_model(arch)
    assert set(model.state_dict()) == expected_cifar_keys(n)
    # He et al. Table 6: ResNet-20 has 0.27M parameters, ResNet-110 1.7M.
    params = M.count_parameters(model)
    assert abs(params - {20: 0.27e6, 110: 1.7e6}[6 * n + 2]) / params < 0.03
    assert model[1].layer2[0].conv1.stride == (2, 2) and model[1].layer3[0].conv1.stride == (2, 2)


def test_cifar_forward_shape_and_fmnist_size():
    out = M.cifar_resnet20().eval()(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 10)
    fm = M.fmnist_resnet().eval()
    assert fm(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert 100_000 <= M.count_parameters(fm) <= 500_000


def test_normalize_layer_has_no_state_and_normalizes():
    layer = M.NormalizeLayer((0.5, 0.25), (0.5, 2.0))
    assert len(layer.state_dict()) == 0 and len(list(layer.parameters())) == 0
    x = torch.rand(4, 2, 5, 5)
    y = layer(x)
    assert torch.allclose(y[:, 0], (x[:, 0] - 0.5) / 0.5)
    assert torch.allclose(y[:, 1], (x[:, 1] - 0.25) / 2.0)
    model = M.fmnist_resnet()
    assert isinstance(model[0], M.NormalizeLayer) and not any(k.startswith("0.") for k in model.state_dict())


def _cohen_style_checkpoint(path, arch="cifar_resnet20", data_parallel=False):
    model = M.build_model(arch).eval()
    for p in model.parameters():  # move off the initialization so a non-load would show
        p.data.normal_(0, 0.05)
    state = model.state_dict()
    if data_parallel:
        state = {("1.module." + k[2:]) if k.startswith("1.") else k: v for k, v in state.items()}
    torch.save({"epoch": 90, "arch": arch, "state_dict": state, "optimizer": {}}, path)
    return model


@pytest.mark.parametrize("data_parallel", [False, True])
def test_load_cohen_style_checkpoint_gives_same_outputs(tmp_path, data_parallel):
    path = tmp_path / "checkpoint.pth.tar"
    ref = _cohen_style_checkpoint(path, data_parallel=data_parallel)
    model, meta = M.load_checkpoint(path, "cpu", return_meta=True)
    assert meta["arch"] == "cifar_resnet20" and meta["epoch"] == 90 and not model.training
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), ref(x))


def test_save_load_round_trip_and_half_storage(tmp_path):
    model = M.fmnist_resnet().eval()
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    x = torch.rand(4, 1, 28, 28)
    M.save_checkpoint(model, tmp_path / "a.pt", "fmnist_resnet", note="hello")
    back, meta = M.load_checkpoint(tmp_path / "a.pt", return_meta=True)
    assert meta["note"] == "hello"
    with torch.no_grad():
        assert torch.equal(back(x), model(x))
    M.save_checkpoint(model, tmp_path / "h.pt", "fmnist_resnet", storage_dtype=torch.float16)
    assert os.path.getsize(tmp_path / "h.pt") < 0.6 * os.path.getsize(tmp_path / "a.pt")
    half = M.load_checkpoint(tmp_path / "h.pt")
    assert all(p.dtype == torch.float32 for p in half.parameters())
    with torch.no_grad():
        assert torch.allclose(half(x), model(x), rtol=0.05, atol=0.05)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_mismatched_checkpoint_names_keys(tmp_path):
    state = M.cifar_resnet20().state_dict()
    del state["1.layer1.0.conv1.weight"]
    state["1.extra.weight"] = torch.zeros(3)
    state["1.fc.bias"] = torch.zeros(7)
    torch.save({"arch": "cifar_resnet20", "state_dict": state}, tmp_path / "bad.pt")
    with pytest.raises(ValueError) as e:
        M.load_checkpoint(tmp_path / "bad.pt")
    msg = str(e.value)
    assert "missing keys: 1.layer1.0.conv1.weight" in msg
    assert "unexpected keys: 1.extra.weight" in msg
    assert "1.fc.bias: checkpoint (7,) vs model (10,)" in msg
    # A ResNet-20 checkpoint is not a ResNet-110.
    good = M.cifar_resnet20().state_dict()
    torch.save({"arch": "cifar_resnet110", "state_dict": good}, tmp_path / "wrong_arch.pt")
    with pytest.raises(ValueError, match="missing keys: .*in all"):
        M.load_checkpoint(tmp_path / "wrong_arch.pt")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_load_refuses_pickled_code_and_bad_files(tmp_path):
    state = M.fmnist_resnet().state_dict()
    with open(tmp_path / "evil.pt", "wb") as f:
        torch.save({"arch": "fmnist_resnet", "state_dict": state, "x": _Evil()}, f)
    with pytest.raises(ValueError) as e:  # our words, one line, naming the file
        M.load_checkpoint(tmp_path / "evil.pt")
    msg = str(e.value)
    assert "\n" not in msg and repr(str(tmp_path / "evil.pt")) in msg and "refused" in msg
    assert "weights_only" not in msg and isinstance(e.value.__cause__, pickle.UnpicklingError)
    torch.save({"state_dict": state}, tmp_path / "noarch.pt")
    with pytest.raises(ValueError, match="'arch'"):
        M.load_checkpoint(tmp_path / "noarch.pt")
    torch.save({"arch": "vgg16", "state_dict": state}, tmp_path / "vgg.pt")
    with pytest.raises(ValueError, match="arch must be one of .*'vgg16'"):
        M.load_checkpoint(tmp_path / "vgg.pt")
    with pytest.raises(ValueError, match="no such checkpoint"):
        M.load_checkpoint(tmp_path / "absent.pt")


def test_bad_arch():
    with pytest.raises(ValueError, match="'resnet18'"):
        M.build_model("resnet18")
    with pytest.raises(ValueError, match="arch must be one of"):
        M.save_checkpoint(M.fmnist_resnet(), "/tmp/never-written.pt", "nope")


# ---------------------------------------------------------------------------------------------
# Cohen et al.'s published checkpoints, written down from their code (github locuslab/smoothing,
# independently of ours): code/datasets.py holds the constants; code/architectures.py builds
# Sequential(NormalizeLayer, net) with a NormalizeLayer whose means/sds are plain attributes (no
# state, so every key starts with "1."), net = archs/cifar_resnet.py's ResNet(depth) for CIFAR-10
# and DataParallel(torchvision resnet50()) for ImageNet ("1.module."); code/train.py saves
# {"epoch", "arch", "state_dict", "optimizer"}.
COHEN_CIFAR10 = ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
COHEN_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _bn_layout(pre, c):
    return {pre + s: (() if s == "num_batches_tracked" else (c,)) for s in _BN}


def cohen_cifar_layout(depth):
    """key -> shape of archs/cifar_resnet.py ResNet(depth, 10): 3x3 stem of 16, stages of
    (depth - 2) / 6 BasicBlocks at 16/32/64 planes, downsample = 1x1 conv + BN where the width
    changes, fc 64 -> 10."""
    n = (depth - 2) // 6
    lay = {"1.conv1.weight": (16, 3, 3, 3), **_bn_layout("1.bn1.", 16), "1.fc.weight": (10, 64),
           "1.fc.bias": (10,)}
    cin = 16
    for stage, planes in enumerate((16, 32, 64), start=1):
        for i in range(n):
            pre, inp = f"1.layer{stage}.{i}.", (cin if i == 0 else planes)
            lay |= {pre + "conv1.weight": (planes, inp, 3, 3), pre + "conv2.weight": (planes, planes, 3, 3)}
            lay |= _bn_layout(pre + "bn1.", planes) | _bn_layout(pre + "bn2.", planes)
            if i == 0 and inp != planes:
                lay |= {pre + "downsample.0.weight": (planes, inp, 1, 1), **_bn_layout(pre + "downsample.1.", planes)}
        cin = planes
    return lay


def torchvision_resnet50_layout(prefix="1.module."):
    """key -> shape of torchvision resnet50(): 7x7 stem of 64, [3, 4, 6, 3] Bottlenecks at widths
    64/128/256/512 (conv1 1x1, conv2 3x3, conv3 1x1 to 4x width; downsample in each first block),
    fc 2048 -> 1000."""
    lay = {prefix + "conv1.weight": (64, 3, 7, 7), **_bn_layout(prefix + "bn1.", 64),
           prefix + "fc.weight": (1000, 2048), prefix + "fc.bias": (1000,)}
    cin = 64
    for stage, (w, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3)), start=1):
        for i in range(blocks):
            pre, inp = f"{prefix}layer{stage}.{i}.", (cin if i == 0 else 4 * w)
            lay |= {pre + "conv1.weight": (w, inp, 1, 1), pre + "conv2.weight": (w, w, 3, 3),
                    pre + "conv3.weight": (4 * w, w, 1, 1)}
            lay |= _bn_layout(pre + "bn1.", w) | _bn_layout(pre + "bn2.", w) | _bn_layout(pre + "bn3.", 4 * w)
            if i == 0:
                lay |= {pre + "downsample.0.weight": (4 * w, inp, 1, 1), **_bn_layout(pre + "downsample.1.", 4 * w)}
        cin = 4 * w
    return lay


def _random_state(layout, seed):
    """Random tensors with exactly the layout's keys and shapes; convolutions at half the He scale
    (so 54 residual blocks keep the logits of order 1) and BN statistics away from identity, so that a wrong constant or a skipped layer shows in the logits."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in layout.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000)
        elif key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(shape, generator=g)
        elif len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            state[key] = torch.randn(shape, generator=g) * (0.5 / fan_in) ** 0.5  # half He: no blow-up
        elif key.endswith(".weight") and "fc" not in key:  # BN scale
            state[key] = 1.0 + 0.1 * torch.randn(shape, generator=g)
        else:
            state[key] = 0.1 * torch.randn(shape, generator=g)
    return state


def _bn(x, sd, pre):
    return F.batch_norm(x, sd[pre + "running_mean"], sd[pre + "running_var"], sd[pre + "weight"],
                        sd[pre + "bias"], training=False, eps=1e-5)


def _normalize(x, consts):
    means, sds = (torch.tensor(c).view(1, -1, 1, 1) for c in consts)
    return (x - means) / sds


def cohen_cifar_forward(sd, x, depth):
    """archs/cifar_resnet.py's forward, from the state dict alone (functional ops)."""
    z = F.relu(_bn(F.conv2d(_normalize(x, COHEN_CIFAR10), sd["1.conv1.weight"], padding=1), sd, "1.bn1."))
    for stage in (1, 2, 3):
        for i in range((depth - 2) // 6):
            pre, stride = f"1.layer{stage}.{i}.", (2 if stage > 1 and i == 0 else 1)
            out = F.relu(_bn(F.conv2d(z, sd[pre + "conv1.weight"], stride=stride, padding=1), sd, pre + "bn1."))
            out = _bn(F.conv2d(out, sd[pre + "conv2.weight"], padding=1), sd, pre + "bn2.")
            if pre + "downsample.0.weight" in sd:
                z = _bn(F.conv2d(z, sd[pre + "downsample.0.weight"], stride=stride), sd, pre + "downsample.1.")
            z = F.relu(out + z)
    return F.linear(F.avg_pool2d(z, 8).flatten(1), sd["1.fc.weight"], sd["1.fc.bias"])


def torchvision_resnet50_forward(sd, x, prefix="1.module."):
    """torchvision resnet50's forward (stride in the 3x3 convolution), from the state dict alone."""
    p = prefix
    z = F.relu(_bn(F.conv2d(_normalize(x, COHEN_IMAGENET), sd[p + "conv1.weight"], stride=2, padding=3), sd, p + "bn1."))
    z = F.max_pool2d(z, 3, stride=2, padding=1)
    for stage, blocks in enumerate((3, 4, 6, 3), start=1):
        for i in range(blocks):
            pre, stride = f"{p}layer{stage}.{i}.", (2 if stage > 1 and i == 0 else 1)
            out = F.relu(_bn(F.conv2d(z, sd[pre + "conv1.weight"]), sd, pre + "bn1."))
            out = F.relu(_bn(F.conv2d(out, sd[pre + "conv2.weight"], stride=stride, padding=1), sd, pre + "bn2."))
            out = _bn(F.conv2d(out, sd[pre + "conv3.weight"]), sd, pre + "bn3.")
            if i == 0:
                z = _bn(F.conv2d(z, sd[pre + "downsample.0.weight"], stride=stride), sd, pre + "downsample.1.")
            z = F.relu(out + z)
    return F.linear(z.mean(dim=(2, 3)), sd[p + "fc.weight"], sd[p + "fc.bias"])


def _save_cohen(path, arch, state):
    torch.save({"epoch": 90, "arch": arch, "state_dict": state, "optimizer": {"state": {}, "param_groups": []}}, path)


@pytest.mark.parametrize("depth", [20, 110])
def test_cohen_cifar_checkpoint_from_their_layout_gives_their_logits(tmp_path, depth):
    """A checkpoint in Cohen et al.'s published layout loads and computes their logits: their
    normalization constants, their key names and shapes, their forward pass."""
    state = _random_state(cohen_cifar_layout(depth), seed=depth)
    _save_cohen(tmp_path / "checkpoint.pth.tar", f"cifar_resnet{depth}", state)
    model = M.load_checkpoint(tmp_path / "checkpoint.pth.tar")
    assert model[0].means.flatten().tolist() == list(torch.tensor(COHEN_CIFAR10[0]).tolist())
    assert model[0].sds.flatten().tolist() == list(torch.tensor(COHEN_CIFAR10[1]).tolist())
    x = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = model(x), cohen_cifar_forward(state, x, depth)
    assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-4 * theirs.abs().max().item())
    assert torch.equal(ours.argmax(1), theirs.argmax(1))


def test_cohen_imagenet_resnet50_checkpoint_loads_and_gives_their_logits(tmp_path):
    """Their ImageNet ResNet-50 (DataParallel keys "1.module.") loads with or without torchvision."""
    layout = torchvision_resnet50_layout()
    state = _random_state(layout, seed=50)
    _save_cohen(tmp_path / "checkpoint.pth.tar", "resnet50", state)
    model = M.load_checkpoint(tmp_path / "checkpoint.pth.tar")
    assert model[0].means.flatten().tolist() == list(torch.tensor(COHEN_IMAGENET[0]).tolist())
    assert model[0].sds.flatten().tolist() == list(torch.tensor(COHEN_IMAGENET[1]).tolist())
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert got == torchvision_resnet50_layout(prefix="1.")
    assert M.count_parameters(model) == 25_557_032  # torchvision's ResNet-50
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ours, theirs = model(x), torchvision_resnet50_forward(state, x)
    assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-4 * theirs.abs().max().item())


class _BrokenTorchvision:
    """A torchvision wheel built for another torch: importing it raises RuntimeError."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torchvision":
            raise RuntimeError("operator torchvision::nms does not exist")
        return None


@pytest.mark.parametrize("broken", [False, True])
def test_resnet50_without_a_working_torchvision(monkeypatch, broken):
    for name in [m for m in sys.modules if m.split(".")[0] == "torchvision"]:
        monkeypatch.delitem(sys.modules, name)
    if broken:
        monkeypatch.setattr(sys, "meta_path", [_BrokenTorchvision(), *sys.meta_path])
    else:
        monkeypatch.setitem(sys.modules, "torchvision", None)  # import raises ImportError
    model = M.build_model("resnet50", num_classes=7)
    assert isinstance(model[1], M.ResNet50)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == {
        **torchvision_resnet50_layout(prefix="1."), "1.fc.weight": (7, 2048), "1.fc.bias": (7,)}


# ---------------------------------------------------------------------------------------------
# training
@pytest.mark.parametrize("name", ["fmnist-gaussian-0.50", "fmnist-laplace-0.50", "fmnist-uniform-0.50"])
def test_training_noise_has_the_stated_law(name):
    from smoothcert.gpu_sampler.train import training_sampler

    family, _, value, _ = M.SHIPPED_MODELS[name]
    noise = training_sampler(family, value, (400_000,))
    z = noise.sample(1, torch.Generator().manual_seed(3))[0].double()
    assert noise.dtype == torch.float32 and torch.isfinite(z).all()
    assert abs(z.std().item() - 0.5) < 0.005  # matched per-coordinate std (5 standard errors)
    assert abs(z.mean().item()) < 0.005
    # E|z| separates the three laws of equal std: sigma sqrt(2/pi), b, lambda/2.
    mean_abs = {"gaussian": value * (2 / torch.pi) ** 0.5, "laplace": value, "uniform": value / 2}[family]
    assert abs(z.abs().mean().item() - mean_abs) < 0.004
    if family == "uniform":
        assert z.abs().max().item() <= value


@pytest.mark.parametrize("name", sorted(M.SHIPPED_MODELS))
def test_training_noise_is_the_certificates_sampler(name):
    # the model is trained on exactly the noise it is certified with: the registered sampler of
    # its family at its parameter (same seed, same draws)
    from smoothcert.bounds import Noise
    from smoothcert.bounds.family import noise_family
    from smoothcert.gpu_sampler.noise import make_noise
    from smoothcert.gpu_sampler.train import training_sampler

    family, _, value, _ = M.SHIPPED_MODELS[name]
    a = training_sampler(family, value, (1, 28, 28)).sample(64, torch.Generator().manual_seed(5))
    cert_noise = make_noise(Noise(family, {noise_family(family).scale_param: value}), (1, 28, 28), device="cpu")
    assert torch.equal(a, cert_noise.sample(64, torch.Generator().manual_seed(5)))


def test_training_noise_bad_input():
    from smoothcert.gpu_sampler.train import training_sampler, trainable_families

    with pytest.raises(ValueError, match="'cauchy' is not a registered noise family"):
        training_sampler("cauchy", 0.5, (3,))
    with pytest.raises(ValueError, match="sigma.*-0.5"):
        training_sampler("gaussian", -0.5, (3,))
    assert {"gaussian", "laplace", "uniform"} <= set(trainable_families())
    assert "gaussian-mixture" not in trainable_families()  # its weights have no default


def _tiny_fmnist(root):
    import numpy as np

    from smoothcert.gpu_sampler.data import SPLIT_FILES, write_idx

    rng = np.random.default_rng(0)
    for split, count in (("train", 48), ("test", 20)):
        labels = rng.integers(0, 10, size=count).astype(np.uint8)
        # class-dependent brightness so that the net can learn something
        images = np.clip(rng.normal(20 * labels[:, None, None], 30, size=(count, 28, 28)), 0, 255)
        write_idx(os.path.join(root, SPLIT_FILES[split][0] + ".gz"), images.astype(np.uint8))
        write_idx(os.path.join(root, SPLIT_FILES[split][1] + ".gz"), labels)


class _Stop(Exception):
    pass


def test_train_writes_checkpoint_and_resumes_identically(tmp_path):
    from smoothcert.gpu_sampler.train import train_model

    _tiny_fmnist(tmp_path)
    opts = dict(epochs=2, batch_size=16, root=tmp_path, threads=1, progress=False, seed=4)
    meta = train_model("laplace", 0.3, tmp_path / "full.pt", log=lambda s: None, **opts)
    assert meta["epochs"] == 2 and meta["train_images"] == 48 and meta["test_images"] == 20
    assert 0 <= meta["clean_test_accuracy"] <= 1 and 0 <= meta["noisy_test_accuracy"] <= 1

    def stop_after_first_epoch(msg):
        if msg.startswith("epoch 1/2"):
            raise _Stop

    with pytest.raises(_Stop):
        train_model("laplace", 0.3, tmp_path / "resumed.pt", log=stop_after_first_epoch, **opts)
    assert (tmp_path / "resumed.pt.state.pt").exists() and not (tmp_path / "resumed.pt").exists()
    logs = []
    with pytest.raises(ValueError, match="delete it to start over"):  # another config
        train_model("laplace", 0.3, tmp_path / "resumed.pt", log=logs.append, **{**opts, "seed": 5})
    train_model("laplace", 0.3, tmp_path / "resumed.pt", log=logs.append, **opts)
    assert any("resuming from epoch 1" in s for s in logs)
    assert not (tmp_path / "resumed.pt.state.pt").exists()
    a, meta_a = M.load_checkpoint(tmp_path / "full.pt", return_meta=True)
    b = M.load_checkpoint(tmp_path / "resumed.pt")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    assert meta_a["training"]["family"] == "laplace" and meta_a["arch"] == "fmnist_resnet"


def test_ars_bundle_training_writes_a_loadable_bundle_with_its_command(tmp_path):
    # the shipped ARS bundle has a command that rebuilds it (docs/models.md), not a copy by hand
    from smoothcert.gpu_sampler.per_input.ars_generator import SHIPPED_BUNDLE, load_ars_bundle
    from smoothcert.gpu_sampler.train import main

    _tiny_fmnist(tmp_path)
    assets = tmp_path / "assets"
    assert main(["--ars-bundle", "--epochs", "1", "--subset", "32", "--data-root", str(tmp_path),
                 "--assets", str(assets), "--threads", "1"]) == 0
    bundle = load_ars_bundle(assets / SHIPPED_BUNDLE)
    meta = bundle["meta"]
    assert meta["base_model"] == "fmnist-gaussian-0.25" and meta["train_images"] == 32
    assert meta["command"] == "python -m smoothcert.gpu_sampler.train --ars-bundle --epochs 1 --subset 32"
    assert len(meta["history_generator"]) == len(meta["history_dataset"]) == 1
    assert sorted(os.listdir(assets)) == sorted(["manifest.json", SHIPPED_BUNDLE])  # no state files left
    clf, noise = bundle["dataset"]
    mu, sigma = noise.maps()
    assert mu.shape == sigma.shape == (1, 28, 28) and sigma.min() > 0


# ---------------------------------------------------------------------------------------------
# checkpoints that are checked. Before, an empty/text/random/truncated file gave
# torch's traceback (EOFError, KeyError, UnpicklingError, RuntimeError), and 64 flipped bytes in a
# shipped checkpoint loaded silently with other weights.
def _damaged(kind, tmp_path):
    good = tmp_path / "good.pt"
    M.save_checkpoint(M.fmnist_resnet(), good, "fmnist_resnet")
    raw = good.read_bytes()
    data = {"empty": b"", "text": b"epoch 3: loss 0.21\n" * 20, "truncated": raw[: len(raw) // 2],
            "random": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
            "legacy-truncated": None}[kind]
    path = tmp_path / f"{kind}.pt"
    if data is None:  # the pre-zip format of Cohen et al.'s 2019 checkpoints, cut short
        torch.save({"arch": "fmnist_resnet", "state_dict": M.fmnist_resnet().state_dict()}, path,
                   _use_new_zipfile_serialization=False)
        data = path.read_bytes()[:5000]
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", ["empty", "text", "truncated", "random", "legacy-truncated"])
def test_damaged_checkpoint_is_one_line_bad_input(tmp_path, kind, capsys):
    from smoothcert import cli
    from smoothcert.core.errors import BadInput

    path = _damaged(kind, tmp_path)
    with pytest.raises(BadInput) as e:
        M.load_checkpoint(path)
    msg = str(e.value)
    assert "\n" not in msg and repr(str(path)) in msg and "refused" not in msg
    code = cli.main(["certify", "--model", str(path), "--split", "embedded", "--max", "1",
                     "--out", str(tmp_path / "o.tsv"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "o.tsv").exists()


def test_shipped_checkpoints_match_the_manifest_and_flipped_bytes_are_refused(tmp_path, monkeypatch):
    from importlib import resources

    from smoothcert.core.errors import BadInput

    manifest = M.asset_manifest()
    assert set(manifest) == {n + ".pt" for n in M.SHIPPED_MODELS} | {"ars-fmnist-gaussian-0.25.pt"}
    for name, entry in manifest.items():
        with resources.as_file(M._asset(name)) as p:
            assert M.file_sha256(p) == entry["sha256"] and os.path.getsize(p) == entry["bytes"]
    with resources.as_file(M._asset("fmnist-gaussian-0.25.pt")) as p:
        raw = bytearray(p.read_bytes())
    mid = len(raw) // 2  # inside the tensor data: torch.load alone does not notice
    raw[mid:mid + 64] = bytes(b ^ 0xFF for b in raw[mid:mid + 64])
    (tmp_path / "fmnist-gaussian-0.25.pt").write_bytes(bytes(raw))
    (tmp_path / M.MANIFEST_FILE).write_text(json.dumps(manifest))
    M.load_checkpoint(tmp_path / "fmnist-gaussian-0.25.pt")  # loads: the damage is silent
    with pytest.raises(BadInput, match="SHA-256 .* differs from the recorded") as e:
        M.load_checkpoint(tmp_path / "fmnist-gaussian-0.25.pt", sha256=manifest["fmnist-gaussian-0.25.pt"]["sha256"])
    assert "\n" not in str(e.value)
    monkeypatch.setattr(M, "_asset", lambda name: tmp_path / name)
    with pytest.raises(BadInput, match="SHA-256"):
        M.shipped_model("fmnist-gaussian-0.25")


def test_shipped_ars_bundle_is_checked_against_the_manifest(monkeypatch):
    from smoothcert.core.errors import BadInput
    from smoothcert.gpu_sampler.per_input.ars_generator import SHIPPED_BUNDLE, load_ars_bundle

    recorded = M.shipped_file_sha256(SHIPPED_BUNDLE)
    monkeypatch.setattr(M, "shipped_file_sha256", lambda name: "0" * 64 if name == SHIPPED_BUNDLE else recorded)
    with pytest.raises(BadInput, match=f"SHA-256 {recorded} differs from the recorded 0000"):
        load_ars_bundle()
