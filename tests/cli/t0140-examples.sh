#!/bin/bash
# examples/ works as shipped: the production mosquitto.conf runs a real
# broker with the plugin, the ESP32 sketch compiles against the generated
# header (with stand-ins for the Arduino libraries) and its credentials get in,
# the ACL commands in the OwnTracks and Node-RED notes decide as they say, the
# Node-RED flow is what the notes describe, the systemd units verify and the
# logrotate file rotates the audit log and sends SIGHUP.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"

EX=$MQ_ROOT/examples
PKI=$TRASH/pki

# render_conf OUT PORT [PLAIN_PORT]: examples/mosquitto.conf with the test's
# PKI, plugin and port. broker_start supplies user, logging and persistence, so
# those lines go; with PLAIN_PORT the optional localhost block is switched on.
render_conf() {
	local out=$1 tls_port=$2 local_port=${3:-}
	sed -e '/^pid_file /d' -e '/^persistence/d' -e '/^log_/d' \
		-e "s|^listener 8883\$|listener $tls_port 127.0.0.1|" \
		-e "s|/etc/mqcert/pki|$PKI|g" \
		-e "s|/usr/local/lib/mqcert/mqcert.so|$MQCERT_SO|" \
		-e "s|/etc/mosquitto/|$TRASH/|g" \
		"$EX/mosquitto.conf" >"$out"
	if [ -n "$local_port" ]; then
		# Uncomment the directives (not the prose) of the optional block.
		sed -i -e '/^# --- Optional: plain MQTT/,/^# Debian.s file ends/{
			s|^#\(plugin_opt_no_certificate\) |\1 |
			s|^#\(password_file\) |\1 |
			s|^#\(acl_file\) |\1 |
			s|^#listener 1883 127.0.0.1$|listener '"$local_port"' 127.0.0.1|
			s|^#\(protocol mqtt\)$|\1|
		}' "$out"
	fi
}

test_expect_success 'setup: a PKI like the one the examples describe' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki server issue mqtt.example.com --san DNS:mqtt.example.com \
		--san DNS:localhost --san IP:127.0.0.1 >/dev/null &&
	"$MQADMIN" -d pki device issue sensor-01 --group sensors >/dev/null &&
	"$MQADMIN" -d pki device issue dashboard --group dashboards >/dev/null &&
	"$MQADMIN" -d pki device issue esp32-kitchen --group sensors --format c-header >/dev/null &&
	"$MQADMIN" -d pki acl add --all --topic "devices/%u/#" --access readwrite >/dev/null &&
	"$MQADMIN" -d pki acl add --group dashboards --topic "devices/#" --access read >/dev/null &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-keyout stranger-ca.key -out stranger-ca.crt -subj "/CN=mqcert CA" 2>/dev/null &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout stranger.key -out stranger.csr -subj "/CN=sensor-01" 2>/dev/null &&
	openssl x509 -req -in stranger.csr -CA stranger-ca.crt -CAkey stranger-ca.key \
		-CAcreateserial -days 30 -out stranger.crt 2>/dev/null &&
	broker_free_port >port
'

test_expect_success 'mosquitto.conf: the settings mqcert relies on are there' '
	conf=$EX/mosquitto.conf &&
	test_grep -x "per_listener_settings false" "$conf" &&
	test_grep -x "listener 8883" "$conf" &&
	test_grep -x "require_certificate true" "$conf" &&
	test_grep -x "tls_version tlsv1.2" "$conf" &&
	test_grep -x "plugin /usr/local/lib/mqcert/mqcert.so" "$conf" &&
	test_grep -x "plugin_opt_store /etc/mqcert/pki/store" "$conf" &&
	test_grep -x "persistence true" "$conf" &&
	test_grep "^log_dest " "$conf" &&
	test_grep ! -E "^[[:space:]]*use_(identity|subject)_as_username" "$conf" &&
	test_grep ! -E "^[[:space:]]*include_dir" "$conf" &&
	test_grep ! -E "^listener 1883" "$conf"
'

