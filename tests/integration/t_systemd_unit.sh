# The systemd unit: Type=notify, reload by SIGHUP, a dynamic unprivileged
# user with only CAP_NET_BIND_SERVICE, sandboxed so that
# `systemd-analyze security` rates it OK (exposure below 2.0).
. "$(dirname "$0")/lib.sh"

command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }
unit="$T/portmux.service"
sed -e 's|@BINDIR@|/usr/local/bin|g' -e 's|@SYSCONFDIR@|/etc|g' \
	"$TOP/systemd/portmux.service" >"$unit"
for line in "Type=notify" "ExecReload=/bin/kill -HUP \$MAINPID" \
	"DynamicUser=yes" "AmbientCapabilities=CAP_NET_BIND_SERVICE" \
	"CapabilityBoundingSet=CAP_NET_BIND_SERVICE" "NoNewPrivileges=yes" \
	"ExecStartPre=/usr/local/bin/portmux -t -c /etc/portmux/config.yaml"; do
	grep -qxF "$line" "$unit" || fail "unit lacks: $line"
done
out=$(systemd-analyze security --offline=true "$unit" 2>&1)
level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for portmux.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
echo "exposure: $level"
case $level in
*" OK") ;;
*) fail "systemd-analyze security: $level" ;;
esac
$PY -c "import sys; sys.exit(0 if float('${level%% *}') < 2.0 else 'exposure too high')"
