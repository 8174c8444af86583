"""Train the iris classifiers and write them to weights/iris.joblib. Run it inside the model's image:

    cog run python train_model.py

scikit-learn ships the iris data set (150 flowers, 3 species), so nothing is downloaded. Fixed random states:
the same split and the same models on every run.
"""

import os
import platform
import sys
from pathlib import Path


def cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next((set(line.split(":", 1)[1].split()) for line in cpuinfo if line.startswith("flags")), set())
    except OSError:
        return set()


# OpenBLAS picks its kernels by CPU, and their sums round differently; L-BFGS stops at a gradient of 1e-4, so those
# last bits move the weights by up to 1%. Its Haswell kernels run on every x86-64 CPU with AVX2 and FMA (Intel's
# since 2013, AMD's since 2015): the same weights on any of them. OpenBLAS does not check a forced kernel against
# the CPU, so it is forced only where it runs. It must be set before numpy loads OpenBLAS.
if platform.machine() in ("x86_64", "AMD64"):
    if {"avx2", "fma"} <= cpu_flags():
        os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")
    else:
        print("note: this CPU has no AVX2: the weights may differ from the committed ones", file=sys.stderr)

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

WEIGHTS = Path("weights/iris.joblib")


def main() -> None:
    iris = load_iris()
    train_x, test_x, train_y, test_y = train_test_split(
        iris.data, iris.target, test_size=0.2, stratify=iris.target, random_state=0
    )
    classifiers = {
        "logistic_regression": LogisticRegression(max_iter=1000, random_state=0),
        "decision_tree": DecisionTreeClassifier(max_depth=3, random_state=0),
    }
    for name, classifier in classifiers.items():
        classifier.fit(train_x, train_y)
        right = int((classifier.predict(test_x) == test_y).sum())
        print(f"{name}: {right} of {len(test_y)} held-out flowers right")
    WEIGHTS.parent.mkdir(exist_ok=True)
    joblib.dump({"species": list(iris.target_names), "classifiers": classifiers}, WEIGHTS)
    print(f"wrote {WEIGHTS}")


if __name__ == "__main__":
    main()
