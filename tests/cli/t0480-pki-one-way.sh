#!/bin/bash
# One way to open the PKI: every command that opens DIR does it through the
# command table (cmdtab_pki, in the entry's CMD_PKI_* mode), checked on the
# objects the build made: no cmd_*.o calls store_open or mq_store_open
# itself. The commands left without a mode open nothing of DIR's in their
# own file (doctor's checks in doctor_pki.c look at a DIR that may be
# broken; sync's mirror in sync.c; policy validate reads a file).
. "$(dirname "$0")/../lib.sh"

OBJ=$MQ_BUILD/obj

test_expect_success 'setup: nm and the command objects' '
	command -v nm >/dev/null &&
	test -f "$OBJ/admin/cmdtab.o" && test -f "$OBJ/admin/cmd_init.o" &&
	nm --undefined-only "$OBJ/admin/cmdtab.o" >cmdtab.nm &&
	grep -qw store_open cmdtab.nm
'

test_expect_success 'no command file opens the PKI itself: only cmdtab_pki does' '
	# The objects of the current sources only: a build directory keeps
	# those of files renamed since.
	for c in "$MQ_ROOT"/admin/cmd_*.c; do
		o=$OBJ/admin/$(basename "$c" .c).o
		test -f "$o" || echo "$o: not built"
		nm --undefined-only "$o" | awk -v f="${o##*/}" \
			"\$2 == \"store_open\" || \$2 == \"mq_store_open\" {print f, \$2}"
	done >opened &&
	if test -s opened; then cat opened; false; fi
'

test_expect_success 'init is a create entry; the commands without a mode are the known three' '
	"$MQADMIN" --list-commands >table &&
	grep -qx "init	create" table &&
	grep "	none$" table | cut -f1 | sort >none &&
	printf "doctor\npolicy validate\nsync\n" >expect &&
	test_cmp expect none
'

# init takes DIR's lock through the table like every writer: it waits for
# the lock the test holds on fd 9, and runs once it is free.
test_expect_success 'init waits for the lock of the directory it creates' '
	mkdir pki &&
	(exec 9>>pki/.lock && flock -x 9 &&
		test_expect_code 124 timeout 2 "$MQADMIN" -d pki init --no-default \
			>/dev/null 2>&1) &&
	! test -e pki/ca.crt &&
	"$MQADMIN" -d pki init --no-default >out 2>err &&
	test_grep "/ca.crt$" out && test -f pki/ca.key
'

test_expect_success 'a refused --ca-cert creates no directory' '
	test_expect_code 1 "$MQADMIN" -d adopt init --no-default --ca-cert pki/ca.key \
		--ca-key pki/ca.key 2>err &&
	! test -e adopt
'

test_expect_success 'a second init is refused under the lock, the CA kept' '
	cp pki/ca.crt before &&
	test_expect_code 1 "$MQADMIN" -d pki init --no-default 2>err &&
	test_grep "ca.crt already exists in .*pki; use a new --dir or remove it deliberately" err &&
	test_cmp before pki/ca.crt
'

test_expect_success 'policy diff and inspect open DIR through the table' '
	"$MQADMIN" -d pki device issue d1 >/dev/null 2>&1 &&
	"$MQADMIN" -d pki policy export >p.json &&
	"$MQADMIN" -d pki policy diff - p.json &&
	"$MQADMIN" -d pki policy diff - - &&
	"$MQADMIN" -d pki inspect pki/devices/d1/d1.crt >out &&
	test_grep -i "policy" out &&
	test_expect_code 1 "$MQADMIN" -d nodir policy diff - p.json 2>err &&
	! test -e nodir
'

test_done
