from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, name: str = Input(description="Who to greet", default="world")) -> str:
        return f"hello, {name}"