test_expect_success 'mosquitto.conf: the real broker starts with it' '
	render_conf ex.conf "$(cat port)" &&
	grep -v "^#" ex.conf >ex.directives &&
	test_grep ! -e /etc/ -e /usr/local -e /var/ ex.directives &&
	broker_start ex "$(cat ex.conf)" &&
	wait_for 10 grep -q "mqcert: store sequence" "$(broker_log ex)" &&
	# The defaults written out in the comments are the ones the plugin uses.
	audit=$(sed -n "s|^#plugin_opt_audit_log ||p" ex.conf) &&
	state=$(sed -n "s|^#plugin_opt_state_file ||p" ex.conf) &&
	test "$audit" = "$PKI/audit/audit.log" &&
	test "$state" = "$PKI/audit/connected-any-8883.json" &&
	test_grep -F "mqcert: audit log $audit, state file $PKI/audit/connected-127.0.0.1-$(cat port).json" "$(broker_log ex)" &&
	crl=$(sed -n "s|^#plugin_opt_crl ||p" ex.conf) && ca=$(sed -n "s|^#plugin_opt_ca ||p" ex.conf) &&
	test_grep -F "mqcert: instance 127.0.0.1-$(cat port), CRL $crl (signed by $ca)" "$(broker_log ex)"
'

port=$(cat "$TRASH/port")
dev() { echo "-h localhost -p $port --cafile pki/ca.crt --cert pki/devices/$1/$1.crt --key pki/devices/$1/$1.key -i $1"; }

test_expect_success 'mosquitto.conf: a device connects and its message arrives' '
	mosquitto_sub $(dev dashboard) -t "devices/#" -v -C 1 -W 10 >got 2>sub.err &
	sub=$!
	wait_for 10 grep -q "dashboard 0 devices/#" "$(broker_log ex)" &&
	mosquitto_pub $(dev sensor-01) -t devices/sensor-01/telemetry -m 21.5 &&
	wait "$sub" &&
	echo "devices/sensor-01/telemetry 21.5" >expect &&
	test_cmp expect got &&
	test_grep "mqcert: accepted client .sensor-01." "$(broker_log ex)"
'

test_expect_success 'mosquitto.conf: a stranger and a client without a certificate are refused' '
	! mosquitto_pub -h localhost -p "$port" --cafile pki/ca.crt --cert stranger.crt \
		--key stranger.key -i sensor-01 -t devices/sensor-01/telemetry -m 1 2>err &&
	wait_for 10 grep -q "certificate verify failed" "$(broker_log ex)" &&
	! mosquitto_pub -h localhost -p "$port" --cafile pki/ca.crt -i x -t x -m 1 2>err &&
	wait_for 10 grep -q "peer did not return a certificate" "$(broker_log ex)" &&
	test $(grep -c "mqcert: accepted client" "$(broker_log ex)") -eq 2
'

test_expect_success 'mosquitto.conf: the optional localhost listener works as its comment says' '
	plain=$(broker_free_port) &&
	mosquitto_passwd -c -b passwd localsvc s3cret 2>/dev/null &&
	printf "user localsvc\ntopic readwrite local/#\n" >acl &&
	render_conf local.conf "$(broker_free_port)" "$plain" &&
	test_grep -x "listener $plain 127.0.0.1" local.conf &&
	test_grep -x "plugin_opt_no_certificate defer" local.conf &&
	broker_start local "$(cat local.conf)" &&
	log=$(broker_log local)
	mosquitto_sub -h 127.0.0.1 -p "$plain" -u localsvc -P s3cret -i localsvc-sub \
		-t "local/#" -C 1 -W 10 >lgot 2>lsub.err &
	sub=$!
	wait_for 10 grep -q "localsvc-sub 0 local/#" "$log" &&
	mosquitto_pub -h 127.0.0.1 -p "$plain" -u localsvc -P s3cret -i localsvc-pub \
		-t local/status -m up &&
	wait "$sub" &&
	echo up >expect && test_cmp expect lgot &&
	test_expect_code 5 mosquitto_pub -h 127.0.0.1 -p "$plain" -i anon -t local/status -m x 2>anon.err &&
	test_grep "not authori[sz]ed" anon.err &&
	test_expect_code 5 mosquitto_pub -h 127.0.0.1 -p "$plain" -u localsvc -P wrong -i bad \
		-t local/status -m x 2>bad.err &&
	test_grep "not authori[sz]ed" bad.err
'
broker_stop local

