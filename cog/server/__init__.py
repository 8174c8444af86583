"""The prediction runtime, in the server's environment of every image: the HTTP server (app.py, started by
http.py), the job policy (runner.py) and its transports to the model, the worker process (process.py) or the model
in this process (inprocess.py). The model's side of the pipe is cog.sdk.worker; the messages are cog.sdk.protocol's."""
