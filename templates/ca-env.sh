# Sourced by every networked build step. When `cog build --ca-bundle` hands in a CA bundle, BuildKit mounts it
# as the secret below for that step only, so it is never stored in a layer of the image.
if [ -s /run/secrets/cog-ca-bundle ]; then
  export SSL_CERT_FILE=/run/secrets/cog-ca-bundle \
    PIP_CERT=/run/secrets/cog-ca-bundle \
    REQUESTS_CA_BUNDLE=/run/secrets/cog-ca-bundle \
    CURL_CA_BUNDLE=/run/secrets/cog-ca-bundle \
    GIT_SSL_CAINFO=/run/secrets/cog-ca-bundle \
    NODE_EXTRA_CA_CERTS=/run/secrets/cog-ca-bundle
  echo 'Acquire::https::CAInfo "/run/secrets/cog-ca-bundle";' > /tmp/cog-apt-ca.conf
  export APT_CONFIG=/tmp/cog-apt-ca.conf
fi
