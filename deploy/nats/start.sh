#!/bin/sh
# Starts nats-server with deploy/nats/nats-server.conf's passwords in its environment: each
# component's password file, $TANDEM_NATS_PASSWORDS_DIR/<component>/password (default
# /run/nats-passwords), becomes the variable the config names (router →
# TANDEM_NATS_ROUTER_PASSWORD, decode-text → TANDEM_NATS_DECODE_TEXT_PASSWORD, …). A missing file
# stops it here; the arguments go to nats-server (`-c …/nats-server.conf -js -sd /data`).
# nats-server parses such a variable's value as a config value (a hex password starting with a
# digit would be read as a number), so each is exported in double quotes: passwords must not
# hold `"` or `\` (gen-passwords.sh writes hex digits).
set -eu
dir="${TANDEM_NATS_PASSWORDS_DIR:-/run/nats-passwords}"
for component in router prefill-vision prefill-text decode-text; do
  file="$dir/$component/password"
  if [ ! -s "$file" ]; then
    echo "start.sh: no NATS password for $component in $file" >&2
    exit 1
  fi
  password="$(cat "$file")"
  case "$password" in *'"'* | *'\'*)
    echo "start.sh: the NATS password in $file holds a quote or a backslash" >&2
    exit 1 ;;
  esac
  var="TANDEM_NATS_$(echo "$component" | tr 'a-z-' 'A-Z_')_PASSWORD"
  export "$var=\"$password\""
done
exec "${NATS_SERVER_BIN:-nats-server}" "$@"
