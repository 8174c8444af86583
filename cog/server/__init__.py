"""The prediction runtime: the HTTP server (cog.server.http) and the model's worker process (cog.server.worker).

Importing this package must stay standard-library only: the worker runs in the model's environment.
"""
