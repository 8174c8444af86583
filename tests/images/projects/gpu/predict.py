from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, n: int = 2) -> int:
        return n * n
