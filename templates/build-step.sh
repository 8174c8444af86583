# Sourced first by every build step.
# When cog build sets SOURCE_DATE_EPOCH, whatever the step writes is dated at it as the step ends (an exit trap,
# so that it holds for a build command that exits by itself too): the same files give the same layer on any
# machine and day. The mounts (caches, secrets, the uv binary) are other filesystems, which -xdev leaves alone
# (their read-only mount points are all touch can fail on). The first step made its marker before it wrote this
# file. The marker is dated a second back: file times tick coarsely (a file written right after it can have its
# very time), and every earlier step's are 1980's. The CA bundle's apt setting (below) goes as well, so that an
# image built behind a proxy is the same as one built without.
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
  cog_step_began=${cog_step_began:-$(mktemp /tmp/cog-step.XXXXXX)}
  touch -d "@$(($(date +%s) - 1))" "$cog_step_began"
else
  rm -f "${cog_step_began:-}"
  cog_step_began=
fi
trap 'if [ -n "$cog_step_began" ]; then
        find / -xdev -newer "$cog_step_began" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} + 2>/dev/null
        rm -f "$cog_step_began" /tmp/cog-apt-ca.conf
        touch -h -d "@$SOURCE_DATE_EPOCH" /tmp
      else
        rm -f /tmp/cog-apt-ca.conf
      fi' EXIT
# When `cog build --ca-bundle` hands in a CA bundle, BuildKit mounts it as the secret below for that step only,
# so it is never stored in a layer of the image.
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
