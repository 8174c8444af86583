"""The prediction runtime: the HTTP server (cog.server.http) that every image runs, and its side of the worker
pipe (cog.server.runner). It lives in the server's environment; the model's process is cog.sdk.worker."""
