#!/bin/sh
# Container entry point. `serve` first runs `batchscore init` (schema upgrade, folders, demo
# model; idempotent), so a new database or volume needs no manual step. Other batchscore
# commands (worker, process-all, …) never change the schema: they refuse to start until it is
# current, and compose.yaml starts them once web is healthy. INIT_ON_START=0 skips the init,
# e.g. where the database user may not change the schema (docs/deploy.md).
# The programs the image ships (supercronic, python, sh) run as given; anything else is a
# batchscore command: `docker run IMAGE worker` runs `batchscore worker`.
set -eu
[ $# -gt 0 ] || set -- serve
case "$1" in
  supercronic | python | python3 | sh | bash | /*)
    exec "$@"
    ;;
  serve)
    if [ "${INIT_ON_START:-1}" != 0 ]; then
      batchscore init
    fi
    ;;
esac
exec batchscore "$@"