# --- ESP32 sketch -----------------------------------------------------------
# Stand-ins with the signatures of the ESP32 Arduino core and PubSubClient.
# They record what the sketch hands over, so the test can check it and use
# those very credentials against the broker above. No WiFi, TLS or MQTT code
# of the real libraries runs here.
write_arduino_stubs() {
	mkdir -p stubs
	cat >stubs/Arduino.h <<-'EOF'
	#pragma once
	#include <stdint.h>
	#include <stdio.h>
	#include <time.h>
	typedef bool boolean;
	unsigned long millis();
	void delay(unsigned long ms);
	void configTime(long gmt_offset, int dst_offset, const char *s1, const char *s2 = nullptr,
			const char *s3 = nullptr);
	struct HardwareSerial {
		void begin(unsigned long) {}
		void print(const char *s) { fputs(s, stderr); }
		void println(const char *s) { fprintf(stderr, "%s\n", s); }
		int printf(const char *fmt, ...) __attribute__((format(printf, 2, 3)));
	};
	extern HardwareSerial Serial;
	class Client {
	public:
		virtual ~Client() {}
		virtual int connect(const char *host, uint16_t port) = 0;
	};
	EOF
	cat >stubs/WiFi.h <<-'EOF'
	#pragma once
	#include "Arduino.h"
	enum wifi_mode_t { WIFI_OFF, WIFI_STA, WIFI_AP };
	enum wl_status_t { WL_IDLE_STATUS = 0, WL_CONNECTED = 3, WL_DISCONNECTED = 6 };
	struct WiFiClass {
		bool mode(wifi_mode_t) { return true; }
		wl_status_t begin(const char *ssid, const char *passphrase = nullptr);
		wl_status_t status();
		int8_t RSSI() { return -60; }
	};
	extern WiFiClass WiFi;
	EOF
	cat >stubs/WiFiClientSecure.h <<-'EOF'
	#pragma once
	#include "Arduino.h"
	class WiFiClientSecure : public Client {
	public:
		const char *ca = nullptr, *cert = nullptr, *key = nullptr;
		void setCACert(const char *rootCA) { ca = rootCA; }
		void setCertificate(const char *client_ca) { cert = client_ca; }
		void setPrivateKey(const char *private_key) { key = private_key; }
		int connect(const char *host, uint16_t port) override;
	};
	EOF
	cat >stubs/PubSubClient.h <<-'EOF'
	#pragma once
	#include "Arduino.h"
	class PubSubClient {
	public:
		explicit PubSubClient(Client &c) : client(&c) {}
		PubSubClient &setServer(const char *domain, uint16_t port);
		boolean connect(const char *id);
		boolean connected() { return up; }
		boolean loop() { return up; }
		boolean publish(const char *topic, const char *payload);
		int state() { return up ? 0 : -1; }
	private:
		Client *client;
		const char *host = nullptr;
		uint16_t port = 0;
		bool up = false;
	};
	EOF
	# The harness: runs setup() and loop() with a fake clock, then writes
	# what the sketch handed to WiFiClientSecure and PubSubClient to files.
	cat >stubs/harness.cpp <<-'EOF'
	#include "Arduino.h"
	#include "WiFi.h"
	#include "WiFiClientSecure.h"
	#include "PubSubClient.h"
	#include <stdarg.h>
	#include <stdlib.h>
	#include <string.h>
	void setup();
	void loop();
	HardwareSerial Serial;
	WiFiClass WiFi;
	static unsigned long now_ms;
	static const WiFiClientSecure *tls;
	static FILE *rec;
	unsigned long millis() { return now_ms; }
	void delay(unsigned long ms) { now_ms += ms; }
	void configTime(long, int, const char *, const char *, const char *) {}
	int HardwareSerial::printf(const char *fmt, ...)
	{
		va_list ap;
		va_start(ap, fmt);
		int n = vfprintf(stderr, fmt, ap);
		va_end(ap);
		return n;
	}
	wl_status_t WiFiClass::begin(const char *, const char *) { return WL_CONNECTED; }
	wl_status_t WiFiClass::status() { return WL_CONNECTED; }
	static void dump(const char *file, const char *s)
	{
		FILE *f = fopen(file, "w");
		if (!f || fputs(s, f) < 0 || fclose(f)) { perror(file); exit(1); }
	}
	int WiFiClientSecure::connect(const char *host, uint16_t port)
	{
		if (!ca || !cert || !key) {
			fprintf(stderr, "harness: TLS connect to %s before the credentials were set\n", host);
			exit(1);
		}
		fprintf(rec, "tls %s %u\n", host, port);
		tls = this;
		return 1;
	}
	PubSubClient &PubSubClient::setServer(const char *d, uint16_t p) { host = d; port = p; return *this; }
	boolean PubSubClient::connect(const char *id)
	{
		if (!host || !client->connect(host, port))
			return false;
		fprintf(rec, "connect %s\n", id);
		up = true;
		return true;
	}
	boolean PubSubClient::publish(const char *topic, const char *payload)
	{
		if (!up)
			return false;
		fprintf(rec, "publish %s %s\n", topic, payload);
		return true;
	}
	int main()
	{
		rec = fopen("calls", "w");
		if (!rec) return 1;
		setup();
		for (int i = 0; i < 50000; i++) { loop(); now_ms += 1; }
		if (!tls) { fprintf(stderr, "harness: no TLS connection\n"); return 1; }
		dump("got-ca.pem", tls->ca);
		dump("got-cert.pem", tls->cert);
		dump("got-key.pem", tls->key);
		return fclose(rec) ? 1 : 0;
	}
	EOF
}

