# The README's commands, run as written. Each fenced block of README.md
# marked `<!-- t_readme: KIND -->` (tests/tools/readme_blocks.py finds
# them) is checked here:
#   run              every command runs against PortMux on the example
#                    configuration (etc/portmux/config.yaml, which must be
#                    the README's "## Configuration" block) with real
#                    backends, and exits 0; a command whose comment says
#                    "# -> 127.0.0.1:PORT" must show that the backend of
#                    PORT answered: each backend signs its answers
#                    "backend-PORT" (HTTP body, TLS certificate and page,
#                    sshd banner);
#   nft              the ruleset loads (nft -c, then for real in a network
#                    namespace of its own);
#   promtool-config, promtool-rules
#                    promtool accepts it.
# What differs from a real server, substituted in each command: every
# port of the example (and 9100, the README's metrics port) is moved to a
# free one; PortMux listens on 127.0.0.1 only; /etc/portmux/config.yaml
# is the test's copy; `user@` is the test's user and ssh/sftp get the
# test key's options; `portmux` is the binary under test and `sudo` runs
# the command as is.
. "$(dirname "$0")/lib.sh"

for c in curl openssl ssh sftp ss; do
	command -v "$c" >/dev/null || { echo "SKIP: no $c"; exit 77; }
done
B=$T/blocks
$PY "$TOOLS/readme_blocks.py" "$TOP/README.md" "$B" || fail "README markers"
grep -q ' run [0-9]* ### Testing the setup$' "$B/blocks" ||
	fail "no marked run block under '### Testing the setup'"
[ -f "$B/config.yaml" ] || fail "no yaml block under '## Configuration'"
# The README shows the example configuration that ships.
strip() { grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$1"; }
[ "$(strip "$B/config.yaml")" = "$(strip "$TOP/etc/portmux/config.yaml")" ] ||
	fail "README's configuration differs from etc/portmux/config.yaml"

# The example's ports, by the section that names them first: HTTP
# backends, TLS backends (nginx), sshd; the others (OpenVPN's UDP) get no
# backend. Each moves to a free port.
kinds=$(awk '
	/^[A-Z]+:/ { sec = substr($1, 1, length($1) - 1); next }
	{
		s = $0; sub(/#.*/, "", s)
		while (match(s, /[0-9][0-9]+/)) {
			p = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
			if (!(p in seen)) { seen[p] = 1; print p, sec }
		}
	}' "$TOP/etc/portmux/config.yaml")
declare -A MAP
used=" "
for p in $(echo "$kinds" | cut -d' ' -f1) 9100; do
	for _ in 1 2 3 4 5 6 7 8 9 10; do # distinct ones
		q=$(free_port)
		case $used in *" $q "*) continue ;; esac
		used="$used$q "
		MAP[$p]=$q
		break
	done
	[ -n "${MAP[$p]:-}" ] || fail "no free port"
done
# Each example port, as a whole number, to its free one (the free ones
# are above 32767, none of them an example port). Twice: two matches side
# by side share the character between them.
SUB=()
for p in "${!MAP[@]}"; do
	SUB+=(-e "s/(^|[^0-9])$p([^0-9]|\$)/\\1${MAP[$p]}\\2/g")
	SUB+=(-e "s/(^|[^0-9])$p([^0-9]|\$)/\\1${MAP[$p]}\\2/g")
done
sub_ports() { sed -E "${SUB[@]}" <<<"$1"; }

# The backends, each signing "backend-PORT" (PORT: the example's).
tls=""
while read -r port sec; do
	case $sec in
	HTTP) http_backend "backend-$port" "${MAP[$port]}" ;;
	HTTPS) tls="$tls backend-$port:${MAP[$port]}" ;;
	SSH)
		echo "backend-$port" >"$T/banner"
		SSHD_EXTRA="Banner $T/banner" start_sshd "${MAP[$port]}"
		;;
	esac
done <<<"$kinds"
# shellcheck disable=SC2086 # one argument per TLS backend
[ -z "$tls" ] || start_nginx_tls $tls
[ -n "${SSH_USER:-}" ] || fail "no SSH route in the example"

