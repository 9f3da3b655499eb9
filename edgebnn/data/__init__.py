"""edgebnn.data — datasets as raw 8-bit HWC images, deterministic splits, PyTorch batches.

Entry point: ``load(spec) -> Splits``; see :mod:`edgebnn.data.spec` for the spec forms.
Every problem with user data raises :class:`DataError` with a one-line message.
"""

from .bundled import load_digits, load_mnist5k
from .cifar10 import CIFAR10_CLASSES, load_cifar10_dir, read_cifar10_batch
from .dataset import Dataset, Splits, split, subsample
from .errors import DataError
from .folder import DEFAULT_IMAGE_SIZE, IMAGE_EXTENSIONS, load_folder
from .idx import DIGIT_CLASSES, FASHION_MNIST_CLASSES, load_idx_dir, read_idx
from .mnist import load_mnist
from .spec import SPEC_FORMS, load
from .tensors import batches, to_tensor

__all__ = [
    "CIFAR10_CLASSES", "DEFAULT_IMAGE_SIZE", "DIGIT_CLASSES", "DataError", "Dataset",
    "FASHION_MNIST_CLASSES", "IMAGE_EXTENSIONS", "SPEC_FORMS", "Splits", "batches",
    "load", "load_cifar10_dir", "load_digits", "load_folder", "load_idx_dir", "load_mnist",
    "load_mnist5k",
    "read_cifar10_batch", "read_idx", "split", "subsample", "to_tensor",
]