test_expect_success 'esp32: the generated header compiles as C, warnings as errors' '
	printf "#include \"esp32-kitchen.h\"\nint main(void) { return esp32_kitchen_ca_der_len && esp32_kitchen_cert_der_len && esp32_kitchen_key_der_len && esp32_kitchen_ca_pem[0] && esp32_kitchen_cert_pem[0] && esp32_kitchen_key_pem[0] ? 0 : 1; }\n" >hdr.c &&
	gcc -std=c11 -Wall -Wextra -Werror -Ipki/devices/esp32-kitchen -o hdr hdr.c &&
	./hdr
'

test_expect_success 'esp32: the sketch compiles against the header and library stand-ins' '
	write_arduino_stubs &&
	mkdir -p sketch &&
	cp "$EX/esp32/mqcert_esp32/mqcert_esp32.ino" pki/devices/esp32-kitchen/esp32-kitchen.h sketch/ &&
	g++ -std=gnu++17 -Wall -Wextra -Werror -Wno-unused-parameter -Istubs -Isketch \
		-x c++ -include Arduino.h sketch/mqcert_esp32.ino -x none stubs/harness.cpp -o sketch/run
'

test_expect_success 'esp32: the sketch loads exactly the header credentials, then connects and publishes' '
	(cd sketch && ./run 2>serial.out) &&
	test_cmp pki/devices/esp32-kitchen/ca.crt sketch/got-ca.pem &&
	test_cmp pki/devices/esp32-kitchen/esp32-kitchen.crt sketch/got-cert.pem &&
	test_cmp pki/devices/esp32-kitchen/esp32-kitchen.key sketch/got-key.pem &&
	test_grep -x "tls mqtt.example.com 8883" sketch/calls &&
	test_grep -x "connect esp32-kitchen" sketch/calls &&
	test_grep -E "^publish devices/esp32-kitchen/telemetry \{\"uptime_s\":[0-9]+,\"rssi\":-60\}$" sketch/calls &&
	test $(grep -c ^publish sketch/calls) -ge 4
'

test_expect_success 'esp32: those credentials, client id and topic get through the example broker' '
	mosquitto_sub $(dev dashboard) -t "devices/esp32-kitchen/#" -v -C 1 -W 10 >egot 2>esub.err &
	sub=$!
	wait_for 10 grep -q "dashboard 0 devices/esp32-kitchen/#" "$(broker_log ex)" &&
	topic=$(sed -n "s/^publish \([^ ]*\) .*/\1/p" sketch/calls | head -n 1) &&
	id=$(sed -n "s/^connect //p" sketch/calls) &&
	mosquitto_pub -h localhost -p "$port" --cafile sketch/got-ca.pem --cert sketch/got-cert.pem \
		--key sketch/got-key.pem -i "$id" -t "$topic" -m "{\"uptime_s\":1}" &&
	wait "$sub" &&
	echo "devices/esp32-kitchen/telemetry {\"uptime_s\":1}" >expect &&
	test_cmp expect egot &&
	test_grep "mqcert: accepted client .esp32-kitchen." "$(broker_log ex)"
