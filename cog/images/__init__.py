"""The image stage: build contexts, BuildKit builds (the only code that talks to Docker) and image labels."""
