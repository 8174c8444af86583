from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def setup(self):
        self.suffix = open("weights/model.bin").read().split(": ", 1)[1].strip()

    def predict(self, document: Path = Input(description="A text file"), shout: bool = False) -> Path:
        text = document.read_text()
        out = Path("/tmp/out.txt")
        out.write_text((text.upper() if shout else text) + f" ({self.suffix})")
        print(f"read {len(text)} characters")  # the last thing it prints before it answers
        return out
