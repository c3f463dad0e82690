#!/bin/sh
# Starts redis-server with a user per Tandem component (docs/security.md), from one password file
# per user, $TANDEM_REDIS_PASSWORDS_DIR/<user>/password (default /run/redis-passwords; compose: the
# files its one-shot `redis-credentials` service generated; Kubernetes: the Secret
# `tandem-redis-credentials`):
#   router   the sequence store: every tandem:* key (tandem:seq:…, tandem:{…}:admission:…)
#   gateway  the cluster-wide admission count and the API keys' shared limits only:
#            tandem:{*}:admission:* keys
#   health   PING and nothing else, no password (the container's healthcheck)
# The default user is off: a client without credentials is refused (NOAUTH). Only SHA-256
# digests of the passwords are written to the ACL file (`#<hex>`), in a private directory.
# The arguments go to redis-server (`--save "" --appendonly no ...`).
set -eu
dir="${TANDEM_REDIS_PASSWORDS_DIR:-/run/redis-passwords}"
acl="${TANDEM_REDIS_ACL_FILE:-/tmp/tandem-redis/users.acl}"
umask 077
mkdir -p "$(dirname "$acl")"
digest() {
  file="$dir/$1/password"
  if [ ! -s "$file" ]; then
    echo "start.sh: no Redis password for $1 in $file" >&2
    exit 1
  fi
  tr -d '\n' < "$file" | sha256sum | cut -d' ' -f1
}
router="$(digest router)"
gateway="$(digest gateway)"
cat > "$acl" <<ACL
user default off
user router on #$router ~tandem:* &* +@all -@admin -@dangerous +info +ping
user gateway on #$gateway ~tandem:{*}:admission:* resetchannels -@all +@connection +info +evalsha +eval +zrem +zadd +zcard +zremrangebylex +hset +hget +hmget +hgetall +hdel +zrange +pexpire +time +script|load
user health on nopass resetchannels -@all +ping
ACL
exec "${REDIS_SERVER_BIN:-redis-server}" --aclfile "$acl" "$@"
