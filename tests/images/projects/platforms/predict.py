import time

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, text: str, seconds: float = Input(default=0.0, ge=0)) -> str:
        time.sleep(seconds)
        return "hello " + text
