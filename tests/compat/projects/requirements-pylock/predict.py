"""Answers with the distributions installed in the model's environment, but for those every image has."""

import importlib.metadata

from cog import BasePredictor

EVERY_IMAGE = {"cog", "pip", "setuptools", "wheel"}


class Predictor(BasePredictor):
    def predict(self) -> str:
        names = {dist.metadata["Name"].lower(): dist.version for dist in importlib.metadata.distributions()}
        return " ".join(f"{name}=={version}" for name, version in sorted(names.items()) if name not in EVERY_IMAGE)
