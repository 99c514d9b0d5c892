#!/bin/bash
# examples/systemd/mqcert-crl.service and .timer: they verify as installed
# (and with the passphrase lines switched on), and the service's command
# line re-signs the CRL of an encrypted CA with the passphrase file it is
# handed, raising nextUpdate and the CRL number.
. "$(dirname "$0")/../lib.sh"

EX=$MQ_ROOT/examples/systemd
next_update() { date -d "$(openssl crl -in pki/crl.pem -noout -nextupdate | cut -d= -f2)" +%s; }
crl_number() { printf "%d\n" "$(openssl crl -in pki/crl.pem -noout -crlnumber | cut -d= -f2)"; }

test_expect_success 'the service and the timer verify cleanly (mqadmin under test)' '
	command -v systemd-analyze >/dev/null &&
	mkdir units && cp "$EX/mqcert-crl.service" "$EX/mqcert-crl.timer" units/ &&
	printf "[Unit]\nDescription=stand-in for Debian mosquitto.service\n[Service]\nExecStart=/usr/sbin/mosquitto -c /etc/mosquitto/mosquitto.conf\nExecReload=/bin/kill -HUP \$MAINPID\n" >units/mosquitto.service &&
	sed -i "s|/usr/local/bin/mqadmin|$MQADMIN|" units/mqcert-crl.service &&
	(cd units && systemd-analyze verify --man=no ./mqcert-crl.service ./mqcert-crl.timer) >sd.out 2>&1 &&
	test_grep ! . sd.out
'

test_expect_success 'with the passphrase lines uncommented they verify too' '
	cp -r units units-pass &&
	sed -i -e "s|^#LoadCredential=|LoadCredential=|" -e "s|^#Environment=|Environment=|" \
		units-pass/mqcert-crl.service &&
	test_grep "^LoadCredential=ca-pass:/etc/mqcert/ca.pass$" units-pass/mqcert-crl.service &&
	test_grep "^Environment=MQADMIN_PASSPHRASE_FILE=%d/ca-pass$" units-pass/mqcert-crl.service &&
	(cd units-pass && systemd-analyze verify --man=no ./mqcert-crl.service) >sd.out 2>&1 &&
	test_grep ! . sd.out
'

test_expect_success 'the units say what they do: daily, re-sign, reload the broker' '
	test_grep -x "OnCalendar=daily" "$EX/mqcert-crl.timer" &&
	test_grep -x "Persistent=true" "$EX/mqcert-crl.timer" &&
	test_grep -x "ExecStart=/usr/local/bin/mqadmin -d /etc/mqcert/pki crl update --days 30" "$EX/mqcert-crl.service" &&
	test_grep -x "ExecStartPost=-+/bin/systemctl try-reload-or-restart mosquitto.service" "$EX/mqcert-crl.service" &&
	test_grep -x "ReadWritePaths=/etc/mqcert/pki" "$EX/mqcert-crl.service"
'

test_expect_success 'its command line re-signs an encrypted CA'"'"'s CRL with the credential file' '
	echo "correct horse" >pass &&
	"$MQADMIN" -d pki init --passphrase-file pass >/dev/null &&
	"$MQADMIN" -d pki crl update --days 1 --passphrase-file pass >/dev/null &&
	before=$(next_update) && n=$(crl_number) &&
	args=$(sed -n "s|^ExecStart=/usr/local/bin/mqadmin -d /etc/mqcert/pki ||p" "$EX/mqcert-crl.service") &&
	test -n "$args" &&
	mkdir creds && cp pass creds/ca-pass && chmod 600 creds/ca-pass &&
	MQADMIN_PASSPHRASE_FILE=$TRASH/creds/ca-pass "$MQADMIN" -d pki $args </dev/null >out &&
	test_grep -x "pki/crl.pem" out &&
	test $(next_update) -gt $((before + 20 * 86400)) &&
	test $(crl_number) -gt $n &&
	openssl crl -in pki/crl.pem -CAfile pki/ca.crt -noout 2>&1 | grep -q "verify OK"
'

test_expect_success 'without the credential it fails (exit 1) and says how to pass one' '
	args=$(sed -n "s|^ExecStart=/usr/local/bin/mqadmin -d /etc/mqcert/pki ||p" "$EX/mqcert-crl.service") &&
	cp pki/crl.pem crl.before &&
	test_must_fail "$MQADMIN" -d pki $args </dev/null 2>err &&
	test_grep "pass --passphrase-file FILE or set MQADMIN_PASSPHRASE_FILE" err &&
	cmp crl.before pki/crl.pem
'

test_done
