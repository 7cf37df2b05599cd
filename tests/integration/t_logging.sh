# Log forms: under the journal (stderr is the stream JOURNAL_STREAM names)
# every line starts with its sd-daemon priority, so `journalctl -p err`
# finds errors (here: a failed reload); with log_format: json every line is
# one JSON object whose members are the line's key=value fields.
. "$(dirname "$0")/lib.sh"

P=$(free_port) H=$(free_port)
http_backend web "$H"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
HTTP:
  default: $H
CFG
: >"$T/portmux.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/portmux.log") start_portmux "$T/c.yaml"
curl -sS -o /dev/null "http://127.0.0.1:$P/"
# A broken configuration, then SIGHUP: the reload fails at priority 3.
printf 'PORTMUX:\n  ip: 127.0.0.1\n  port: %s\n  bogus: 1\n' "$P" >"$T/c.yaml"
kill -HUP "$PORTMUX_PID"
for _ in $(seq 1 40); do
	grep -q "reload failed" "$T/portmux.log" && break
	sleep 0.05
done
stop_portmux
log=$(cat "$T/portmux.log")
assert_contains "$log" "<6>info portmux 0.1.0 started: "
assert_contains "$log" "<3>error reload failed; keeping the running configuration"
assert_contains "$log" "<3>error $T/c.yaml:4:3: PORTMUX: unknown key 'bogus'"
# No timestamp of our own under the journal, and no line without a prefix.
bad=$(grep -v '^<[3467]>\(error\|warn\|info\|debug\) ' "$T/portmux.log" || true)
[ -z "$bad" ] || fail "lines without a priority: $bad"

# JSON, on a file (no prefix, our own time).
cat >"$T/j.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  log_format: json
HTTP:
  default: $H
CFG
: >"$T/portmux.log"
start_portmux "$T/j.yaml"
curl -sS -o /dev/null -H 'Host: "quoted\\' "http://127.0.0.1:$P/"
stop_portmux
$PY - "$T/portmux.log" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
objs = [json.loads(l) for l in lines]  # every line parses
for o in objs:
    assert o["level"] in ("error", "warn", "info", "debug"), o
    assert o["time"].endswith("Z") and "msg" in o, o
close = [o for o in objs if o["msg"].startswith("close ") and
         o.get("detector") == "http"]
assert close, lines
c = close[0]
assert c["reason"] == "eof" and c["via"] == "detector", c
assert int(c["conn"]) >= 1 and c["client"].startswith("127.0.0.1:"), c
# The Host's quote is sanitised, its backslashes escaped: the member reads
# back as the text of the line.
assert c["key"].startswith("?quoted\\"), c
assert c["key"] == c["msg"].split(" key=")[1].split(" ")[0], c
print("json ok: %d lines" % len(objs))
PY
