#!/bin/sh
# Starts the service named by POWERNODE_SERVICE (gateway, catalog, ingest, provisioner) or runs the CLI, both
# compiled into the image by its build stage.
set -e
cd /opt/powernode
case "${POWERNODE_SERVICE:-}" in
  gateway|catalog|ingest|provisioner|agent)
    exec node "apps/${POWERNODE_SERVICE}/dist/main.js" ;;
  "")
    exec node apps/cli/dist/main.js "$@" ;;
  *)
    echo "POWERNODE_SERVICE must be one of gateway, catalog, ingest, provisioner, agent (got '${POWERNODE_SERVICE}')" >&2
    exit 2 ;;
esac
