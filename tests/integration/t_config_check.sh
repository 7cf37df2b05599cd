# portmux -t checks a configuration (and its plugins) without listening:
# exit 0 for good ones; exit 1 with one "file:line:col: message" line (or
# "plugin FILE: reason") for bad ones. Also the CLI basics.
. "$(dirname "$0")/lib.sh"

check() { # CONFIG-TEXT EXPECTED-STATUS EXPECTED-TEXT
	printf '%s' "$1" >"$T/c.yaml"
	set +e
	out=$("$PORTMUX_BIN" -t -c "$T/c.yaml" 2>&1)
	rc=$?
	set -e
	assert_eq "$rc" "$2" "exit status for: $1"
	assert_contains "$out" "$3" "message"
	[ "$rc" -eq 0 ] || [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] ||
		fail "more than one line: $out"
}

check "$(cat "$TOP/etc/portmux/config.yaml")" 0 "is ok"
check 'PORTMUX:
  port: 99999
' 1 "$T/c.yaml:2:9: 99999 is out of range (1 to 65535)"
check 'PORTMUX:
  port: 1
  colour: blue
' 1 "$T/c.yaml:3:3: PORTMUX: unknown key 'colour'"
check 'PORTMUX:
  port: 1
HTTP:
  default:
    port: 80
    priority: fastest
' 1 "$T/c.yaml:6:15: unknown priority 'fastest'"
check 'PORTMUX: {port: 1}
SSH: {default: 22, default: 23}
' 1 "$T/c.yaml:2:20: duplicate key 'default'"
check 'PORTMUX:
  port: 1
 bad indent: x
' 1 "$T/c.yaml:3:"
check 'PORTMUX:
  port: 1
  probe_timeout: [1]
' 1 "$T/c.yaml:3:18: expected a number, found a list"

# Broken plugins are refused with the file and the reason.
for bad in bad_abi:"ABI version 99, expected 1" \
	no_entry:"missing entry symbol pmx_detector_entry" \
	wrong_name:"it is named 'other_name' but its file is 'wrong_name.so'" \
	create_fails:"create failed: cannot open /nonexistent/key"; do
	name=${bad%%:*}
	check "PORTMUX:
  port: 1
  plugin_dir: $TEST_PLUGINS
  detectors: [$name]
" 1 "plugin $TEST_PLUGINS/$name.so: ${bad#*:}"
done

# A missing file, and the CLI.
set +e
out=$("$PORTMUX_BIN" -t -c "$T/nonexistent.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" 1 "missing config"
assert_contains "$out" "$T/nonexistent.yaml: No such file or directory"
assert_contains "$("$PORTMUX_BIN" -V)" "portmux 0."
assert_contains "$("$PORTMUX_BIN" -h)" "-c FILE"
# The long forms, and what -V says besides the version.
v=$("$PORTMUX_BIN" --version)
assert_contains "$v" "portmux 0."
assert_contains "$v" "detector ABI 1"
assert_contains "$v" "plugin directory /"
assert_contains "$("$PORTMUX_BIN" --help)" "--config FILE"
"$PORTMUX_BIN" --test --config "$T/nonexistent.yaml" >/dev/null 2>&1 &&
	fail "--test --config of a missing file succeeded"
set +e
"$PORTMUX_BIN" -x >/dev/null 2>&1; rc=$?
set -e
assert_eq "$rc" 2 "unknown option"
# -t does not listen: the port stays free.
P=$(free_port)
printf 'PORTMUX:\n  ip: 127.0.0.1\n  port: %s\n' "$P" >"$T/ok.yaml"
"$PORTMUX_BIN" -t -c "$T/ok.yaml" >/dev/null
# A port already in use is reported and exits non-zero.
$PY -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$P)); s.listen(); time.sleep(3)" &
PIDS="$PIDS $!"
sleep 0.3
set +e
out=$("$PORTMUX_BIN" -c "$T/ok.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" 1 "port in use"
assert_contains "$out" "cannot listen on 127.0.0.1:$P: Address already in use"
