#!/usr/bin/env bash
# The system packages `npm test` needs besides Node (run first by `npm test`, and by .ci/run):
# - iptables, iproute2: nodes in network namespaces, partitions cut with iptables (e2e);
# - chromium: browser tests (SDK failover in a page, the dashboard), driven by playwright-core;
# - systemd: `systemd-analyze verify/security` on the shipped unit.
# Missing ones are installed when this runs as root with apt-get (a fresh Debian machine or CI);
# otherwise it stops at once with one line naming them and the command that installs them.
# SYSTEM_DEPS_NO_INSTALL=1 never installs (behaves as if not root).
# Only shell builtins are used before installing, so a PATH without coreutils still gets the line.
set -u

missing() {
  local list=()
  command -v iptables >/dev/null 2>&1 || list+=(iptables)
  command -v ip >/dev/null 2>&1 || list+=(iproute2)
  # The browser tests launch /usr/bin/chromium (Debian's package) by that path.
  [ -x /usr/bin/chromium ] || list+=(chromium)
  command -v systemd-analyze >/dev/null 2>&1 || list+=(systemd)
  echo "${list[*]:-}"
}

packages="$(missing)"
[ -z "$packages" ] && exit 0

if [ "${EUID:-1}" = 0 ] && [ "${SYSTEM_DEPS_NO_INSTALL:-}" != 1 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: installing ${packages} (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086 # one word per package
  apt-get update -qq && apt-get install -y -qq --no-install-recommends $packages >/dev/null
  packages="$(missing)"
  [ -z "$packages" ] && exit 0
fi

echo "npm test needs system packages: ${packages}; install them with: sudo apt-get update && sudo apt-get install -y ${packages}" >&2
exit 1
