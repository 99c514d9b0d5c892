#!/bin/bash
# mqadmin device set: groups and username change without a new certificate.
. "$(dirname "$0")/../lib.sh"

json_check() { /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); $2" "$1"; }
generation() { policy_cat | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['generation'])"; }

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki device issue dev1 --group sensors --group floor1 >/dev/null &&
	"$MQADMIN" -d pki device issue dev2 --username u2 >/dev/null &&
	cp pki/devices/dev1/dev1.crt dev1.crt.before && cp pki/devices/dev1/dev1.key dev1.key.before
'

test_expect_success '--group replaces the set and prints the change' '
	g0=$(generation) &&
	"$MQADMIN" -d pki device set dev1 --group lab --group lab --group ops >out &&
	echo "dev1: groups sensors,floor1 -> lab,ops" >expect && test_cmp expect out &&
	test $(generation) -eq $((g0 + 1)) &&
	"$MQADMIN" -d pki device show dev1 --json >j &&
	json_check j "assert j[\"groups\"]==[\"lab\",\"ops\"], j; assert len(j[\"certs\"])==1" &&
	cmp dev1.crt.before pki/devices/dev1/dev1.crt && cmp dev1.key.before pki/devices/dev1/dev1.key
'

test_expect_success 'the certificate keeps the OUs it was issued with' '
	openssl x509 -in pki/devices/dev1/dev1.crt -noout -subject >subj &&
	echo "subject=OU = sensors, OU = floor1, CN = dev1" >expect && test_cmp expect subj
'

test_expect_success '--no-groups clears; a second run changes nothing and writes nothing' '
	"$MQADMIN" -d pki device set dev1 --no-groups >out &&
	echo "dev1: groups lab,ops -> -" >expect && test_cmp expect out &&
	policy_cat >policy.before &&
	"$MQADMIN" -d pki device set dev1 --no-groups >out &&
	echo "dev1: unchanged" >expect && test_cmp expect out &&
	policy_cat >policy.before.now && cmp policy.before policy.before.now
'

test_expect_success '--username changes the username; groups and username together' '
	"$MQADMIN" -d pki device set dev1 --username d1 --group sensors >out &&
	printf "%s\n" "dev1: groups - -> sensors" "dev1: username dev1 -> d1" >expect &&
	test_cmp expect out &&
	"$MQADMIN" -d pki device list >out &&
	test_grep "^dev1  d1        sensors  active" out &&
	"$MQADMIN" -d pki device set dev1 --username d1 >out &&
	echo "dev1: unchanged" >expect && test_cmp expect out
'

test_expect_success 'the old username is free again, a taken one is refused' '
	test_must_fail "$MQADMIN" -d pki device set dev1 --username u2 2>err &&
	echo "mqadmin: cannot change the username of '"'"'dev1'"'"': username '"'"'u2'"'"' is already used by device '"'"'dev2'"'"'" >expect &&
	test_cmp expect err &&
	"$MQADMIN" -d pki device set dev2 --username dev1 >out &&
	echo "dev2: username u2 -> dev1" >expect && test_cmp expect out &&
	"$MQADMIN" -d pki device show dev2 --json >j &&
	json_check j "assert j[\"username\"]==\"dev1\""
'

test_expect_success 'a group change is what acl check sees at once' '
	"$MQADMIN" -d pki acl add --group sensors --topic "s/#" --access write >/dev/null &&
	"$MQADMIN" -d pki acl check dev1 s/x write >out &&
	echo "allow (rule 1: group:sensors allow write s/#)" >expect && test_cmp expect out &&
	"$MQADMIN" -d pki device set dev1 --group other >/dev/null &&
	"$MQADMIN" -d pki acl check dev1 s/x write >out &&
	echo "deny (no rule matches: deny by default)" >expect && test_cmp expect out
'

test_expect_success 'unknown device, bad names: exit 1, policy untouched' '
	policy_cat >policy.before &&
	test_must_fail "$MQADMIN" -d pki device set nosuch --group g 2>err &&
	test_grep "no device .nosuch. in pki; see .mqadmin device list." err &&
	test_must_fail "$MQADMIN" -d pki device set dev1 --group "a/b" 2>err &&
	test_grep "invalid group name .a/b." err &&
	test_must_fail "$MQADMIN" -d pki device set dev1 --group "#" 2>err &&
	test_grep "invalid group name .#." err &&
	test_must_fail "$MQADMIN" -d pki device set dev1 --username "a+b" 2>err &&
	test_grep "invalid user name .a+b." err &&
	test_must_fail "$MQADMIN" -d pki device set "x/y" --group g 2>err &&
	test_grep "invalid device name .x/y." err &&
	policy_cat >policy.before.now && cmp policy.before policy.before.now
'

test_expect_success 'usage errors: exit 2' '
	test_expect_code 2 "$MQADMIN" -d pki device set dev1 2>err &&
	test_grep "nothing to change: give --group, --no-groups, --username or --renew-now" err &&
	test_expect_code 2 "$MQADMIN" -d pki device set dev1 --group a --no-groups 2>err &&
	test_grep "exclude each other" err &&
	test_expect_code 2 "$MQADMIN" -d pki device set --group a 2>err &&
	test_grep "missing device NAME" err &&
	test_expect_code 2 "$MQADMIN" -d pki device set dev1 dev2 --group a 2>err &&
	test_grep "unexpected argument .dev2." err &&
	"$MQADMIN" -d pki device set --help >out &&
	test_grep "^usage: mqadmin \[-d DIR\] device set NAME" out
'

test_expect_success 'a revoked device can still be regrouped (its record stays)' '
	"$MQADMIN" -d pki device revoke dev2 >/dev/null &&
	"$MQADMIN" -d pki device set dev2 --group g >out &&
	echo "dev2: groups - -> g" >expect && test_cmp expect out
'

test_done