# PortMux on the example, moved: loopback, free ports, metrics on.
sed -e 's/^  ip: 0\.0\.0\.0$/  ip: 127.0.0.1/' \
	-e 's/^PORTMUX:$/PORTMUX:\n  metrics: "127.0.0.1:9100"/' \
	"$TOP/etc/portmux/config.yaml" >"$T/example.yaml"
sub_ports "$(cat "$T/example.yaml")" >"$T/config.yaml"
grep -q '^  ip: 127.0.0.1$' "$T/config.yaml" || fail "example: no 'ip: 0.0.0.0'"
start_portmux "$T/config.yaml"

mkdir -p "$T/bin"
printf '#!/bin/sh\nexec "%s" "$@"\n' "$PORTMUX_BIN" >"$T/bin/portmux"
printf '#!/bin/sh\nexec "$@"\n' >"$T/bin/sudo"
chmod 755 "$T/bin/portmux" "$T/bin/sudo"
SSH_TEST_OPTS="-F /dev/null -i $T/clientkey -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o BatchMode=yes -o ConnectTimeout=10"

checked=0
run_block() { # FILE.cmds
	local line expect cmd out rc
	while IFS=$'\t' read -r line expect cmd; do
		local shown=$cmd
		cmd=$(sub_ports "$cmd")
		cmd=${cmd//\/etc\/portmux\/config.yaml/$T\/config.yaml}
		cmd=${cmd//user@/$SSH_USER@}
		case $cmd in
		"ssh "* | "sftp "*) cmd="${cmd%% *} $SSH_TEST_OPTS ${cmd#* }" ;;
		esac
		set +e
		out=$(cd "$T" && PATH="$T/bin:$PATH" timeout 20 bash -c "$cmd" \
			</dev/null 2>&1)
		rc=$?
		set -e
		[ "$rc" -eq 0 ] || {
			printf '%s\n' "$out" | tail -n 15 >&2
			fail "README line $line: exit $rc: $shown (ran: $cmd)"
		}
		case $expect:$out in
		-:* | *backend-"$expect"*) ;;
		*)
			printf '%s\n' "$out" | tail -n 15 >&2
			fail "README line $line: $shown: not answered by 127.0.0.1:$expect"
			;;
		esac
		echo "ok - README:$line: $shown"
		checked=$((checked + 1))
	done <"$1"
}

while read -r n kind line heading; do
	f=$B/$n.$kind
	case $kind in
	run) run_block "$B/$n.cmds" ;;
	nft)
		# (nft needs CAP_NET_ADMIN, even for -c.)
		if ! command -v nft >/dev/null || [ "$(id -u)" -ne 0 ]; then
			echo "# not root or no nft: README:$line not checked"
			continue
		fi
		nft -c -f "$f" >"$T/nft.out" 2>&1 ||
			{ cat "$T/nft.out" >&2; fail "README line $line: nft -c -f"; }
		if unshare -n true 2>/dev/null; then
			rules=$(unshare -n sh -c "nft -f '$f' && nft list ruleset") ||
				fail "README line $line: nft -f in a network namespace"
			assert_contains "$rules" "udp dport" "README line $line: loaded ruleset"
		fi
		echo "ok - README:$line: nftables ruleset ($heading)"
		checked=$((checked + 1))
		;;
	promtool-config | promtool-rules)
		command -v promtool >/dev/null || { echo "# no promtool: README:$line not checked"; continue; }
		cp "$f" "$T/prom.yml"
		promtool check "${kind#promtool-}" "$T/prom.yml" >"$T/prom.out" 2>&1 ||
			{ cat "$T/prom.out" >&2; fail "README line $line: promtool check ${kind#promtool-}"; }
		echo "ok - README:$line: promtool check ${kind#promtool-} ($heading)"
		checked=$((checked + 1))
		;;
	*) fail "README line $line: unknown t_readme kind '$kind'" ;;
	esac
done <"$B/blocks"
[ "$checked" -ge 10 ] || fail "only $checked README commands checked"
echo "README: $checked commands and blocks checked"
