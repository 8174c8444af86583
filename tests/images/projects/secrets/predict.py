from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self) -> str:
        return open("/opt/token-was-here").read().split()[0]
