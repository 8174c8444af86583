"""Deployment manifests for orchestrators (Kubernetes, Docker Swarm), made from a built image's labels."""
