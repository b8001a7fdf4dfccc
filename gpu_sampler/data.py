"""Real data: an idx-file reader, Fashion-MNIST, the embedded test sample, and user data sets.

The idx format (LeCun et al., MNIST page): two zero bytes, a type code (0x08 = uint8, 0x09 =
int8, 0x0B = int16, 0x0C = int32, 0x0D = float32, 0x0E = float64), the number of dimensions
``d``, then ``d`` big-endian uint32 sizes and the data in big-endian order. Files may be gzip
compressed (detected by their magic bytes, not their name).

Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) is read from Debian's ``dataset-fashion-mnist``
package (``/usr/share/datasets/fashion-mnist``) or any folder with the same four files.
Images are returned as uint8 arrays ``(N, 28, 28)``; :func:`to_tensor` maps them to float32
``(N, 1, 28, 28)`` in [0, 1] -- the pixel units in which noise is added and radii are measured.

User data (:func:`load_user_data`): an ImageFolder-layout folder, ``.npz``/``.npy`` arrays or idx
files, returned as ``(N, C, H, W)`` pixels with a content hash that a results file records.
"""

from __future__ import annotations

import gzip
import os
from importlib import resources

import numpy as np

from ..core.atomic import atomic_path
from ..core.checks import check_int
from ..core.errors import BadInput

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


# ---------------------------------------------------------------------------------------------
# user data: image folders, .npz/.npy arrays, idx files
#: Extensions read from an ImageFolder layout (``root/<class>/<image>``, classes sorted by name).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_NPZ_KEYS = (("images", "labels"), ("x", "y"), ("data", "targets"))


