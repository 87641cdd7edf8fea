#!/usr/bin/env bash
# Runs docs/glance-tenancy-probe.py against a fresh real Glance 25 with secure RBAC, and stops it.
# Glance 25 (Zed) defaults enforce_secure_rbac, enforce_new_defaults and enforce_scope to False, and
# start-glance.sh keeps those defaults; oslo.config reads OS_<GROUP>__<OPTION> from the environment,
# so the three are turned on here without editing the shared script. Own port and data directory,
# so it does not disturb a Glance (or an `npm start`) on 9292.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GLANCE=${GLANCE_SCRIPTS:-/work/shared/glance}
export GLANCE_ANCHOR_DIR=${GLANCE_ANCHOR_DIR:-/tmp/glance-personas} GLANCE_PORT=${GLANCE_PORT:-9392} GLANCE_FRESH=1 GLANCE_WORKERS=${GLANCE_WORKERS:-1}
export OS_DEFAULT__ENFORCE_SECURE_RBAC=true OS_OSLO_POLICY__ENFORCE_NEW_DEFAULTS=true OS_OSLO_POLICY__ENFORCE_SCOPE=true
bash "$GLANCE/start-glance.sh"
trap 'bash "$GLANCE/stop-glance.sh"' EXIT
# The warning Glance logs only when both secure-RBAC switches are on: proof the overrides took.
grep -q 'secure RBAC personas enabled' "$GLANCE_ANCHOR_DIR/log/glance-api.log" \
  || { echo 'secure RBAC is not on: see glance-api.log' >&2; exit 1; }
/usr/bin/python3 "$HERE/glance-tenancy-probe.py" "http://127.0.0.1:$GLANCE_PORT" \
  "$HERE/glance-tenancy-observed.json" "$HERE/glance-tenancy-observed.md"
