#!/bin/sh
# Writes a random NATS password (32 random bytes as 64 hex digits, mode 0600) to DIR/password for
# each DIR given, unless one is already there (so restarts keep them; compose's `down -v` drops
# them). Used by compose's one-shot `nats-credentials` service, one DIR per component volume;
# TANDEM_NATS_PASSWORD_OWNER (uid:gid) hands the files to the user the components run as.
#
#   sh deploy/nats/gen-passwords.sh DIR...
set -eu
umask 077
for dir in "$@"; do
  file="$dir/password"
  if [ ! -s "$file" ]; then
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$file.tmp"
    mv "$file.tmp" "$file"
  fi
  if [ -n "${TANDEM_NATS_PASSWORD_OWNER:-}" ]; then chown "$TANDEM_NATS_PASSWORD_OWNER" "$file"; fi
done