def array_sha256(images, labels) -> str:
    """SHA-256 of a data set as read: dtype, shape and bytes of the images, then of the labels."""
    import hashlib

    digest = hashlib.sha256()
    for arr in (images, labels):
        a = np.ascontiguousarray(arr.detach().cpu().numpy() if hasattr(arr, "detach") else np.asarray(arr))
        digest.update(f"{a.dtype.str}|{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def as_nchw(images, name: str = "images"):
    """Pixels as ``(N, C, H, W)``: uint8 0..255 stay a uint8 array, floats in [0, 1] become a float32
    tensor. ``(N, H, W)`` gets one channel; ``(N, H, W, C)`` with C in {1, 3} is transposed."""
    import torch

    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4 and arr.shape[1] not in (1, 3) and arr.shape[3] in (1, 3):
        arr = arr.transpose(0, 3, 1, 2)
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise BadInput(f"{name} must have shape (N, H, W), (N, C, H, W) or (N, H, W, C) with C = 1 "
                       f"or 3, got {np.asarray(images).shape}")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind != "f":
        raise BadInput(f"{name} must be uint8 pixels (0..255) or floats in [0, 1], got dtype {arr.dtype}")
    if not (np.isfinite(arr).all() and arr.min() >= 0 and arr.max() <= 1):
        raise BadInput(f"{name} are floats but not all in [0, 1] (min {arr.min()!r}, max {arr.max()!r}): "
                       "noise is added in [0, 1] pixel units; scale the data, or pass uint8 pixels")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def _check_labels(labels, count: int, name: str) -> np.ndarray:
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.dtype.kind not in "iu" or len(lab) != count or (count and lab.min() < 0):
        raise BadInput(f"{name} must be {count} non-negative integers (one per image), got "
                       f"dtype {lab.dtype} shape {lab.shape}")
    return lab.astype(np.int64)


def _read_image(path: str) -> np.ndarray:
    """One image as uint8 ``(H, W)`` or ``(H, W, 3)``: Pillow (a matplotlib dependency) reads
    every format; without it matplotlib reads PNG only."""
    try:
        from PIL import Image
    except ImportError:
        if not path.lower().endswith(".png"):
            raise BadInput(f"{path!r}: reading this image needs Pillow (pip install pillow); "
                           "without it only PNG is read") from None
        import matplotlib.image as mpimg

        img = mpimg.imread(path)
        img = np.round(img * 255).astype(np.uint8) if img.dtype.kind == "f" else img
        return img[..., :3] if img.ndim == 3 else img
    with Image.open(path) as im:
        return np.asarray(im.convert("L" if im.mode in ("1", "L", "I;16", "I", "F") else "RGB"))


def load_image_folder(root):
    """``(images uint8 (N, C, H, W), labels, classes)`` from ``root/<class>/<image file>``.

    The ImageFolder layout of torchvision: class folders sorted by name get labels 0, 1, ...;
    files within a class sorted by name. Every image must have the same size (no resizing here:
    resize beforehand to the model's input); grayscale stays one channel unless another image
    in the folder is in color, then all are RGB.
    """
    root = os.fspath(root)
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    files = [(os.path.join(root, c, f), k) for k, c in enumerate(classes)
             for f in sorted(os.listdir(os.path.join(root, c))) if f.lower().endswith(IMAGE_EXTENSIONS)]
    if not files:
        raise BadInput(f"data={root!r}: no images in class subfolders (ImageFolder layout "
                       f"root/<class>/<image>{'|'.join(IMAGE_EXTENSIONS)})")
    imgs = [_read_image(p) for p, _ in files]
    if any(i.ndim == 3 for i in imgs):
        imgs = [np.repeat(i[..., None], 3, axis=2) if i.ndim == 2 else i for i in imgs]
    for (path, _), img in zip(files, imgs):
        if img.shape != imgs[0].shape:
            raise BadInput(f"data={root!r}: {path!r} has shape {img.shape}, {files[0][0]!r} has "
                           f"{imgs[0].shape}; resize the images to one size")
    return as_nchw(np.stack(imgs)), np.array([k for _, k in files], dtype=np.int64), classes


def _read_array(path: str, name: str):
    """An ``.npy`` array (no pickles) or an idx file (raw or gzip)."""
    if path.endswith(".npy"):
        try:
            return np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise BadInput(f"{name}={path!r}: not a plain .npy array ({exc})") from exc
    try:
        return read_idx(path)
    except ValueError as exc:
        raise BadInput(f"{name}={path!r}: neither .npz, .npy, an image folder nor an idx file ({exc})") from exc


def _npz(path: str):
    try:
        z = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise BadInput(f"data={path!r}: not a readable .npz file ({exc})") from exc
    with z:
        for ki, kl in _NPZ_KEYS:
            if ki in z.files and kl in z.files:
                return z[ki], z[kl]
    raise BadInput(f"data={path!r} holds arrays {z.files}; expected images/labels (or x/y, data/targets)")


def load_user_data(data, labels=None) -> dict:
    """Read a data set for certification; returns ``{"images", "labels", "source", "sha256", "shape"}``.

    ``data``: an ImageFolder-layout folder; a ``.npz`` with ``images`` and ``labels`` (or
    ``x``/``y``, ``data``/``targets``); or an ``.npy`` or idx image file with ``labels`` an ``.npy``
    or idx file of integers. Images are uint8 pixels or floats in [0, 1], shaped ``(N, H, W)``,
    ``(N, C, H, W)`` or ``(N, H, W, C)``; ``images`` come back as ``(N, C, H, W)`` (uint8 array or
    float32 tensor), ``shape`` is ``(C, H, W)``, ``sha256`` is :func:`array_sha256` of what was read.
    """
    path = os.fspath(data)
    if not os.path.exists(path):
        raise BadInput(f"data={path!r}: no such file or folder")
    if os.path.isdir(path) or path.endswith(".npz"):
        if labels is not None:
            raise BadInput(f"labels={labels!r}: an image folder or .npz carries its own labels")
        images, lab = (load_image_folder(path)[:2] if os.path.isdir(path) else _npz(path))
        images = as_nchw(images, f"data={path!r}")
    else:
        if labels is None:
            raise BadInput(f"data={path!r}: an .npy or idx image file needs labels= (an .npy or idx file)")
        images = as_nchw(_read_array(path, "data"), f"data={path!r}")
        lab = _read_array(os.fspath(labels), "labels")
    lab = _check_labels(lab, len(images), f"labels of data={path!r}")
    return {"images": images, "labels": lab, "source": os.path.abspath(path),
            "sha256": array_sha256(images, lab), "shape": tuple(int(s) for s in images.shape[1:])}
