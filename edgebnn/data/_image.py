"""Resizing to the square input size the model expects (shorter side, then center crop).

Resizing the shorter side and cropping the center keeps the aspect ratio (no distortion) and
keeps the middle of the photo, where ImageNet-style subjects usually are.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def fit_square(img: Image.Image, size: int) -> Image.Image:
    """Resize so the shorter side is ``size`` (bilinear, antialiased), then center-crop to square."""
    w, h = img.size
    if (w, h) != (size, size):
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        if (nw, nh) != (w, h):
            img = img.resize((nw, nh), Image.Resampling.BILINEAR)
        left, top = (nw - size) // 2, (nh - size) // 2
        img = img.crop((left, top, left + size, top + size))
    return img


def resize_images(x: np.ndarray, size: int) -> np.ndarray:
    """Resize a uint8 (N, H, W, C) batch (C = 1 or 3) to (N, size, size, C) with :func:`fit_square`."""
    n, h, w, c = x.shape
    if (h, w) == (size, size):
        return x
    out = np.empty((n, size, size, c), dtype=np.uint8)
    for i in range(n):
        img = Image.fromarray(x[i, :, :, 0] if c == 1 else x[i])
        arr = np.asarray(fit_square(img, size), dtype=np.uint8)
        out[i] = arr[:, :, None] if c == 1 else arr
    return out
