#!/usr/bin/env bash
# make deb: kp itself as a Debian package, from what `make all` built (no rebuild, no
# network): `make install-tools` into a staging root with Debian's paths, the control file
# (library dependencies from dpkg-shlibdeps), maintainer scripts that enable kp.service
# (deb-systemd-helper, as debhelper's would), dpkg-deb, then lintian (clean at warning
# level, no overrides).
#   dist/deb/build-kp-deb.sh BUILD_DIR      -> BUILD_DIR/deb/kp_VERSION_amd64.deb
set -euo pipefail
BUILD=$(realpath "${1:-build}")
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# kp has no release numbers yet: 0~gitDATE.COMMIT sorts by commit date.
VERSION=${KP_VERSION:?KP_VERSION (make deb sets it)}
# Whoever builds the package: $KP_MAINTAINER, else $DEBFULLNAME <$DEBEMAIL>, else the
# author of the commit built.
if [ -n "${KP_MAINTAINER:-}" ]; then
	MAINTAINER=$KP_MAINTAINER
elif [ -n "${DEBEMAIL:-}" ]; then
	MAINTAINER="${DEBFULLNAME:-kp} <$DEBEMAIL>"
else
	MAINTAINER=$(git -C "$REPO" log -1 --format='%an <%ae>')
fi
work=$BUILD/deb/kp
root=$work/root
rm -rf "$work"
mkdir -p "$root"
make -C "$REPO" --no-print-directory install-tools DESTDIR="$root" PREFIX=/usr \
	UNITDIR=/lib/systemd/system >/dev/null

doc=$root/usr/share/doc/kp
install -d "$doc"
first=$(git -C "$REPO" log --max-parents=0 --date=format:%Y --format=%cd 2>/dev/null | sort | sed -n 1p)
last=$(git -C "$REPO" log -1 --date=format:%Y --format=%cd 2>/dev/null || date +%Y)
years=${first:-$last}; [ "$years" = "$last" ] || years="$years-$last"
sed "s/@YEARS@/$years/" "$REPO/dist/deb/copyright" > "$doc/copyright"
chmod 0644 "$doc/copyright"
printf 'kp (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n' \
	"$VERSION" "$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)" \
	"$MAINTAINER" "$(date -R)" | gzip -9n > "$doc/changelog.gz" # a native package's name
chmod 0644 "$doc/changelog.gz"
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
	"$root"/usr/bin/kp-build "$root"/usr/bin/diffgen "$root"/usr/bin/kp-run-pre \
	"$root"/usr/sbin/kpctl

# dpkg-shlibdeps reads debian/control of the folder it runs in.
mkdir -p "$work/debian"
printf 'Source: kp\n\nPackage: kp\nArchitecture: amd64\n' > "$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O -eroot/usr/bin/kp-build -eroot/usr/bin/diffgen \
	-eroot/usr/bin/kp-run-pre -eroot/usr/sbin/kpctl 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

install -d -m 0755 "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: kp
Version: $VERSION
Architecture: amd64
Maintainer: $MAINTAINER
Installed-Size: $size
Depends: $shlibs, kmod
Recommends: python3, make, gcc
Section: kernel
Priority: optional
Description: live patching for Linux long-term kernels
 kp builds a live patch module from a source fix of a Linux kernel (kp-build,
 diffgen, kp-run-pre, kp-package) and applies it to the running kernel safely
 (kpctl: per-task switching, probation, canaries). Installed patches (kpctl
 install, or the kp-patch-NAME-RELEASE packages kp-package makes) are loaded
 at boot by kp.service; kp.enable=0 on the kernel command line turns that off.
CONTROL
install -m 0755 "$REPO/dist/deb/postinst" "$REPO/dist/deb/postrm" "$root/DEBIAN/"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z \
	| xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
deb=$BUILD/deb/kp_${VERSION}_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
if [ "${KP_DEB_LINTIAN:-1}" = 0 ]; then
	: # the caller runs lintian (test_persistence.py: with a patch package, one start)
elif command -v lintian >/dev/null; then
	lintian --fail-on error,warning "$deb"
else
	echo "deb: lintian not installed (make deps installs it); not checked" >&2
fi
