#!/usr/bin/env bash
# Install every Debian package kp needs. Idempotent; a fast no-op when all is present.
set -euo pipefail

PACKAGES=(
	build-essential cmake pkg-config git python3 python3-pytest python3-pytest-xdist
	libelf-dev libdw-dev liblzma-dev libcapstone-dev libcli11-dev nlohmann-json3-dev libgtest-dev
	qemu-system-x86 busybox-static cpio kmod util-linux
	bison flex bc libssl-dev dwarves xz-utils rsync
	linux-source-6.1
	# make install / make deb / kp-package and their tests (issue 26): the man page,
	# dpkg-deb, dpkg-shlibdeps and dpkg-scanpackages, lintian, systemd-analyze verify.
	lowdown help2man dpkg-dev lintian systemd
	# kp-build --sign-key and its test: sign-file is built with libssl-dev, checked by openssl.
	openssl
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}; run 'make deps' as root" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
