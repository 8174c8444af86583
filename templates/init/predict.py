# The model's prediction interface: see docs/python.md
from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def setup(self) -> None:
        """Load the model into memory once, so that every prediction can use it (weights, tokenizers...)."""

    def predict(self, name: str = Input(description="Who to greet", default="world")) -> str:
        """Run one prediction: take the inputs, return the output."""
        return f"hello, {name}"
