"""Learn weights/palette.npy from painted landscapes, and write landscape-gray.png, a landscape it never saw.

Run it inside the model's image, where numpy and Pillow are installed:

    cog run python train_palette.py

The landscapes are painted here, from a seed: a sky that pales toward the horizon, a sun, blue-gray mountains,
green hills and brown earth. Same seeds, same pictures, same palette.
"""

from pathlib import Path

import numpy as np
from PIL import Image

from colorizer import learn_palette

WIDTH, HEIGHT = 240, 160
TRAINING_SEEDS = range(1, 9)
DEMO_SEED = 42


def paint_landscape(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH].astype(float)
    x = columns / WIDTH

    def ridge(base: float, amplitude: float) -> np.ndarray:
        phases = rng.uniform(0, 2 * np.pi, 3)
        waves = sum(np.sin((k + 1) * 2 * np.pi * x + phase) / (k + 1) for k, phase in enumerate(phases))
        return HEIGHT * (base + amplitude * waves)

    mountains, hills, earth = ridge(0.40, 0.06), ridge(0.62, 0.04), ridge(0.85, 0.02)
    depth = rows / HEIGHT
    picture = np.empty((HEIGHT, WIDTH, 3))
    picture[:] = (np.array([40, 90, 190]) + depth[..., None] / 0.5 * np.array([130, 110, 45]))  # sky
    sun_x, sun_y = rng.uniform(0.15, 0.85) * WIDTH, rng.uniform(0.08, 0.25) * HEIGHT
    picture[np.hypot(columns - sun_x, rows - sun_y) < HEIGHT * 0.07] = [255, 235, 150]
    layers = [  # from the back: where each begins, its color at the top and at the bottom
        (mountains, [120, 130, 160], [70, 80, 110]),
        (hills, [90, 170, 60], [30, 90, 30]),
        (earth, [150, 110, 70], [90, 60, 35]),
    ]
    for top, near, far in layers:
        below = rows >= top
        shade = ((rows - top) / HEIGHT * 4).clip(0, 1)[..., None]
        picture[below] = (np.array(near) * (1 - shade) + np.array(far) * shade)[below]
    picture += rng.normal(0, 6, picture.shape)  # texture, so that each layer spans some brightness
    return Image.fromarray(picture.clip(0, 255).round().astype(np.uint8))


def main() -> None:
    palette = learn_palette([paint_landscape(seed) for seed in TRAINING_SEEDS])
    Path("weights").mkdir(exist_ok=True)
    np.save("weights/palette.npy", palette)
    paint_landscape(DEMO_SEED).convert("L").save("landscape-gray.png")
    print(f"weights/palette.npy: {palette.shape[0]} bands x {palette.shape[1]} brightness levels")


if __name__ == "__main__":
    main()
