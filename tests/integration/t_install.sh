# make install honours DESTDIR and PREFIX: binary, plugins, the public
# header, the example config and script (never overwriting a config that is
# there), the systemd unit with the binary's path; the installed binary
# checks the installed config with the installed plugins. make uninstall
# removes exactly those files: a third-party plugin, a user's header and
# the configuration stay, and the directories go once empty.
. "$(dirname "$0")/lib.sh"

[ -f "$TOP/Makefile" ] || { echo "SKIP: not in a source tree"; exit 77; }
D=$T/root
# Its own build directory: the main build keeps its settings.
make -s -j2 -C "$TOP" install BUILD="$T/build" DESTDIR="$D" PREFIX=/usr \
	SYSCONFDIR=/etc UNITDIR=/lib/systemd/system >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log" >&2; fail "make install failed"; }
# What install puts there besides the configuration (uninstall's list).
INSTALLED="usr/bin/portmux usr/lib/portmux/http.so usr/lib/portmux/ssh.so
	usr/lib/portmux/tls.so usr/lib/portmux/openvpn.so
	usr/lib/portmux/python.so usr/lib/portmux/portmux-python
	usr/include/portmux/detector.h
	lib/systemd/system/portmux.service lib/systemd/system/portmux.socket
	usr/lib/pkgconfig/portmux.pc usr/lib/sysusers.d/portmux.conf
	usr/share/man/man8/portmux.8 usr/share/man/man5/portmux.yaml.5
	usr/share/man/man7/portmux-detector.7"
for f in $INSTALLED etc/portmux/config.yaml etc/portmux/script.py; do
	[ -e "$D/$f" ] || fail "not installed: /$f"
done
grep -q "^ExecStart=/usr/bin/portmux -c /etc/portmux/config.yaml$" \
	"$D/lib/systemd/system/portmux.service" || fail "unit: ExecStart"
assert_contains "$("$D/usr/bin/portmux" -V)" "default configuration /etc/portmux/config.yaml"
# The compiled-in plugin directory follows PREFIX.
assert_contains "$("$D/usr/bin/portmux" -h)" "else /usr/lib/portmux."
PORTMUX_PLUGIN_DIR=$D/usr/lib/portmux "$D/usr/bin/portmux" -t \
	-c "$D/etc/portmux/config.yaml" >/dev/null || fail "installed -t"
# The man pages render without a warning (and mandoc's lint, when it is
# there, finds nothing at all).
for page in usr/share/man/man8/portmux.8 usr/share/man/man5/portmux.yaml.5 \
	usr/share/man/man7/portmux-detector.7; do
	warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$D/$page" 2>&1 >/dev/null) ||
		fail "man -l $page: $warn"
	[ -z "$warn" ] || fail "man -l $page: $warn"
	if command -v mandoc >/dev/null; then
		lint=$(mandoc -T lint "$D/$page" 2>&1 || true)
		[ -z "$lint" ] || fail "mandoc -T lint $page: $lint"
	fi
done
assert_contains "$(LC_ALL=C.UTF-8 man -l "$D/usr/share/man/man8/portmux.8" 2>/dev/null)" "--config"
# pkg-config: the header's flags and the plugin directory (relocated into
# DESTDIR through the prefix variable), and the SDK builds a detector.
pc() {
	PKG_CONFIG_PATH=$D/usr/lib/pkgconfig pkg-config \
		--define-variable=prefix="$D/usr" "$@" portmux
}
assert_eq "$(pc --modversion)" "$("$D/usr/bin/portmux" -V | sed -n 's/^portmux //p')" "pc version"
assert_eq "$(pc --cflags | sed "s/ *$//")" "-I$D/usr/include" "pc cflags"
assert_eq "$(pc --variable=plugindir)" "$D/usr/lib/portmux" "pc plugindir"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden \
	$(pc --cflags) "$TOP/plugins/example/socks5.c" \
	-o "$(pc --variable=plugindir)/socks5.so" || fail "example via pkg-config"
printf 'PORTMUX:\n  port: 1\n  detectors: [socks5, http]\nSOCKS5:\n  default: 2\nHTTP:\n  default: 3\n' \
	>"$T/socks.yaml"
PORTMUX_PLUGIN_DIR=$D/usr/lib/portmux "$D/usr/bin/portmux" -t \
	-c "$T/socks.yaml" >/dev/null || fail "the pkg-config-built plugin"
rm "$D/usr/lib/portmux/socks5.so"
# An existing configuration is kept.
echo "# mine" >"$D/etc/portmux/config.yaml"
make -s -C "$TOP" install BUILD="$T/build" DESTDIR="$D" PREFIX=/usr \
	SYSCONFDIR=/etc UNITDIR=/lib/systemd/system >/dev/null 2>&1
assert_eq "$(cat "$D/etc/portmux/config.yaml")" "# mine" "config kept"

# Uninstall: exactly what install installed goes.
echo "not ours" >"$D/usr/lib/portmux/thirdparty.so"
echo "/* mine */" >"$D/usr/include/portmux/mine.h"
uninstall() {
	make -s -C "$TOP" uninstall BUILD="$T/build" DESTDIR="$D" PREFIX=/usr \
		SYSCONFDIR=/etc UNITDIR=/lib/systemd/system \
		>"$T/uninstall.log" 2>&1 ||
		{ cat "$T/uninstall.log" >&2; fail "make uninstall failed"; }
}
uninstall
for f in $INSTALLED; do
	[ ! -e "$D/$f" ] || fail "not uninstalled: /$f"
done
assert_eq "$(cat "$D/usr/lib/portmux/thirdparty.so")" "not ours" \
	"third-party plugin kept"
assert_eq "$(cat "$D/usr/include/portmux/mine.h")" "/* mine */" \
	"user's header kept"
assert_eq "$(cat "$D/etc/portmux/config.yaml")" "# mine" "config kept"
[ -e "$D/etc/portmux/script.py" ] || fail "uninstall removed script.py"
[ -d "$D/usr/bin" ] || fail "uninstall removed /usr/bin"
# Their directories go once nothing else is in them; twice is fine.
rm "$D/usr/lib/portmux/thirdparty.so" "$D/usr/include/portmux/mine.h"
uninstall
[ ! -e "$D/usr/lib/portmux" ] || fail "empty plugin directory kept"
[ ! -e "$D/usr/include/portmux" ] || fail "empty include directory kept"
[ -d "$D/etc/portmux" ] || fail "config directory removed"

# Another SYSCONFDIR: the binary's default configuration and the unit
# follow it (the example is installed where the binary looks).
D2=$T/root2
make -s -j2 -C "$TOP" install BUILD="$T/build2" DESTDIR="$D2" PREFIX=/opt/pm \
	SYSCONFDIR=/opt/pm/etc UNITDIR=/opt/pm/units >"$T/install2.log" 2>&1 ||
	{ cat "$T/install2.log" >&2; fail "make install SYSCONFDIR=/opt/pm/etc"; }
[ -f "$D2/opt/pm/etc/portmux/config.yaml" ] || fail "example not in SYSCONFDIR"
assert_contains "$("$D2/opt/pm/bin/portmux" -V)" \
	"default configuration /opt/pm/etc/portmux/config.yaml"
grep -q "^ExecStart=/opt/pm/bin/portmux -c /opt/pm/etc/portmux/config.yaml$" \
	"$D2/opt/pm/units/portmux.service" || fail "unit: ExecStart with SYSCONFDIR"