'

# --- OwnTracks and Node-RED notes: replay their mqadmin transcripts ---------
# doc_split MD OUTDIR: every "$ mqadmin ..." line inside a code block becomes
# OUTDIR/NNN.cmd (the arguments); for acl commands, whose output is exact, the
# lines shown after it become OUTDIR/NNN.exp.
doc_split() {
	/usr/bin/python3 - "$1" "$2" <<-'PY'
	import os, sys
	md, out = sys.argv[1], sys.argv[2]
	os.makedirs(out)
	n, inblock, cur = 0, False, None
	def close():
	    global cur
	    if cur is not None:
	        args, exp = cur
	        open(os.path.join(out, "%03d.cmd" % n), "w").write(args + "\n")
	        if args.startswith("acl "):
	            open(os.path.join(out, "%03d.exp" % n), "w").write("".join(l + "\n" for l in exp))
	    cur = None
	for line in open(md).read().splitlines():
	    if line.startswith("```"):
	        close()
	        inblock = not inblock
	    elif inblock and line.startswith("$ "):
	        close()
	        if line.startswith("$ mqadmin "):
	            n += 1
	            cur = (line[len("$ mqadmin "):], [])
	    elif inblock and cur is not None:
	        cur[1].append(line)
	close()
	PY
}

# doc_replay DIR: runs the commands in order on pki DIR, comparing outputs.
doc_replay() {
	local dir=$1 c
	for c in "$dir"/*.cmd; do
		eval "\"\$MQADMIN\" -d \"\$dir/pki\" $(cat "$c")" >"${c%.cmd}.out" 2>"${c%.cmd}.err" || {
			echo "failed: mqadmin $(cat "$c")" >&2
			cat "${c%.cmd}.err" >&2
			return 1
		}
		if [ -f "${c%.cmd}.exp" ]; then
			test_cmp "${c%.cmd}.exp" "${c%.cmd}.out" || return 1
		fi
	done
}

test_expect_success 'owntracks.md: its mqadmin commands run and decide as shown' '
	doc_split "$EX/owntracks.md" ot &&
	test $(ls ot/*.exp | wc -l) -ge 12 &&
	"$MQADMIN" -d ot/pki init >/dev/null &&
	doc_replay ot &&
	test -f ot/pki/devices/anna-phone/anna-phone.p12
'

test_expect_success 'owntracks.md: the p12 is the legacy 3DES/SHA-1 profile it describes' '
	pass=$(sed -n "s/^p12 passphrase (shown once, not stored): //p" $(grep -l "anna-phone --group family --format p12" ot/*.cmd | sed "s/cmd\$/out/")) &&
	test -n "$pass" &&
	openssl pkcs12 -info -noout -in ot/pki/devices/anna-phone/anna-phone.p12 \
		-passin "pass:$pass" >p12.info 2>&1 &&
	test_grep "MAC: sha1" p12.info &&
	test_grep "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC" p12.info &&
	test_grep "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC" p12.info
'

test_expect_success 'node-red.md: its mqadmin commands run and decide as shown' '
	doc_split "$EX/node-red.md" nr &&
	test $(ls nr/*.exp | wc -l) -ge 8 &&
	"$MQADMIN" -d nr/pki init >/dev/null &&
	doc_replay nr
'

# node-red/mqcert-flow.json -> "key value" lines for the checks below.
test_expect_success 'node-red flow: the settings node-red.md asks for' '
	/usr/bin/python3 - "$EX/node-red/mqcert-flow.json" >flow.txt <<-"PY" &&
	import json, sys
	nodes = json.load(open(sys.argv[1]))
	by = {}
	for n in nodes:
	    by.setdefault(n["type"], []).append(n)
	(tls,), (b,) = by["tls-config"], by["mqtt-broker"]
	assert b["tls"] == tls["id"], "broker node does not use the tls-config node"
	assert all(n["broker"] == b["id"] for n in by["mqtt in"] + by["mqtt out"])
	for k in ("cert", "key", "ca", "servername", "verifyservercert"):
	    print(k, tls[k])
	for k in ("broker", "port", "usetls", "clientid"):
	    print(k, b[k])
	print("user", b.get("user", ""), "password", b.get("password", ""))
	for n in by["mqtt in"]:
	    print("in", n["topic"])
	for n in by["mqtt out"]:
	    print("out", n["topic"])
	PY
	cat >expect <<-EOF &&
	cert /home/nodered/.node-red/mqcert/nodered-1.crt
	key /home/nodered/.node-red/mqcert/nodered-1.key
	ca /home/nodered/.node-red/mqcert/ca.crt
	servername mqtt.example.com
	verifyservercert True
	broker mqtt.example.com
	port 8883
	usetls True
	clientid nodered-1
	user  password 
	in devices/+/telemetry
	out devices/nodered-1/heartbeat
	EOF
	test_cmp expect flow.txt &&
	test "$("$MQADMIN" -d nr/pki acl check nodered-1 "devices/+/telemetry" subscribe | cut -d" " -f1)" = allow &&
	test "$("$MQADMIN" -d nr/pki acl check nodered-1 devices/nodered-1/heartbeat write | cut -d" " -f1)" = allow
'

test_expect_success 'node-red flow: its client id and topics work on the example broker' '
	"$MQADMIN" -d pki device issue nodered-1 --group dashboards >/dev/null
	sub_topic=$(sed -n "s/^in //p" flow.txt)
	pub_topic=$(sed -n "s/^out //p" flow.txt)
	id=$(sed -n "s/^clientid //p" flow.txt)
	nr="--cafile pki/ca.crt --cert pki/devices/nodered-1/nodered-1.crt --key pki/devices/nodered-1/nodered-1.key"
	wait_for 10 grep -q "store sequence [0-9]* in force (4 devices" "$(broker_log ex)"
	mosquitto_sub -h localhost -p "$port" $nr -i "$id" -t "$sub_topic" -v -C 1 -W 10 >nrgot 2>nrsub.err &
	sub=$!
	wait_for 10 grep -q "$id 0 $sub_topic" "$(broker_log ex)"
	mosquitto_pub $(dev sensor-01) -t devices/sensor-01/telemetry -m 22
	wait "$sub"
	echo "devices/sensor-01/telemetry 22" >expect
	test_cmp expect nrgot
	mosquitto_sub $(dev dashboard) -t "$pub_topic" -C 1 -W 10 >hbgot 2>hbsub.err &
	sub=$!
	wait_for 10 grep -q "dashboard 0 $pub_topic" "$(broker_log ex)"
	mosquitto_pub -h localhost -p "$port" $nr -i "$id" -t "$pub_topic" -m beat
	wait "$sub"
	echo beat >expect
	test_cmp expect hbgot
'

# --- logrotate ------------------------------------------------------------
test_expect_success 'logrotate: the file parses and names the audit log' '
	command -v logrotate >/dev/null &&
	sed -e "s|/etc/mqcert/pki|$PKI|" -e "s|/run/mosquitto/mosquitto.pid|$TRASH/ex.pid|" \
		"$EX/logrotate.d/mqcert" >lr.conf &&
	test_grep "^$PKI/audit/audit.log {" lr.conf &&
	echo "{\"event\":\"test\"}" >>pki/audit/audit.log &&
	logrotate -d -s lr.state lr.conf >lr.debug 2>&1 &&
	test_grep "rotating pattern: $PKI/audit/audit.log" lr.debug &&
	test_grep ! -i "error" lr.debug
'

test_expect_success 'logrotate: a forced rotation keeps the old lines and HUPs the broker' '
	echo "{\"event\":\"before-rotation\"}" >>pki/audit/audit.log &&
	cp pki/audit/audit.log audit.before &&
	hups=$(grep -c "Reloading config" "$(broker_log ex)" || true) &&
	logrotate -f -s lr.state lr.conf &&
	test_cmp audit.before pki/audit/audit.log.1 &&
	test -f pki/audit/audit.log && ! test -s pki/audit/audit.log &&
	test "$(stat -c "%a %U %G" pki/audit/audit.log)" = "640 mosquitto adm" &&
	wait_for 10 eval "test \$(grep -c \"Reloading config\" \"$(broker_log ex)\") -gt $hups" &&
	broker_is_running ex
'

# --- systemd ----------------------------------------------------------------
# The units as installed, except that mqadmin is the one under test (verify
# insists that ExecStart programs exist).
test_expect_success 'systemd: the drop-in, the service and the timer verify cleanly' '
	command -v systemd-analyze >/dev/null &&
	mkdir -p units/mosquitto.service.d &&
	cp "$EX/systemd/mqcert-expiring.service" "$EX/systemd/mqcert-expiring.timer" units/ &&
	cp "$EX/systemd/mosquitto.service.d/mqcert.conf" units/mosquitto.service.d/ &&
	printf "[Unit]\nDescription=stand-in for Debian mosquitto.service\n[Service]\nType=notify\nExecStart=/usr/sbin/mosquitto -c /etc/mosquitto/mosquitto.conf\nExecReload=/bin/kill -HUP \$MAINPID\n" >units/mosquitto.service &&
	sed -i "s|/usr/local/bin/mqadmin|$MQADMIN|" units/mqcert-expiring.service \
		units/mosquitto.service.d/mqcert.conf &&
	(cd units && systemd-analyze verify --man=no ./mosquitto.service \
		./mqcert-expiring.service ./mqcert-expiring.timer) >sd.out 2>&1 &&
	test_grep ! . sd.out
'

test_expect_success 'systemd: verify reads the drop-in (a typo in it would be reported)' '
	cp -r units units-typo &&
	echo "ProtectSytem=full" >>units-typo/mosquitto.service.d/mqcert.conf &&
	(cd units-typo && systemd-analyze verify --man=no ./mosquitto.service) >typo.out 2>&1 || true
	test_grep "mqcert.conf:.*ProtectSytem" typo.out
'

test_expect_success 'systemd: the drop-in keeps reload = SIGHUP and never blocks on doctor' '
	d=$EX/systemd/mosquitto.service.d/mqcert.conf &&
	test_grep -x "ExecReload=/bin/kill -HUP \$MAINPID" "$d" &&
	test_grep -E "^ExecStartPre=-\+?/usr/local/bin/mqadmin .*doctor --config " "$d" &&
	test_grep -x "ExecStart=/usr/local/bin/mqadmin -d /etc/mqcert/pki expiring --within 30d" \
		"$EX/systemd/mqcert-expiring.service" &&
	test_grep -x "OnCalendar=daily" "$EX/systemd/mqcert-expiring.timer"
'

# mqadmin expiring and doctor are newer than this test; once they exist, the
# command lines in the units must at least be valid usage (exit 0 or 1).
unit_cmd() {
	sed -n "s|^$1=[-+]*/usr/local/bin/mqadmin -d /etc/mqcert/pki ||p" "$2" |
		sed "s|/etc/mosquitto/mosquitto.conf|$TRASH/ex.conf|"
}
if "$MQADMIN" expiring --help >/dev/null 2>&1; then
	test_expect_success 'systemd: the timer command line runs and fails on a certificate about to expire' '
		args=$(unit_cmd ExecStart "$EX/systemd/mqcert-expiring.service") &&
		test -n "$args" &&
		rc=0 && "$MQADMIN" -d pki $args >exp.out 2>&1 || rc=$?
		test "$rc" -le 1 &&
		test_grep ! short-lived exp.out &&
		"$MQADMIN" -d pki device issue short-lived --days 10 >/dev/null &&
		test_must_fail "$MQADMIN" -d pki $args >exp2.out 2>&1 &&
		test_grep short-lived exp2.out
	'
else
	echo "# skipped: mqadmin expiring is not built yet"
fi
if "$MQADMIN" doctor --help 2>/dev/null | grep -q -- --config; then
	test_expect_success 'systemd: the ExecStartPre doctor command line is valid usage' '
		args=$(unit_cmd ExecStartPre "$EX/systemd/mosquitto.service.d/mqcert.conf") &&
		test -n "$args" &&
		rc=0 && "$MQADMIN" -d pki $args >doc.out 2>&1 || rc=$?
		test "$rc" -le 1
	'
else
	echo "# skipped: mqadmin doctor --config is not built yet"
fi

test_expect_success 'the example broker stops cleanly, no sanitizer report' '
	broker_stop ex &&
	! broker_is_running ex &&
	broker_sanitizer_clean
'

test_done
