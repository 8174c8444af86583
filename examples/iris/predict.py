import joblib

from cog import BaseModel, BasePredictor, Input

CLASSIFIERS = ["logistic_regression", "decision_tree"]


class Prediction(BaseModel):
    species: str
    probabilities: dict  # species -> probability, rounded to 3 decimals


class Predictor(BasePredictor):
    def setup(self):
        """Load the classifiers that train_model.py wrote."""
        trained = joblib.load("weights/iris.joblib")
        self.species = trained["species"]
        self.classifiers = trained["classifiers"]

    def predict(
        self,
        sepal_length: float = Input(description="Sepal length in cm", ge=2.0, le=12.0),
        sepal_width: float = Input(description="Sepal width in cm", ge=1.0, le=7.0),
        petal_length: float = Input(description="Petal length in cm", ge=0.5, le=10.0),
        petal_width: float = Input(description="Petal width in cm", ge=0.05, le=4.0),
        classifier: str = Input(default="logistic_regression", choices=CLASSIFIERS, description="Which model answers"),
    ) -> Prediction:
        flower = [[sepal_length, sepal_width, petal_length, petal_width]]
        probabilities = self.classifiers[classifier].predict_proba(flower)[0]
        best = int(probabilities.argmax())
        return Prediction(
            species=self.species[best],
            probabilities={name: round(float(p), 3) for name, p in zip(self.species, probabilities)},
        )
