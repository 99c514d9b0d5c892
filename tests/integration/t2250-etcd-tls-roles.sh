#!/bin/bash
# etcd for a fleet with TLS for clients and peers, client-certificate
# authentication and etcd roles (scripts/fleet-etcd-auth, docs/FLEET.md):
# certificates from the fleet's CA (mqadmin server issue --client for the
# member, --etcd-client for the identities), users with passwords, roles.
# Checked over etcd's JSON gateway (what mqadmin and sync speak) and etcdctl.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"

P=/mqcert/
b64() { printf %s "$1" | base64 -w0; }

# gw NAME PATH JSON: a JSON gateway call as identity NAME (its certificate,
# and a token from its password unless NAME is "nopw"); the answer in gw.out.
gw() {
	local name=$1 crt key tok=
	crt=pki/servers/$name/$name.crt key=pki/servers/$name/$name.key
	if [ "$name" = nopw ]; then crt=pki/servers/mqcert-admin/mqcert-admin.crt key=pki/servers/mqcert-admin/mqcert-admin.key; fi
	if [ "$name" != nopw ]; then
		curl -sS --max-time 10 --cacert pki/ca.crt --cert "$crt" --key "$key" \
			"$URL/v3/auth/authenticate" \
			-d "{\"name\":\"$name\",\"password\":\"$(cat "pki/etcd/$name.password")\"}" >auth.out &&
		tok=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open("auth.out"))["token"])') || return 1
	fi
	curl -sS --max-time 10 --cacert pki/ca.crt --cert "$crt" --key "$key" \
		${tok:+-H "Authorization: $tok"} "$URL$2" -d "$3" >gw.out
}
put_json() { echo "{\"key\":\"$(b64 "$1")\",\"value\":\"$(b64 "$2")\"}"; }
# gw_ok: the last answer is a success (a header, no error)
gw_ok() { grep -q '"header"' gw.out && ! grep -q '"error"' gw.out || { cat gw.out >&2; return 1; }; }
gw_denied() { grep -q "permission denied" gw.out || { cat gw.out >&2; return 1; }; }

CPORT=$(broker_free_port)
PPORT=$(broker_free_port)
URL=https://127.0.0.1:$CPORT

test_expect_success 'setup: a CA, the member certificate (--client), a TLS etcd' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki server issue etcd1 --san IP:127.0.0.1 --client --broker-user root >/dev/null 2>&1 &&
	S=pki/servers/etcd1
	# On a line of its own: "a && b &" would background the whole list.
	etcd --name etcd1 --data-dir "$TRASH/etcd1" \
		--listen-client-urls $URL --advertise-client-urls $URL \
		--listen-peer-urls https://127.0.0.1:$PPORT --initial-advertise-peer-urls https://127.0.0.1:$PPORT \
		--initial-cluster etcd1=https://127.0.0.1:$PPORT \
		--cert-file $S/etcd1.crt --key-file $S/etcd1.key --trusted-ca-file pki/ca.crt --client-cert-auth \
		--peer-cert-file $S/etcd1.crt --peer-key-file $S/etcd1.key \
		--peer-trusted-ca-file pki/ca.crt --peer-client-cert-auth >"$TRASH/etcd1.log" 2>&1 &
	echo $! >"$TRASH/etcd1.pid" &&
	test_at_end "kill \$(cat $TRASH/etcd1.pid)" &&
	"$MQADMIN" -d pki server issue probe --etcd-client >/dev/null 2>&1 &&
	wait_for 20 curl -sf --max-time 2 --cacert pki/ca.crt --cert pki/servers/probe/probe.crt \
		--key pki/servers/probe/probe.key $URL/health
'

test_expect_success 'fleet-etcd-auth creates the identities, users and roles and turns auth on' '
	MQADMIN="$MQADMIN" "$MQ_ROOT/scripts/fleet-etcd-auth" -d pki --endpoints $URL --sync b1 >out 2>err &&
	test_grep "etcd auth enabled" out &&
	test_grep "mqcert-sync-b1 (read /mqcert/, readwrite /mqcert/brokers/b1 and /mqcert/connected/b1/)" out &&
	for n in root mqcert-admin mqcert-sync-b1; do
		test -f pki/servers/$n/$n.crt &&
		test "$(stat -c %a pki/etcd/$n.password)" = 600 || exit 1
	done
'

test_expect_success 'the admin identity may write devices; nothing outside the prefix' '
	gw mqcert-admin /v3/kv/put "$(put_json ${P}devices/dev1 "{\"name\":\"dev1\"}")" && gw_ok &&
	gw mqcert-admin /v3/kv/put "$(put_json /elsewhere x)" && gw_denied
'

test_expect_success 'a sync identity reads the prefix but cannot write devices (permission denied)' '
	gw mqcert-sync-b1 /v3/kv/range "{\"key\":\"$(b64 ${P}devices/dev1)\"}" && gw_ok &&
	test_grep "$(b64 "{\"name\":\"dev1\"}")" gw.out &&
	gw mqcert-sync-b1 /v3/kv/put "$(put_json ${P}devices/dev1 "{\"name\":\"dev1\",\"evil\":1}")" && gw_denied &&
	gw mqcert-sync-b1 /v3/kv/put "$(put_json ${P}rules/1 "{}")" && gw_denied &&
	gw mqcert-sync-b1 /v3/kv/deleterange "{\"key\":\"$(b64 ${P}devices/dev1)\"}" && gw_denied &&
	gw mqcert-admin /v3/kv/range "{\"key\":\"$(b64 ${P}devices/dev1)\"}" &&
	test_grep "$(b64 "{\"name\":\"dev1\"}")" gw.out
