#!/usr/bin/env bash
# Installs what the e2e tests need (strongSwan as an independent peer, tshark to decode, iperf3, nftables).
# Idempotent: when every package is already installed it touches neither the network nor dpkg.
# Run as root on Debian 12.
set -euo pipefail

# libstrongswan-standard-plugins (openssl: X25519/ECP, gcm) is only a Recommends of libstrongswan.
PACKAGES=(strongswan-charon libstrongswan-standard-plugins libcharon-extra-plugins strongswan-swanctl iproute2 iputils-ping tshark iperf3 nftables)

missing=()
for p in "${PACKAGES[@]}"; do
  # "install ok installed" only: a removed package keeps its config ("deinstall ok config-files").
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: all present (${PACKAGES[*]})"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: must run as root to install: ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Otherwise wireshark-common asks whether non-root users may capture (a debconf prompt).
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
echo "install-test-deps: installing ${missing[*]}"
apt-get update -q
# --no-install-recommends keeps optional extras out; what the tests need is listed explicitly above.
apt-get install -y -q --no-install-recommends "${missing[@]}"
