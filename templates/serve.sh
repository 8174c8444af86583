#!/bin/sh
# SageMaker starts a model's container as `docker run IMAGE serve`: the prediction server, with /ping and
# /invocations on port 8080 (python -m cog.server.http --help says the rest).
exec /opt/cog/server/bin/python -m cog.server.http serve "$@"
