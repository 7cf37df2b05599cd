# make install honours DESTDIR and PREFIX: binary, plugins, the public
# header, the example config and script (never overwriting a config that is
# there), the systemd unit with the binary's path; the installed binary
# checks the installed config with the installed plugins.
. "$(dirname "$0")/lib.sh"

[ -f "$TOP/Makefile" ] || { echo "SKIP: not in a source tree"; exit 77; }
D=$T/root
# Its own build directory: the main build keeps its settings.
make -s -j2 -C "$TOP" install BUILD="$T/build" DESTDIR="$D" PREFIX=/usr \
	SYSCONFDIR=/etc UNITDIR=/lib/systemd/system >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log" >&2; fail "make install failed"; }
for f in usr/bin/portmux usr/lib/portmux/http.so usr/lib/portmux/ssh.so \
	usr/lib/portmux/tls.so usr/lib/portmux/openvpn.so \
	usr/lib/portmux/python.so usr/include/portmux/detector.h \
	etc/portmux/config.yaml etc/portmux/script.py \
	lib/systemd/system/portmux.service lib/systemd/system/portmux.socket; do
	[ -e "$D/$f" ] || fail "not installed: /$f"
done
grep -q "^ExecStart=/usr/bin/portmux -c /etc/portmux/config.yaml$" \
	"$D/lib/systemd/system/portmux.service" || fail "unit: ExecStart"
# The compiled-in plugin directory follows PREFIX.
assert_contains "$("$D/usr/bin/portmux" -h)" "else /usr/lib/portmux."
PORTMUX_PLUGIN_DIR=$D/usr/lib/portmux "$D/usr/bin/portmux" -t \
	-c "$D/etc/portmux/config.yaml" >/dev/null || fail "installed -t"
# An existing configuration is kept.
echo "# mine" >"$D/etc/portmux/config.yaml"
make -s -C "$TOP" install BUILD="$T/build" DESTDIR="$D" PREFIX=/usr \
	SYSCONFDIR=/etc UNITDIR=/lib/systemd/system >/dev/null 2>&1
assert_eq "$(cat "$D/etc/portmux/config.yaml")" "# mine" "config kept"
