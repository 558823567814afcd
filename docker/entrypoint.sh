#!/bin/sh
# Starts the service named by POWERNODE_SERVICE (gateway, catalog, ingest, provisioner) or runs the CLI.
set -e
cd /opt/powernode
case "${POWERNODE_SERVICE:-}" in
  gateway|catalog|ingest|provisioner|agent)
    exec node --import tsx "apps/${POWERNODE_SERVICE}/src/main.ts" ;;
  "")
    exec node --import tsx apps/cli/src/main.ts "$@" ;;
  *)
    echo "POWERNODE_SERVICE must be one of gateway, catalog, ingest, provisioner, agent (got '${POWERNODE_SERVICE}')" >&2
    exit 2 ;;
esac
