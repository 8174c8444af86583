import tempfile

import numpy as np
from PIL import Image

from cog import BasePredictor, Input, Path
from colorizer import colorize


class Predictor(BasePredictor):
    def setup(self):
        """Load the palette that train_palette.py learned."""
        self.palette = np.load("weights/palette.npy")

    def predict(
        self,
        image: Path = Input(description="A picture to colorize; it is read as grayscale"),
        saturation: float = Input(default=1.0, ge=0.0, le=2.0, description="0 keeps it gray, 1 is as learned, 2 is twice as vivid"),
    ) -> Path:
        colorized = colorize(Image.open(image), self.palette, saturation)
        output = Path(tempfile.mkdtemp()) / "colorized.png"
        colorized.save(output)
        return output
