"""The torch side of smoothcert: noise samplers, the counting sampler, certify/predict.

CUDA when present, CPU otherwise, with the same code. Importing this package needs torch.
"""

from .noise import NoiseSampler, default_device, make_noise
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
