#!/usr/bin/env bash
# A newer openstackclient beside Debian's, for `openstack image metadef …` (issue #14), which
# bookworm's python3-openstackclient 6.0.0 and openstacksdk 0.101 predate. It takes trixie's
# pure-Python packages of openstackclient, openstacksdk and osc-lib (pinned below), fetched by
# apt from Debian's archive with its signatures checked, unpacked into .tools/openstackclient
# (nothing is installed system-wide from trixie), and run on bookworm's /usr/bin/python3 with the
# rest of its dependencies from bookworm. Run by scripts/setup.sh as root; the compat tests call
# .tools/openstackclient/bin/openstack for the metadef commands only.
set -euo pipefail
cd "$(dirname "$0")/.."

PINNED=(python3-openstackclient=7.4.0-3 python3-openstacksdk=4.4.0-5 python3-osc-lib=3.2.0-2)
# What openstacksdk 4.4 imports beyond what bookworm's python3-openstackclient already brings.
BOOKWORM_DEPENDENCIES=(python3-platformdirs python3-psutil python3-typing-extensions)
dir="$PWD/.tools/openstackclient"
stamp="$dir/installed"

absent=()
for p in "${BOOKWORM_DEPENDENCIES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || absent+=("$p")
done
if [ "${1:-}" = --check ]; then
  [ -x "$dir/bin/openstack" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${PINNED[*]}" ] && [ ${#absent[@]} -eq 0 ] && exit 0
  echo "Missing: openstackclient 7.4 in .tools/openstackclient (openstack image metadef, for npm test): run npm run setup as root." >&2
  exit 1
fi
if [ ${#absent[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${absent[@]}" >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${absent[@]}" >/dev/null; }
fi
if [ -x "$dir/bin/openstack" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${PINNED[*]}" ]; then exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" > "$work/trixie.list"
# A private apt state: trixie's index never reaches the system's sources or lists.
apt_private=(-q -o "Dir::Etc::SourceList=$work/trixie.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
echo "Fetching ${PINNED[*]} from Debian trixie for openstack image metadef ..."
apt-get "${apt_private[@]}" update >/dev/null
(cd "$work/debs" && apt-get "${apt_private[@]}" download "${PINNED[@]}" >/dev/null)

rm -rf "$dir"
mkdir -p "$dir/bin"
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$dir"; done
cat > "$dir/bin/openstack" <<WRAPPER
#!/bin/sh
# openstackclient 7.4 from .tools (scripts/setup-openstackclient.sh) on bookworm's python3.
PYTHONPATH="$dir/usr/lib/python3/dist-packages" exec /usr/bin/python3 -m openstackclient.shell "\$@"
WRAPPER
chmod +x "$dir/bin/openstack"
"$dir/bin/openstack" --version >/dev/null
echo "${PINNED[*]}" > "$stamp"
