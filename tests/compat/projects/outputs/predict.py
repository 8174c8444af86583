import os
from typing import Any

from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def setup(self) -> None:
        print("setting up the outputs model")

    def predict(
        self,
        kind: str = Input(description="Which output to return", default="text",
                          choices=["text", "number", "integral", "object", "list", "file", "none", "fail", "env", "write"]),
        count: int = Input(description="A choice of integers", default=1, choices=[1, 2, 3]),
    ) -> Any:
        print(f"predicting {kind}")
        if kind == "text":
            return "hello"
        if kind == "number":
            return 1.5
        if kind == "integral":
            return 20.0 * count
        if kind == "object":
            return {"word": "<b>", "count": count, "ratio": 0.25, "nested": {"z": [], "a": True}}
        if kind == "list":
            return [1, "two", None]
        if kind == "file":
            path = Path("/tmp/out.txt")
            path.write_text("file contents")
            return path
        if kind == "none":
            return None
        if kind == "env":
            return os.environ.get("GREETING", "unset")
        if kind == "write":
            Path("written-by-the-model.txt").write_text("from the container")
            return os.getcwd()
        raise ValueError("the model failed on purpose")
