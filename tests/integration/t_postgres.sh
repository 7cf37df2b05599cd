# Debian's psql against Debian's PostgreSQL (a throwaway cluster made here
# with initdb, run as the postgres user on a free loopback port, with TLS)
# through PortMux, routed by database, next to HTTP on the same port:
#   - a cleartext StartupMessage for "sales" reaches the server (its route);
#   - one for "reports" reaches the capture server of that route, which
#     records it (psql then gives up: the capture server never answers);
#   - with sslmode=require the first message is an SSLRequest, which names
#     no database: it goes to `default` (the server), TLS is negotiated
#     through PortMux and the session is on "reports" all the same;
#   - psql interrupted (SIGINT) during a query sends a CancelRequest on a
#     new connection: it goes to `default` too and cancels the query.
. "$(dirname "$0")/lib.sh"

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "SKIP: no PostgreSQL server"; exit 77; }
command -v psql >/dev/null || { echo "SKIP: no psql"; exit 77; }
P=$(free_port) G=$(free_port) C=$(free_port) H=$(free_port)

# The server runs as postgres when we are root (it refuses root).
as_pg=""
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || { echo "SKIP: no postgres user"; exit 77; }
	as_pg="setpriv --reuid=postgres --regid=postgres --init-groups"
	chmod 711 "$T"
fi
mkdir "$T/pg"
[ -z "$as_pg" ] || chown postgres: "$T/pg"
$as_pg "$bin/initdb" -D "$T/pg/data" -U postgres -A trust -E UTF8 --no-sync \
	>"$T/initdb.log" 2>&1 || { cat "$T/initdb.log" >&2; fail "initdb"; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-days 2 -subj /CN=127.0.0.1 -keyout "$T/pg/data/server.key" \
	-out "$T/pg/data/server.crt" 2>/dev/null
chmod 600 "$T/pg/data/server.key"
[ -z "$as_pg" ] || chown postgres: "$T/pg/data/server.key" "$T/pg/data/server.crt"
start_bg postgres $as_pg "$bin/postgres" -D "$T/pg/data" -p "$G" \
	-c listen_addresses=127.0.0.1 -c unix_socket_directories="$T/pg" \
	-c ssl=on -c fsync=off
wait_port "$G"
for db in sales reports; do
	psql -qX "host=127.0.0.1 port=$G user=postgres dbname=postgres" \
		-c "create database $db" || fail "create database $db"
done

http_backend web "$H"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  detectors: [postgres, http]
HTTP:
  "default": $H
POSTGRES:
  "sales": $G
  "reports": $C
  "default": $G
CFG
start_portmux "$T/c.yaml"

q() { # CONNINFO SQL
	PGCONNECT_TIMEOUT=10 psql -AtqX "host=127.0.0.1 port=$P user=postgres $1" -c "$2"
}

assert_eq "$(q "dbname=sales sslmode=disable" "select current_database()")" \
	sales "psql to sales, in clear"

start_bg cap $PY "$TOOLS/capture.py" "$C" "$T/reports.bin" 2
cap=$LAST_PID
for _ in $(seq 1 100); do
	ss -Htln "sport = :$C" | grep -q . && break
	sleep 0.05
done
PGCONNECT_TIMEOUT=3 timeout 10 psql -AtqX \
	"host=127.0.0.1 port=$P user=postgres dbname=reports sslmode=disable" \
	-c "select 1" >/dev/null 2>&1 || true
wait "$cap" || fail "nothing reached the reports backend"
assert_contains "$(tr '\0' ' ' <"$T/reports.bin")" \
	"user postgres database reports" "StartupMessage at the reports backend"

assert_eq "$(q "dbname=reports sslmode=require" \
	"select current_database(), ssl from pg_stat_ssl where pid = pg_backend_pid()")" \
	"reports|t" "psql over TLS (SSLRequest to default)"

# psql sends a CancelRequest when interrupted.
set +e
out=$(PGCONNECT_TIMEOUT=10 timeout -s INT 2 psql -AtqX \
	"host=127.0.0.1 port=$P user=postgres dbname=sales sslmode=disable" \
	-c "select pg_sleep(30)" 2>&1)
set -e
assert_contains "$out" "canceling statement due to user request" \
	"query cancelled through PortMux"

assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/")" \
	"backend=web host=127.0.0.1:$P path=/" "http next to postgres"
sleep 0.2
log=$(pmx_log)
assert_contains "$log" "detector=postgres key=sales backend=127.0.0.1:$G"
assert_contains "$log" "detector=postgres key=reports backend=127.0.0.1:$C"
[ "$(grep -c "detector=postgres key=- backend=127.0.0.1:$G" "$T/portmux.log")" -ge 2 ] ||
	fail "the SSLRequest and the CancelRequest went to default"

# A client PortMux cannot serve hears why from psql: no route for its
# database (no default), or its server is down. Here an SSLRequest has no
# route either: no default.
stop_portmux
Z=$(free_port)
cat >"$T/c2.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  detectors: [postgres]
POSTGRES:
  "sales": $G
  "gone": $Z
CFG
start_portmux "$T/c2.yaml"
assert_eq "$(q "dbname=sales sslmode=disable" "select 1")" 1 "sales still served"
out=$(q "dbname=reports sslmode=disable" "select 1" 2>&1 || true)
assert_contains "$out" "FATAL:  portmux: no route for this database" "no route, in clear"
# (libpq does not print a server's text in answer to an SSLRequest, since
# the fix for CVE-2024-10977: it only says there was one.)
out=$(q "dbname=reports sslmode=prefer" "select 1" 2>&1 || true)
assert_contains "$out" "server sent an error response during SSL exchange" \
	"no route, after SSLRequest"
out=$(q "dbname=gone sslmode=disable" "select 1" 2>&1 || true)
assert_contains "$out" "FATAL:  portmux: the database server is unreachable" "backend down"
