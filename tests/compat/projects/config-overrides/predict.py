import dateutil
import six
from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self) -> str:
        return f"six {six.__version__}, dateutil {dateutil.__version__}"
