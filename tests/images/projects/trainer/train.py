from cog import Input, Path


def train(steps: int = Input(description="Training steps", ge=1)) -> Path:
    out = Path("/tmp/weights.txt")
    out.write_text(f"trained for {steps} steps")
    return out
