# XMPP by its `to` domain: two real prosody servers (Debian's prosody,
# each in the foreground with its own config, data and certificate, on
# free loopback ports), one serving a.test and one chat.b.test, behind
# one PortMux port shared with HTTP and SSH. A real client (Debian's
# python3-slixmpp, tests/tools/xmpp_client.py) logs in through PortMux —
# STARTTLS, SASL, roster, a message to itself — on the server its domain
# is routed to (exact name; wildcard); a domain with no route gets
# PortMux's host-unknown stream error. An HTTP request, an SSH login and
# a silent client (on_timeout: SSH) share the port.
. "$(dirname "$0")/lib.sh"

command -v prosody >/dev/null || { echo "SKIP: no prosody"; exit 77; }
$PY -c 'import slixmpp' 2>/dev/null ||
	{ echo "SKIP: no python3-slixmpp"; exit 77; }

P=$(free_port) A=$(free_port) B=$(free_port) H=$(free_port) S=$(free_port)

# start_prosody NAME PORT DOMAIN USER — a prosody for DOMAIN on PORT with
# one account USER (password "secret").
start_prosody() {
	d=$T/prosody-$1
	mkdir -p "$d/data"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 2 -subj "/CN=$3" -keyout "$d/key.pem" \
		-out "$d/cert.pem" 2>/dev/null
	cat >"$d/prosody.cfg.lua" <<CFG
run_as_root = true
pidfile = "$d/prosody.pid"
data_path = "$d/data"
interfaces = { "127.0.0.1" }
c2s_ports = { $2 }
c2s_direct_tls_ports = {}
s2s_ports = {}
s2s_direct_tls_ports = {}
component_ports = {}
http_ports = {}
https_ports = {}
log = { info = "$d/prosody.log" }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping" }
authentication = "internal_hashed"
VirtualHost "$3"
  ssl = { key = "$d/key.pem"; certificate = "$d/cert.pem" }
CFG
	prosodyctl --config "$d/prosody.cfg.lua" register "$4" "$3" secret \
		>/dev/null 2>&1 || fail "prosodyctl register $4@$3"
	start_bg "prosody-$1" prosody --config "$d/prosody.cfg.lua" -F
	wait_port "$2"
}

xmpp() { # JID — log in through PortMux; prints what the client saw
	$PY "$TOP/tests/tools/xmpp_client.py" 127.0.0.1 "$P" "$1" secret \
		2>/dev/null || true
}

start_prosody a "$A" a.test alice
start_prosody b "$B" chat.b.test bob
http_backend web "$H"
start_sshd "$S"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  probe_timeout: 0.5
XMPP:
  "a.test": $A
  "*.b.test": $B
HTTP:
  "default": $H
SSH:
  "default": $S
CFG
start_portmux "$T/c.yaml"

# Exact name: alice's server. Its stream features come back through
# PortMux (STARTTLS offered), then the whole session works.
out=$(xmpp alice@a.test)
assert_contains "$out" "features: " "prosody's stream features"
assert_contains "$out" "starttls" "STARTTLS offered"
assert_contains "$out" "login ok" "alice logs in on a.test's server"
assert_contains "$out" "message ok" "alice's message comes back"

# Wildcard: chat.b.test is below b.test — bob's server.
out=$(xmpp bob@chat.b.test)
assert_contains "$out" "message ok" "bob logs in on chat.b.test's server"
# ... and bob does not exist on a.test's server: the route mattered.
assert_not_contains "$(xmpp bob@a.test)" "login ok" "bob is unknown on a.test"

# No route for c.test and no default: a stream error, not a bare close.
out=$(xmpp eve@c.test)
assert_contains "$out" "stream error: host-unknown" "no route: host-unknown"

# The port's other protocols.
assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/")" \
	"backend=web host=127.0.0.1:$P path=/" "http next to xmpp"
# shellcheck disable=SC2086
out=$(ssh $SSH_OPTS -p "$P" "$SSH_USER@127.0.0.1" 'echo ssh ok')
assert_eq "$out" "ssh ok" "ssh next to xmpp"
out=$(client silent "$P" 5)
assert_contains "$out" "SSH-2.0-OpenSSH" "a silent client gets the SSH banner"

sleep 0.2
log=$(pmx_log)
assert_contains "$log" "via=detector detector=xmpp key=a.test backend=127.0.0.1:$A"
assert_contains "$log" "via=detector detector=xmpp key=chat.b.test backend=127.0.0.1:$B"
assert_contains "$log" "detector=xmpp key=c.test"
assert_contains "$(cat "$T/prosody-a/prosody.log")" "Authenticated as alice@a.test"
