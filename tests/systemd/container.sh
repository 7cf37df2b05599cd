# container.sh — a Debian 12 container with systemd as PID 1, for
# tests/systemd/run.sh and tests/packages/run.sh (sourced; set -euo
# pipefail there). The root is made once in $WORK/rootfs.base (debootstrap
# from the configured mirror, about a minute) and copied for each run:
#   container_prepare      fresh $ROOT (a copy of the base)
#   container_boot         boot it (own loopback), wait until running
#   ct CMD...              run CMD inside
# The container is powered off when the script exits.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${SYSTEMD_TEST_DIR:-$TOP/build-systemd}
BASE=$WORK/rootfs.base
ROOT=$WORK/rootfs
MIRROR=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources \
	2>/dev/null | head -n 1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
NSPAWN=""
LEADER=""

say() { printf '%s\n' "$*"; }

container_prepare() {
	[ "$(id -u)" -eq 0 ] || { say "SKIP: needs root"; exit 77; }
	for tool in systemd-nspawn:systemd-container debootstrap:debootstrap; do
		command -v "${tool%%:*}" >/dev/null ||
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends "${tool#*:}" >/dev/null
	done
	mkdir -p "$WORK"
	if [ ! -x "$BASE/bin/systemctl" ]; then
		say "# debootstrap bookworm from $MIRROR into $BASE"
		rm -rf "$BASE.tmp"
		debootstrap --variant=minbase \
			--include=systemd,systemd-sysv,dbus,libev4,libyaml-0-2,libpython3.11,python3,curl,iproute2,procps \
			bookworm "$BASE.tmp" "$MIRROR" \
			>"$WORK/debootstrap.log" 2>&1 ||
			{ tail -n 20 "$WORK/debootstrap.log"; exit 1; }
		mv "$BASE.tmp" "$BASE"
	fi
	rm -rf "$ROOT"
	cp -a "$BASE" "$ROOT"
}

container_cleanup() {
	if [ -n "$NSPAWN" ] && kill -0 "$NSPAWN" 2>/dev/null; then
		ct systemctl poweroff >/dev/null 2>&1 || true
		for _ in $(seq 1 100); do
			kill -0 "$NSPAWN" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$NSPAWN" 2>/dev/null || true
	fi
	# Its PID 1 (and so everything in it) never outlives the test.
	[ -z "$LEADER" ] || kill -KILL "$LEADER" 2>/dev/null || true
}

ct() { nsenter -t "$LEADER" -a -- "$@"; }

container_boot() {
	local state=booting
	trap container_cleanup EXIT
	systemd-nspawn -D "$ROOT" --boot --register=no --keep-unit \
		--private-network --console=passive -M portmux-test \
		--capability=CAP_BPF,CAP_PERFMON --system-call-filter=bpf \
		>"$WORK/nspawn.log" 2>&1 &
	NSPAWN=$!
	for _ in $(seq 1 100); do
		# The container's PID 1 once it runs systemd (nspawn forks
		# twice).
		LEADER=$(ps -o pid=,comm= --ppid "$NSPAWN" |
			awk '$2 == "systemd" { print $1; exit }')
		[ -n "$LEADER" ] && break
		sleep 0.1
	done
	[ -n "$LEADER" ] || { cat "$WORK/nspawn.log"; exit 1; }
	for _ in $(seq 1 600); do
		state=$(ct systemctl is-system-running 2>/dev/null || true)
		case $state in running | degraded) break ;; esac
		sleep 0.1
	done
	case $state in
	running | degraded) ;;
	*) say "boot: $state"; exit 1 ;;
	esac
	say "# container booted: $state ($(ct systemctl --version | head -n 1))"
}
