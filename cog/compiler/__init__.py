"""The pure stages: resolve a Config against the compatibility data, and render Dockerfiles."""
