import yaml
from pydantic import BaseModel as PydanticModel

from cog import BasePredictor, Input

SETTINGS = """
greeting: hello
punctuation: "!"
"""


class Settings(PydanticModel):
    greeting: str
    punctuation: str


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.settings = Settings(**yaml.safe_load(SETTINGS))

    def predict(self, name: str = Input(description="Who to greet")) -> str:
        greeting = Settings(greeting=self.settings.greeting.upper(), punctuation=self.settings.punctuation)
        return yaml.safe_dump({"to": name, "text": f"{greeting.greeting} {name}{greeting.punctuation}"}, sort_keys=True).strip()
