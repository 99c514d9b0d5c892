#!/bin/bash
# broker-config run by the packaged mqadmin (/usr/bin) finds the plugin where
# the Debian package puts it, /usr/lib/TRIPLET/mosquitto/mqcert.so; played
# here in a copy of that layout under $TRASH.
. "$(dirname "$0")/../lib.sh"

TRIPLET=$(gcc -print-multiarch)

test_expect_success 'setup: a PKI with a server certificate, the package layout' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki server issue localhost >/dev/null &&
	mkdir -p usr/bin usr/lib/$TRIPLET/mosquitto &&
	cp "$MQADMIN" usr/bin/mqadmin &&
	cp "$MQCERT_SO" usr/lib/$TRIPLET/mosquitto/mqcert.so
'

test_expect_success 'broker-config names /usr/lib/TRIPLET/mosquitto/mqcert.so' '
	usr/bin/mqadmin -d pki broker-config >conf &&
	test_grep -x "plugin $TRASH/usr/lib/$TRIPLET/mosquitto/mqcert.so" conf
'

test_expect_success 'without it, the error names the places it looked and the package' '
	rm usr/lib/$TRIPLET/mosquitto/mqcert.so &&
	test_must_fail usr/bin/mqadmin -d pki broker-config 2>err &&
	test_grep "mqcert.so not found beside $TRASH/usr/bin or in ../lib/mqcert or ../lib/$TRIPLET/mosquitto" err &&
	test_grep "the Debian package, or pass --plugin PATH" err
'

test_done
