"""Data: the idx reader (against hand-built bytes), Fashion-MNIST loading, the embedded sample."""

import gzip
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from smoothcert.gpu_sampler import data as D


def test_parse_hand_built_idx_bytes():
    # uint8 vector [1, 2, 3]: magic 00 00 08 01, size 3 big-endian.
    raw = b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + bytes([1, 2, 3])
    assert D.parse_idx(raw).tolist() == [1, 2, 3]
    # int16 2x2 big-endian [[1, -2], [256, 3]].
    raw = b"\x00\x00\x0b\x02" + (2).to_bytes(4, "big") * 2 + b"\x00\x01\xff\xfe\x01\x00\x00\x03"
    assert D.parse_idx(raw).tolist() == [[1, -2], [256, 3]]


@pytest.mark.parametrize("raw,msg", [
    (b"\x01\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x07", "bad magic"),
    (b"\x00\x00\x07\x01" + b"\x00\x00\x00\x01" + b"\x07", "type code"),
    (b"\x00\x00\x08\x02" + b"\x00\x00\x00\x01", "truncated header"),
    (b"\x00\x00\x08\x01" + b"\x00\x00\x00\x03" + b"\x07", "header says"),
])
def test_parse_rejects_corrupt_files(raw, msg):
    with pytest.raises(ValueError, match=msg):
        D.parse_idx(raw)


@settings(max_examples=30)
@given(arr=hnp.arrays(st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]),
                      hnp.array_shapes(min_dims=1, max_dims=4, max_side=5)),
       compressed=st.booleans())
def test_idx_round_trip(tmp_path_factory, arr, compressed):
    path = tmp_path_factory.mktemp("idx") / ("a.idx" + (".gz" if compressed else ""))
    D.write_idx(path, arr)
    with open(path, "rb") as f:
        assert (f.read(2) == b"\x1f\x8b") == compressed
    back = D.read_idx(path)
    assert back.dtype == arr.dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)


def _write_split(root, split, n, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    ext = ".gz" if gz else ""
    img_stem, lab_stem = D.SPLIT_FILES[split]
    D.write_idx(os.path.join(root, img_stem + ext), images)
    D.write_idx(os.path.join(root, lab_stem + ext), labels)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_load_fashion_mnist_from_folder(tmp_path, gz):
    images, labels = _write_split(tmp_path, "test", 7, gz=gz)
    _write_split(tmp_path, "train", 5, gz=not gz, seed=1)
    x, y = D.load_fashion_mnist("test", root=tmp_path)
    assert x.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    assert D.load_fashion_mnist("train", root=tmp_path)[0].shape == (5, 28, 28)


def test_missing_data_says_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        D.load_fashion_mnist("test", root=tmp_path)
    assert "apt-get install dataset-fashion-mnist" in str(e.value) and "root=" in str(e.value)
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        D.load_fashion_mnist("val", root=tmp_path)


def test_mismatched_image_and_label_counts(tmp_path):
    _write_split(tmp_path, "test", 4)
    D.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="do not"):
        D.load_fashion_mnist("test", root=tmp_path)


def test_to_tensor_pixel_units():
    imgs = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    t = D.to_tensor(imgs)
    assert t.shape == (1, 1, 2, 2) and str(t.dtype) == "torch.float32"
    assert t.flatten().tolist() == pytest.approx([0.0, 1.0, 0.2, 0.4])
    with pytest.raises(TypeError, match="uint8"):
        D.to_tensor(imgs.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        D.to_tensor(np.zeros((2, 2), np.uint8))


def test_embedded_sample_is_the_first_500_test_images():
    x, y = D.embedded_sample()
    assert x.shape == (500, 28, 28) and x.dtype == np.uint8 and y.shape == (500,)
    assert set(np.unique(y)) == set(range(10)) and x.max() == 255
    if os.path.isdir(D.DEFAULT_ROOT):
        tx, ty = D.load_fashion_mnist("test")
        np.testing.assert_array_equal(x, tx[:500])
        np.testing.assert_array_equal(y, ty[:500])
    # The published first test labels of Fashion-MNIST: ankle boot, pullover, trouser, trouser.
    assert y[:4].tolist() == [9, 2, 1, 1]


# ---------------------------------------------------------------------------------------------
# ARS training images must never include a certified image
def _benchmark_module():
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks", "anisotropic_comparison.py")
    spec = importlib.util.spec_from_file_location("anisotropic_comparison", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("certified", [1, 100, 150, 499])
def test_ars_training_images_without_train_split_are_disjoint(tmp_path, monkeypatch, certified):
    """With no train split the benchmark used test images 100-499 and called them disjoint: with
    --images 150 it certified 50 images it had trained ARS on."""
    import torch

    monkeypatch.setenv(D.ENV_ROOT, str(tmp_path))  # an empty folder: no train split
    bench = _benchmark_module()
    args = bench.parse_args(["--images", str(certified), "--train-images", "500"])
    xs, ys, tr_x, tr_y, source = bench.load_data(args)
    def pixels(batch):
        return {x.tobytes() for x in (batch * 255).round().to(torch.uint8).numpy()}

    certified_pixels, train_pixels = pixels(xs), pixels(tr_x)
    assert not certified_pixels & train_pixels, f"{len(certified_pixels & train_pixels)} certified images trained on"
    assert len(xs) == certified and len(tr_x) == 500 - certified
    assert source.startswith(f"embedded test images {certified}-499") and "not installed" in source
    images, labels = D.embedded_sample()
    assert tr_y.tolist() == labels[certified:].tolist()


def test_ars_training_images_refuse_when_none_is_left(tmp_path, monkeypatch):
    monkeypatch.setenv(D.ENV_ROOT, str(tmp_path))
    with pytest.raises(ValueError, match="certified=500: the Fashion-MNIST train split is not installed"):
        D.disjoint_training_images(500)
    with pytest.raises(ValueError, match="certified must be <= 500, got 501"):
        D.disjoint_training_images(501)
    bench = _benchmark_module()
    with pytest.raises(ValueError, match="--images must be in 1..500 .*got 600"):
        bench.load_data(bench.parse_args(["--images", "600"]))


def test_ars_training_images_use_the_train_split_when_installed(tmp_path, monkeypatch):
    _write_split(tmp_path, "train", 7, seed=5)
    monkeypatch.setenv(D.ENV_ROOT, str(tmp_path))
    images, labels, source = D.disjoint_training_images(500)
    expected = D.load_fashion_mnist("train", root=tmp_path)
    assert source == "Fashion-MNIST train split" and np.array_equal(images, expected[0])
    assert np.array_equal(labels, expected[1])
