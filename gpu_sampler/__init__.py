"""The torch side of smoothcert: noise samplers, the counting sampler, certify/predict.

CUDA when present, CPU otherwise, with the same code. Importing this package needs torch.
"""

from .noise import NoiseSampler, default_device, make_noise
from . import noise_dsrs, noise_l1, noise_zoo  # noqa: F401  (register their samplers)
from .sampler import CertifyResult, certify, counts, predict

__all__ = [
    "CertifyResult",
    "NoiseSampler",
    "certify",
    "counts",
    "default_device",
    "make_noise",
    "predict",
]

# Models, data, dataset runs.
from .data import embedded_sample, load_fashion_mnist, read_idx  # noqa: E402
from .dataset import certify_dataset, merge_shards  # noqa: E402
from .models import (  # noqa: E402
    build_model,
    cifar_resnet20,
    cifar_resnet110,
    fmnist_resnet,
    load_checkpoint,
    save_checkpoint,
    shipped_metrics,
    shipped_model,
)

__all__ += [
    "build_model",
    "certify_dataset",
    "cifar_resnet110",
    "cifar_resnet20",
    "embedded_sample",
    "fmnist_resnet",
    "load_checkpoint",
    "load_fashion_mnist",
    "merge_shards",
    "read_idx",
    "save_checkpoint",
    "shipped_metrics",
    "shipped_model",
]

# Your own model and data.
from .data import load_user_data  # noqa: E402
from .user_model import load_model, probe_model  # noqa: E402

__all__ += ["load_model", "load_user_data", "probe_model"]

# Per-input and per-dataset smoothing parameters, certified soundly.
from .per_input.ancer import AncerConfig, optimize_ancer  # noqa: E402
from .per_input.ars_generator import ARSTrainConfig, DatasetNoise, NoiseGenerator, ShiftedModel, train_ars  # noqa: E402
from .per_input.data_dependent import DataDependentConfig, optimize_sigmas  # noqa: E402
from .per_input.memory import MemoryCertifier, certify_sequence  # noqa: E402

__all__ += [
    "ARSTrainConfig",
    "AncerConfig",
    "DataDependentConfig",
    "DatasetNoise",
    "MemoryCertifier",
    "NoiseGenerator",
    "ShiftedModel",
    "certify_sequence",
    "optimize_ancer",
    "optimize_sigmas",
    "train_ars",
]

# Sequential certification: target-radius and budgeted modes.
from .sequential import (  # noqa: E402
    ModelDraw,
    SequentialCertifyResult,
    certify_budget,
    certify_sequential,
    certify_target,
)

__all__ += ["ModelDraw", "SequentialCertifyResult", "certify_budget", "certify_sequential",
            "certify_target"]
