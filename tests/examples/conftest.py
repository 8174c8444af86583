"""The examples' end-to-end tests run on the Docker tests' fixtures (tests/docker.py): a real engine."""

from tests.images.conftest import cog, cog_env, docker_engine, image_name, project  # noqa: F401
