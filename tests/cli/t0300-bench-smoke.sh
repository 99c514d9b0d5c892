#!/bin/bash
# The bench's fleet generator (bench/genconf.py + bench/genstore, issue 15):
# 1,000 devices and 10 rules written straight into a PKI's store, which
# mqadmin then reads like one it wrote itself (expiring exits 1 when some
# certificate expires within the window). make bench builds its fleets
# this way at up to 1,000,000 devices.
. "$(dirname "$0")/../lib.sh"

GENSTORE=$MQ_BUILD/bench/genstore

test_expect_success 'setup: a PKI with the two devices that would connect' '
	test -x "$GENSTORE" || { echo "no $GENSTORE: build it with make unit" >&2; false; } &&
	"$MQADMIN" -d pki init --no-default >/dev/null &&
	"$MQADMIN" -d pki device issue bp0 >/dev/null &&
	"$MQADMIN" -d pki device issue bs0 >/dev/null
'

test_expect_success 'genconf writes the rules and the peers files' '
	mkdir out &&
	/usr/bin/python3 "$MQ_ROOT/bench/genconf.py" out 1000 10 bp0 bs0 &&
	test -s out/rules.json && test -s out/aclfile && test -s out/dynsec.json &&
	test_grep "pattern write bench/%u/data" out/aclfile
'

test_expect_success 'genstore fills the store up to 1,000 devices with the rules' '
	"$GENSTORE" --rules out/rules.json pki 1000 >gen.out &&
	test_grep "^genstore: 998 devices added (1000 in the store), 10 rules" gen.out
'

test_expect_success 'mqadmin reads the store genstore made' '
	"$MQADMIN" -d pki device list --json >list.json &&
	test "$(/usr/bin/python3 -c "import json,sys; print(len(json.load(sys.stdin)))" <list.json)" = 1000 &&
	"$MQADMIN" -d pki device show dev997 >show.out &&
	test_grep "^username: *dev997$" show.out &&
	"$MQADMIN" -d pki acl check dev0 bench/dev0/data write >check.out &&
	test_grep "^allow (rule 9" check.out &&
	"$MQADMIN" -d pki acl check dev0 devices/dev0/x1 write >check.out &&
	test_grep "^allow (rule 2: device:dev0" check.out &&
	"$MQADMIN" -d pki acl check dev0 bench/dev1/data write >check.out &&
	test_grep "^deny" check.out &&
	"$MQADMIN" -d pki device issue late >/dev/null &&
	"$MQADMIN" -d pki device show late >/dev/null
'

test_expect_success 'the expiry spread: some devices expire within 30 days, not all' '
	test_expect_code 1 "$MQADMIN" -d pki expiring --within 30d >exp.out &&
	n=$(grep -c "^device  *dev" exp.out) &&
	test "$n" -ge 10 && test "$n" -le 100
'

test_expect_success 'genstore again at the same size adds nothing' '
	"$GENSTORE" pki 1000 >gen2.out &&
	test_grep "^genstore: 0 devices added (1001 in the store)" gen2.out
'

test_done
