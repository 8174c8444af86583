import yaml
from pydantic import BaseModel as PydanticModel

from cog import BasePredictor, Input


class Settings(PydanticModel):
    greeting: str


class Predictor(BasePredictor):
    def predict(self, text: str = Input(default="world")) -> str:
        settings = Settings(**yaml.safe_load("greeting: hello"))
        return f"{settings.greeting} {text}"
