"""Real data: an idx-file reader, Fashion-MNIST, and the embedded test sample.

The idx format (LeCun et al., MNIST page): two zero bytes, a type code (0x08 = uint8, 0x09 =
int8, 0x0B = int16, 0x0C = int32, 0x0D = float32, 0x0E = float64), the number of dimensions
``d``, then ``d`` big-endian uint32 sizes and the data in big-endian order. Files may be gzip
compressed (detected by their magic bytes, not their name).

Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) is read from Debian's ``dataset-fashion-mnist``
package (``/usr/share/datasets/fashion-mnist``) or any folder with the same four files.
Images are returned as uint8 arrays ``(N, 28, 28)``; :func:`to_tensor` maps them to float32
``(N, 1, 28, 28)`` in [0, 1] -- the pixel units in which noise is added and radii are measured.
"""

from __future__ import annotations

import gzip
import os
from importlib import resources

import numpy as np

from ..core.atomic import atomic_path
from ..core.checks import check_int

DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"
ENV_ROOT = "SMOOTHCERT_FASHION_MNIST"

#: File stems of each split (a ``.gz`` suffix is optional).
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

EMBEDDED_SAMPLE = "fmnist_test_first500.npz"


def parse_idx(raw: bytes, name: str = "idx data") -> np.ndarray:
    """Decode the bytes of an idx file (already decompressed) into a native-endian array."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{name}: not an idx file (bad magic {raw[:4]!r})")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"{name}: unknown idx type code {code:#04x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name}: truncated header ({len(raw)} bytes for {ndim} dimensions)")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[code])
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != count * dtype.itemsize:
        raise ValueError(f"{name}: header says shape {shape} ({count * dtype.itemsize} data bytes), "
                         f"file has {len(raw) - header}")
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def read_idx(path) -> np.ndarray:
    """Read an idx file, gzip-compressed or raw."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return parse_idx(raw, name=path)


def write_idx(path, array) -> None:
    """Write ``array`` (uint8/int8/int16/int32/float32/float64) as an idx file; gzip if ``.gz``."""
    arr = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}
    key = arr.dtype.newbyteorder("=")
    if key not in codes:
        raise TypeError(f"array dtype {arr.dtype} has no idx type code")
    header = bytes([0, 0, codes[key], arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    raw = header + arr.astype(np.dtype(_IDX_TYPES[codes[key]])).tobytes()
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(raw)


def _find(root: str, stem: str) -> str | None:
    for name in (stem + ".gz", stem):
        p = os.path.join(root, name)
        if os.path.isfile(p):
            return p
    return None


def _missing_message(root: str, stems) -> str:
    return (f"Fashion-MNIST files {', '.join(stems)} (.gz or raw) not found in {root!r}. "
            f"Install them with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu; files go to "
            f"{DEFAULT_ROOT}), or download the idx files and pass root=<folder> "
            f"(--data-root on the command line, or set ${ENV_ROOT}).")


def load_fashion_mnist(split: str = "test", root=None):
    """``(images uint8 (N, 28, 28), labels int64 (N,))`` of the ``train`` or ``test`` split.

    ``root`` defaults to ``$SMOOTHCERT_FASHION_MNIST`` or ``/usr/share/datasets/fashion-mnist``.
    When the files are missing the ``FileNotFoundError`` says how to install them.
    """
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if root is None:
        root = os.environ.get(ENV_ROOT, DEFAULT_ROOT)
    root = os.fspath(root)
    stems = SPLIT_FILES[split]
    paths = [_find(root, s) for s in stems]
    if None in paths:
        raise FileNotFoundError(_missing_message(root, stems))
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"root={root!r}: images {images.shape} and labels {labels.shape} do not "
                         "form an (N, H, W) / (N,) pair")
    return images.astype(np.uint8, copy=False), labels.astype(np.int64)


def to_tensor(images, device="cpu"):
    """uint8 ``(N, H, W)`` or ``(N, C, H, W)`` -> float32 torch tensor ``(N, C, H, W)`` in [0, 1]."""
    import torch

    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise TypeError(f"images must be uint8 pixels, got dtype {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W) or (N, C, H, W), got {arr.shape}")
    return torch.from_numpy(np.ascontiguousarray(arr)).to(device=device, dtype=torch.float32) / 255.0


def embedded_sample():
    """The first 500 Fashion-MNIST test images and labels shipped in the package.

    Returns ``(images uint8 (500, 28, 28), labels int64 (500,))``; no data download needed.
    """
    ref = resources.files("smoothcert.gpu_sampler").joinpath("assets", EMBEDDED_SAMPLE)
    with resources.as_file(ref) as p, np.load(p) as z:
        return z["images"].copy(), z["labels"].astype(np.int64)


def disjoint_training_images(certified: int, root=None):
    """Training images disjoint from the certified ones, the embedded test images ``[0, certified)``.

    Returns ``(images uint8 (N, 28, 28), labels int64 (N,), source)``: the Fashion-MNIST train
    split when it is installed (see :func:`load_fashion_mnist`), else the embedded test images
    ``certified .. 499`` -- never one that is certified -- with ``source`` saying which. A data-
    dependent noise trained on a certified image is no fixed distribution for it, so with no train
    split and ``certified = 500`` (no image left) this raises ``ValueError``.
    """
    images, labels = embedded_sample()
    certified = check_int("certified", certified, minimum=0, maximum=len(images))
    try:
        tr_img, tr_lab = load_fashion_mnist("train", root)
        return tr_img, tr_lab, "Fashion-MNIST train split"
    except FileNotFoundError:
        if certified == len(images):
            raise ValueError(f"certified={certified}: the Fashion-MNIST train split is not installed and "
                             f"every embedded test image is certified, so none is left to train on; "
                             "install the train split or certify fewer images") from None
    return (images[certified:], labels[certified:],
            f"embedded test images {certified}-{len(images) - 1} (train split not installed; "
            f"disjoint from the {certified} certified)")


def write_embedded_sample(path, count: int = 500, root=None) -> None:
    """Write the first ``count`` test images + labels to ``path`` (.npz, compressed, atomic)."""
    images, labels = load_fashion_mnist("test", root)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, images=images[:count], labels=labels[:count].astype(np.uint8))