'

test_expect_success 'a sync may write its own brokers/ and connected/ keys only, under a lease' '
	gw mqcert-sync-b1 /v3/lease/grant "{\"TTL\":30}" && gw_ok &&
	lease=$(/usr/bin/python3 -c "import json; print(json.load(open(\"gw.out\"))[\"ID\"])") &&
	gw mqcert-sync-b1 /v3/kv/put "{\"key\":\"$(b64 ${P}brokers/b1)\",\"value\":\"$(b64 "{}")\",\"lease\":\"$lease\"}" && gw_ok &&
	gw mqcert-sync-b1 /v3/kv/put "$(put_json ${P}connected/b1/dev1 "{}")" && gw_ok &&
	gw mqcert-sync-b1 /v3/kv/put "$(put_json ${P}brokers/b2 "{}")" && gw_denied &&
	gw mqcert-sync-b1 /v3/kv/put "$(put_json ${P}connected/b2/dev1 "{}")" && gw_denied
'

test_expect_success 'no certificate, or one from another CA: the TLS handshake is refused' '
	! curl -sS --max-time 10 --cacert pki/ca.crt $URL/v3/kv/range \
		-d "{\"key\":\"$(b64 ${P}devices/dev1)\"}" >out 2>err &&
	test_grep ! dev1 out &&
	"$MQADMIN" -d other init >/dev/null &&
	"$MQADMIN" -d other server issue mqcert-admin --etcd-client >/dev/null 2>&1 &&
	! curl -sS --max-time 10 --cacert pki/ca.crt --cert other/servers/mqcert-admin/mqcert-admin.crt \
		--key other/servers/mqcert-admin/mqcert-admin.key $URL/v3/kv/range \
		-d "{\"key\":\"$(b64 ${P}devices/dev1)\"}" >out 2>err &&
	test_grep ! dev1 out
'

test_expect_success 'a certificate without a password is nobody; a wrong password is refused' '
	gw nopw /v3/kv/range "{\"key\":\"$(b64 ${P}devices/dev1)\"}" &&
	test_grep "user name is empty" gw.out &&
	curl -sS --max-time 10 --cacert pki/ca.crt --cert pki/servers/mqcert-admin/mqcert-admin.crt \
		--key pki/servers/mqcert-admin/mqcert-admin.key $URL/v3/auth/authenticate \
		-d "{\"name\":\"mqcert-admin\",\"password\":\"guess\"}" >out &&
	test_grep "authentication failed" out
'

test_expect_success 'why --etcd-client: the gateway refuses a certificate with a CN (a device one)' '
	"$MQADMIN" -d pki device issue dev1 >/dev/null &&
	curl -sS --max-time 10 --cacert pki/ca.crt --cert pki/devices/dev1/dev1.crt \
		--key pki/devices/dev1/dev1.key $URL/v3/kv/range \
		-d "{\"key\":\"$(b64 ${P}devices/dev1)\"}" >out &&
	test_grep "CommonName of client sending a request against gateway will be ignored" out
'

test_expect_success 'etcdctl (gRPC) with the same identities: the same permissions' '
	ctl() { n=$1; shift; ETCDCTL_USER="$n:$(cat pki/etcd/$n.password)" etcdctl --endpoints $URL \
		--cacert pki/ca.crt --cert pki/servers/$n/$n.crt --key pki/servers/$n/$n.key "$@"; } &&
	! ctl mqcert-sync-b1 put ${P}devices/dev2 "{}" 2>err &&
	test_grep "permission denied" err &&
	ctl mqcert-admin put ${P}devices/dev2 "{}" &&
	ctl mqcert-sync-b1 get ${P}devices/dev2 >out && test_grep "${P}devices/dev2" out &&
	! ctl mqcert-admin user add intruder:x 2>err && test_grep "permission denied" err
'

test_expect_success 'run again: another sync is added, logged in as root, the others untouched' '
	MQADMIN="$MQADMIN" "$MQ_ROOT/scripts/fleet-etcd-auth" -d pki --endpoints $URL --sync b2 >out 2>err &&
	test_grep "logged in as root" out &&
	gw mqcert-sync-b2 /v3/kv/put "$(put_json ${P}brokers/b2 "{}")" && gw_ok &&
	gw mqcert-sync-b1 /v3/kv/put "$(put_json ${P}brokers/b1 "{}")" && gw_ok &&
	gw mqcert-sync-b2 /v3/kv/put "$(put_json ${P}devices/x "{}")" && gw_denied
'

test_expect_success 'bad input: an instance name with a slash is refused, nothing done' '
	test_expect_code 1 env MQADMIN="$MQADMIN" "$MQ_ROOT/scripts/fleet-etcd-auth" -d pki \
		--endpoints $URL --sync "a/../b" 2>err &&
	test_grep "invalid --sync" err && test ! -e "pki/servers/mqcert-sync-a"
'

test_done
