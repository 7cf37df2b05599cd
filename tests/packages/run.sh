#!/bin/bash
# make test-packages — the Debian package and the Arch (AUR) PKGBUILD, built
# from a copy of the tracked tree:
#   - dpkg-buildpackage -us -uc -b, then lintian: no error;
#   - makepkg --nodeps as an unprivileged user (Debian's makepkg: Arch's
#     dependencies are not installed here), and the package's contents;
#   - the .deb installed with dpkg on a fresh Debian 12 with systemd as
#     PID 1 (the container of tests/systemd): enabled and started by its
#     maintainer scripts, serving, stopped by dpkg -r.
# Needs root (the container); installs dpkg-dev, debhelper, lintian,
# makepkg, fakeroot, zstd and bsdtar (libarchive-tools) when missing.
set -euo pipefail
. "$(dirname "$0")/../systemd/container.sh"
PASS=0
fail() { say "FAIL: $*"; exit 1; }
ok() {
	PASS=$((PASS + 1))
	say "ok $PASS - $*"
}

[ "$(id -u)" -eq 0 ] || { say "SKIP: needs root"; exit 77; }
missing=""
for p in dpkg-dev debhelper lintian makepkg fakeroot zstd libarchive-tools; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends $missing >/dev/null
VERSION=$(sed -n 's/.*PORTMUX_VERSION "\(.*\)"/\1/p' "$TOP/core/version.h")
P=$WORK/packages
rm -rf "$P"
mkdir -p "$P/src"
# The tracked tree (and the files about to be committed), nothing built.
(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 cp --parents -t "$P/src")
mv "$P/src" "$P/portmux-$VERSION"

# Debian.
(cd "$P/portmux-$VERSION" && dpkg-buildpackage -us -uc -b) \
	>"$P/deb.log" 2>&1 || { tail -n 30 "$P/deb.log"; fail "dpkg-buildpackage"; }
DEB=$P/portmux_${VERSION}_$(dpkg --print-architecture).deb
[ -f "$DEB" ] || fail "no $DEB"
ok "dpkg-buildpackage -us -uc -b: $(basename "$DEB")"
lint=$(lintian --tag-display-limit 0 "$DEB" 2>&1 | grep -v '^running with root' || true)
say "$lint" | sed 's/^/# lintian: /'
! grep -q '^E:' <<<"$lint" || fail "lintian errors"
ok "lintian: no error ($(grep -c '^W:' <<<"$lint" || true) warnings)"
contents=$(dpkg -c "$DEB")
for f in ./usr/bin/portmux ./usr/lib/portmux/http.so \
	./lib/systemd/system/portmux.service ./etc/portmux/config.yaml \
	./usr/include/portmux/detector.h; do
	grep -q " $f\$" <<<"$contents" || fail "$f not in the .deb"
done
conffiles=$(dpkg-deb -f "$DEB" >/dev/null; dpkg-deb --ctrl-tarfile "$DEB" |
	tar -xO ./conffiles)
grep -q '^/etc/portmux/config.yaml$' <<<"$conffiles" || fail "config.yaml not a conffile"
ok "the .deb holds the binary, plugins, unit, header; /etc/portmux files are conffiles"

# Arch: makepkg as an unprivileged user, from a source tarball named as
# the PKGBUILD's source (found locally, not downloaded).
A=$P/arch
mkdir -p "$A"
cp "$TOP/packaging/arch/PKGBUILD" "$A/"
tar -C "$P" -czf "$A/portmux-$VERSION.tar.gz" \
	--exclude="portmux-$VERSION/debian/portmux*" \
	--exclude="portmux-$VERSION/debian/.debhelper" \
	--exclude="portmux-$VERSION/debian/files" \
	--exclude="portmux-$VERSION/debian/debhelper-build-stamp" \
	--exclude="portmux-$VERSION/build" "portmux-$VERSION"
chown -R nobody:nogroup "$A"
(cd "$A" && runuser -u nobody -- env HOME="$A" PKGEXT=.pkg.tar.zst \
	makepkg --nodeps --skipinteg --noconfirm) >"$A/makepkg.log" 2>&1 ||
	{ tail -n 30 "$A/makepkg.log"; fail "makepkg"; }
PKG=$(ls "$A"/portmux-"$VERSION"-1-*.pkg.tar.zst | grep -v debug | head -n 1)
[ -f "$PKG" ] || fail "no package"
list=$(tar -tf "$PKG")
for f in usr/bin/portmux usr/lib/portmux/http.so \
	usr/lib/systemd/system/portmux.service etc/portmux/config.yaml \
	usr/share/licenses/portmux/LICENSE .PKGINFO; do
	grep -qx "$f" <<<"$list" || fail "$f not in $(basename "$PKG")"
done
tar -xOf "$PKG" .PKGINFO | grep -q '^backup = etc/portmux/config.yaml$' ||
	fail "config.yaml not kept on upgrade (backup=)"
ok "makepkg (unprivileged): $(basename "$PKG") with binary, plugins, unit, config (backup), license"

# The .deb on a fresh Debian 12 under systemd.
container_prepare
cp "$DEB" "$ROOT/root/" # (the container's /tmp is a fresh tmpfs)
container_boot
ct dpkg -i "/root/$(basename "$DEB")" >"$P/dpkg-i.log" 2>&1 ||
	{ cat "$P/dpkg-i.log"; fail "dpkg -i"; }
for _ in $(seq 1 50); do
	[ "$(ct systemctl is-active portmux 2>/dev/null)" = active ] && break
	sleep 0.1
done
[ "$(ct systemctl is-active portmux)" = active ] || fail "not started by dpkg -i"
[ "$(ct systemctl is-enabled portmux)" = enabled ] || fail "not enabled"
ct mkdir -p /srv/web
echo "web 80" | ct tee /srv/web/index.html >/dev/null
ct systemd-run -q --unit=web80 python3 -m http.server 80 --bind 127.0.0.1 \
	--directory /srv/web
for _ in $(seq 1 50); do
	ct curl -s -o /dev/null http://127.0.0.1:80/ && break
	sleep 0.1
done
body=$(ct curl -s --max-time 5 -H "Host: any.test" http://127.0.0.1:8080/)
[ "$body" = "web 80" ] || fail "through the packaged PortMux: '$body'"
ok "dpkg -i on Debian 12: portmux.service enabled and active, serving"
ct dpkg -r portmux >/dev/null 2>&1 || fail "dpkg -r"
[ "$(ct systemctl is-active portmux 2>/dev/null || true)" != active ] ||
	fail "still running after dpkg -r"
ok "dpkg -r stops it"
say "packages: $PASS passed"
