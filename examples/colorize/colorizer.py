"""Colorization by a learned lookup table: where a pixel is (its horizontal band) and how bright it is pick its color.

A palette is an array of shape (bands, levels, 2) of uint8: the mean Cb and Cr (the two color channels of YCbCr)
of the training pixels in each horizontal band of the picture and each brightness level. Colorizing keeps every
pixel's brightness (Y) and takes its color from the palette, so the result is the input with color laid over it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

NEUTRAL = 128  # Cb and Cr of a gray pixel


def learn_palette(images: list[Image.Image], bands: int = 8, levels: int = 32) -> np.ndarray:
    sums = np.zeros((bands, levels, 2))
    counts = np.zeros((bands, levels))
    for image in images:
        ycbcr = np.asarray(image.convert("YCbCr")).astype(float)
        band, level = _cells(ycbcr[..., 0], bands, levels)
        np.add.at(sums, (band, level), ycbcr[..., 1:])
        np.add.at(counts, (band, level), 1)
    palette = np.full((bands, levels, 2), float(NEUTRAL))
    for b in range(bands):
        seen = np.flatnonzero(counts[b])
        if seen.size:  # a brightness never seen in this band takes the color of the nearest one seen
            nearest = seen[np.abs(np.arange(levels)[:, None] - seen[None, :]).argmin(axis=1)]
            palette[b] = sums[b, nearest] / counts[b, nearest][:, None]
    return palette.round().astype(np.uint8)


def colorize(image: Image.Image, palette: np.ndarray, saturation: float = 1.0) -> Image.Image:
    gray = np.asarray(image.convert("L"))
    band, level = _cells(gray, *palette.shape[:2])
    chroma = NEUTRAL + (palette[band, level].astype(float) - NEUTRAL) * saturation
    cb, cr = np.moveaxis(np.clip(chroma, 0, 255).round().astype(np.uint8), -1, 0)
    return Image.merge("YCbCr", [Image.fromarray(channel) for channel in (gray, cb, cr)]).convert("RGB")


def _cells(brightness: np.ndarray, bands: int, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's band (by row) and level (by brightness), as index arrays of the image's shape."""
    height, width = brightness.shape
    band = np.broadcast_to((np.arange(height) * bands // height)[:, None], (height, width))
    level = brightness.astype(int) * levels // 256
    return band, level
