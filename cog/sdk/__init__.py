"""The model-side SDK: everything that runs inside the model's own Python environment.

Standard library only, always: a model may pin any version of anything, so nothing here may import a
third-party package (a test runs it in an interpreter that has none). Its modules:

    predictor.py  BasePredictor, BaseRunner, Input, the original Model and @cog.input
    types.py      Path, File, Secret, ConcatenateIterator, BaseModel, ...
    signature.py  either model style read into one Signature (inputs, output) that validates requests
    schema.py     a Signature turned into Cog's OpenAPI document
    worker.py     the model's process: loads the model, runs setup() and predictions for the runtime
    protocol.py   the worker pipe's messages, states and framing, shared with the runtime (cog.server)

Models import these through `cog` (`from cog import BasePredictor, Input, Path`) and `cog.types`.
"""
