from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def setup(self):
        """Load the model into memory; runs once when the server starts."""
        self.greeting = "hello"

    def predict(self, text: str = Input(description="Text to greet")) -> str:
        """Run one prediction."""
        return f"{self.greeting} {text}"
