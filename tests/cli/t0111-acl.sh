#!/bin/bash
# mqadmin acl add, list, remove and check (the shared engine's decisions).
. "$(dirname "$0")/../lib.sh"

json_check() { /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); $2" "$1"; }

# check NAME TOPIC ACCESS EXPECTED [--client-id ID]
check() {
	local name=$1 topic=$2 access=$3 want=$4
	shift 4
	"$MQADMIN" -d pki acl check "$name" "$topic" "$access" "$@" >check.out &&
	echo "$want" >check.want &&
	test_cmp check.want check.out
}

test_expect_success 'setup: dev1 in sensors (username dev1), dev2 in no group' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki device issue dev1 --group sensors >/dev/null &&
	"$MQADMIN" -d pki device issue dev2 >/dev/null
'

test_expect_success 'an empty policy: header only, [] and deny by default' '
	"$MQADMIN" -d pki acl list >out &&
	echo "ID  SUBJECT  EFFECT  ACCESS  TOPIC" >expect && test_cmp expect out &&
	"$MQADMIN" -d pki acl list --json >out &&
	json_check out "assert j==[]" &&
	check dev1 a/b write "deny (no rule matches: deny by default)"
'

test_expect_success 'add prints the new id and rule (the rules 1-13 of docs/acl.md)' '
	add() { "$MQADMIN" -d pki acl add "$@" >>added; } &&
	add --all --topic "devices/#" --access write &&
	add --group sensors --deny --topic "devices/+/cmd" --access write &&
	add --device dev1 --topic "devices/dev1/cmd" --access write &&
	add --all --deny --topic "tie/+" --access write &&
	add --all --topic "tie/%u" --access write &&
	add --all --topic "eq/dev1" --access write &&
	add --all --deny --topic "eq/%u" --access write &&
	add --all --topic "h/#" --access write &&
	add --all --deny --topic "h/+/#" --access write &&
	add --all --deny --topic p --access write &&
	add --all --topic "p/#" --access write &&
	add --all --topic "lvl/+/+" --access write &&
	add --all --deny --topic "lvl/#" --access write &&
	cat >expect <<-\EOT &&
	added rule 1: all allow write devices/#
	added rule 2: group:sensors deny write devices/+/cmd
	added rule 3: device:dev1 allow write devices/dev1/cmd
	added rule 4: all deny write tie/+
	added rule 5: all allow write tie/%u
	added rule 6: all allow write eq/dev1
	added rule 7: all deny write eq/%u
	added rule 8: all allow write h/#
	added rule 9: all deny write h/+/#
	added rule 10: all deny write p
	added rule 11: all allow write p/#
	added rule 12: all allow write lvl/+/+
	added rule 13: all deny write lvl/#
	EOT
	test_cmp expect added
'

test_expect_success 'list: aligned table' '
	"$MQADMIN" -d pki acl list >out &&
	test $(wc -l <out) -eq 14 &&
	test_grep "^ID  SUBJECT        EFFECT  ACCESS  TOPIC$" out &&
	test_grep "^2   group:sensors  deny    write   devices/+/cmd$" out &&
	test_grep "^3   device:dev1    allow   write   devices/dev1/cmd$" out &&
	test_grep "^13  all            deny    write   lvl/#$" out
'

test_expect_success 'list --json: one array of {id, subject, effect, access, topic}' '
	"$MQADMIN" -d pki acl list --json >out &&
	json_check out "
assert len(j)==13
assert j[1]=={\"id\":2,\"subject\":\"group:sensors\",\"effect\":\"deny\",\"access\":\"write\",\"topic\":\"devices/+/cmd\"}, j[1]
assert j[4]=={\"id\":5,\"subject\":\"all\",\"effect\":\"allow\",\"access\":\"write\",\"topic\":\"tie/%u\"}, j[4]
assert [r[\"id\"] for r in j]==list(range(1,14))
"
'

test_expect_success 'precedence: every worked example of docs/acl.md' '
	check dev1 devices/dev1/cmd write "allow (rule 3: device:dev1 allow write devices/dev1/cmd)" &&
	check dev1 devices/dev2/cmd write "deny (rule 2: group:sensors deny write devices/+/cmd)" &&
	check dev1 devices/dev2/status write "allow (rule 1: all allow write devices/#)" &&
	check dev1 tie/dev1 write "allow (rule 5: all allow write tie/%u)" &&
	check dev1 tie/dev2 write "deny (rule 4: all deny write tie/+)" &&
	check dev1 eq/dev1 write "deny (rule 7: all deny write eq/%u)" &&
	check dev1 h write "allow (rule 8: all allow write h/#)" &&
	check dev1 h/x/y write "deny (rule 9: all deny write h/+/#)" &&
	check dev1 p write "deny (rule 10: all deny write p)" &&
	check dev1 p/q write "allow (rule 11: all allow write p/#)" &&
	check dev1 lvl/a/b write "allow (rule 12: all allow write lvl/+/+)" &&
	check dev1 nothing/here write "deny (no rule matches: deny by default)" &&
	check dev2 devices/dev1/cmd write "allow (rule 1: all allow write devices/#)"
'

test_expect_success 'remove: prints the rule; ids are never reused' '
	"$MQADMIN" -d pki acl remove 3 >out &&
	echo "removed rule 3: device:dev1 allow write devices/dev1/cmd" >expect && test_cmp expect out &&
	check dev1 devices/dev1/cmd write "deny (rule 2: group:sensors deny write devices/+/cmd)" &&
	"$MQADMIN" -d pki acl remove 1 >/dev/null && "$MQADMIN" -d pki acl remove 2 >/dev/null &&
	"$MQADMIN" -d pki acl add --group sensors --deny --topic "devices/+/cmd" --access write >out &&
	echo "added rule 14: group:sensors deny write devices/+/cmd" >expect && test_cmp expect out &&
	"$MQADMIN" -d pki acl add --all --topic "devices/+/cmd" --access write >/dev/null &&
	check dev1 devices/x/cmd write "deny (rule 14: group:sensors deny write devices/+/cmd)" &&
	check dev2 devices/x/cmd write "allow (rule 15: all allow write devices/+/cmd)"
'

test_expect_success 'read, subscribe and readwrite' '
	"$MQADMIN" -d pki acl add --all --topic "devices/%u/#" --access readwrite >/dev/null &&
	check dev1 devices/dev1/temp read "allow (rule 16: all allow readwrite devices/%u/#)" &&
	check dev1 devices/dev2/temp read "deny (no rule matches: deny by default)" &&
	check dev1 "devices/dev1/#" subscribe "allow (rule 16: all allow readwrite devices/%u/#)" &&
	check dev1 "devices/dev1/+/x" subscribe "allow (rule 16: all allow readwrite devices/%u/#)" &&
	check dev1 "devices/+/temp" subscribe "deny (no allow-read rule covers the whole filter: deny by default)" &&
	check dev1 "#" subscribe "deny (no allow-read rule covers the whole filter: deny by default)" &&
	check dev1 "\$share/g1/devices/dev1/#" subscribe "allow (rule 16: all allow readwrite devices/%u/#)" &&
	check dev1 "devices/dev1/a/#/b" subscribe "deny (malformed topic or filter)" &&
	check dev1 "devices/dev1/+" write "deny (malformed topic or filter)"
'

test_expect_success '$SYS: # never reaches it; only a $ pattern does' '
	"$MQADMIN" -d pki acl add --all --topic "#" --access read >/dev/null &&
	check dev1 "other/x" read "allow (rule 17: all allow read #)" &&
	check dev1 "\$SYS/broker/uptime" read "deny (no rule matches: deny by default)" &&
	check dev1 "\$SYS/#" subscribe "deny (no allow-read rule covers the whole filter: deny by default)" &&
	"$MQADMIN" -d pki acl add --all --topic "\$SYS/broker/#" --access read >/dev/null &&
	check dev1 "\$SYS/broker/uptime" read "allow (rule 18: all allow read \$SYS/broker/#)" &&
	check dev1 "\$SYS/broker/#" subscribe "allow (rule 18: all allow read \$SYS/broker/#)" &&
	"$MQADMIN" -d pki acl remove 17 >/dev/null
'

test_expect_success 'client id: defaults to the username; a hostile one matches nothing' '
	"$MQADMIN" -d pki acl add --all --topic "clients/%c/#" --access readwrite >/dev/null &&
	check dev1 clients/dev1/x write "allow (rule 19: all allow readwrite clients/%c/#)" &&
	check dev1 clients/dev1/x write "deny (no rule matches: deny by default)" --client-id other &&
	check dev1 clients/other/x write "allow (rule 19: all allow readwrite clients/%c/#)" --client-id other &&
	check dev1 clients/a/b/x write "deny (no rule matches: deny by default)" --client-id "a/b" &&
	check dev1 "clients/a/+/#" subscribe "deny (no allow-read rule covers the whole filter: deny by default)" --client-id "a/+" &&
	check dev1 "clients/#" subscribe "deny (no allow-read rule covers the whole filter: deny by default)" --client-id "#" &&
	check dev1 "clients/+/x" subscribe "deny (no allow-read rule covers the whole filter: deny by default)" --client-id "+"
'

test_expect_success '%{ou} follows the certificate, group rules follow the policy' '
	"$MQADMIN" -d pki acl add --all --topic "ou/%{ou}/#" --access read >/dev/null &&
	"$MQADMIN" -d pki acl add --group lab --topic "lab/#" --access read >/dev/null &&
	check dev1 ou/sensors/x read "allow (rule 20: all allow read ou/%{ou}/#)" &&
	"$MQADMIN" -d pki device set dev1 --group lab >/dev/null &&
	check dev1 ou/sensors/x read "allow (rule 20: all allow read ou/%{ou}/#)" &&
	check dev1 ou/lab/x read "deny (no rule matches: deny by default)" &&
	check dev1 lab/x read "allow (rule 21: group:lab allow read lab/#)" &&
	mv pki/devices/dev1/dev1.crt dev1.crt.away &&
	check dev1 ou/lab/x read "allow (rule 20: all allow read ou/%{ou}/#)" &&
	check dev1 ou/sensors/x read "deny (no rule matches: deny by default)" &&
	mv dev1.crt.away pki/devices/dev1/dev1.crt
'

test_expect_success '%{cn} is the device name' '
	"$MQADMIN" -d pki acl add --all --topic "cn/%{cn}" --access write >/dev/null &&
	check dev2 cn/dev2 write "allow (rule 22: all allow write cn/%{cn})" &&
	check dev2 cn/dev1 write "deny (no rule matches: deny by default)"
'

test_expect_success 'add refuses bad input with exit 1, the policy untouched' '
	policy_cat >policy.before &&
	test_must_fail "$MQADMIN" -d pki acl add --all --topic "a/#/b" --access read 2>err &&
	echo "mqadmin: invalid --topic: '"'"'#'"'"' must be the last level in '"'"'a/#/b'"'"' (e.g. a/#)" >expect &&
	test_cmp expect err &&
	test_must_fail "$MQADMIN" -d pki acl add --all --topic "a/%x" --access read 2>err &&
	test_grep "invalid --topic: unknown placeholder in .a/%x.: use %u" err &&
	test_must_fail "$MQADMIN" -d pki acl add --all --topic "a+/b" --access read 2>err &&
	test_grep "invalid --topic: .+. must fill a whole level" err &&
	test_must_fail "$MQADMIN" -d pki acl add --all --topic "" --access read 2>err &&
	test_grep "invalid --topic: empty topic pattern" err &&
	test_must_fail "$MQADMIN" -d pki acl add --all --topic a --access rw 2>err &&
	test_grep "invalid --access .rw.: use read, write or readwrite" err &&
	test_must_fail "$MQADMIN" -d pki acl add --device nosuch --topic a --access read 2>err &&
	test_grep "no device .nosuch. in pki; issue it first, or use --group for devices to come" err &&
	test_must_fail "$MQADMIN" -d pki acl add --group "a/b" --topic a --access read 2>err &&
	test_grep "invalid group name .a/b." err &&
	test_must_fail "$MQADMIN" -d pki acl add --all --topic "\$SYS/broker/#" --access read 2>err &&
	test_grep "the policy already has this rule (rule 18: all allow read \$SYS/broker/#)" err &&
	policy_cat >policy.before.now && cmp policy.before policy.before.now
'

test_expect_success 'add: an empty group is allowed with a warning' '
	"$MQADMIN" -d pki acl add --group future --topic f --access read >out 2>err &&
	echo "added rule 23: group:future allow read f" >expect && test_cmp expect out &&
	test_grep "warning: no device is in group .future. yet" err
'

test_expect_success 'add: usage errors exit 2' '
	test_expect_code 2 "$MQADMIN" -d pki acl add --topic a --access read 2>err &&
	test_grep "missing subject: give --device NAME, --group G or --all" err &&
	test_expect_code 2 "$MQADMIN" -d pki acl add --all --group g --topic a --access read 2>err &&
	test_grep "give only one of --device, --group and --all" err &&
	test_expect_code 2 "$MQADMIN" -d pki acl add --all --access read 2>err &&
	test_grep "missing --topic PATTERN" err &&
	test_expect_code 2 "$MQADMIN" -d pki acl add --all --topic a 2>err &&
	test_grep "missing --access" err &&
	test_expect_code 2 "$MQADMIN" -d pki acl add --all --topic a --access read extra 2>err &&
	test_grep "unexpected argument .extra." err
'

test_expect_success 'remove and check refuse unknown ids, devices and access' '
	test_must_fail "$MQADMIN" -d pki acl remove 3 2>err &&
	test_grep "no rule 3 in pki; see .mqadmin acl list." err &&
	test_must_fail "$MQADMIN" -d pki acl remove 999 2>err &&
	test_must_fail "$MQADMIN" -d pki acl remove abc 2>err &&
	test_grep "invalid rule id .abc." err &&
	test_must_fail "$MQADMIN" -d pki acl remove -- -1 2>err &&
	test_expect_code 2 "$MQADMIN" -d pki acl remove 2>err &&
	test_must_fail "$MQADMIN" -d pki acl check nosuch a read 2>err &&
	test_grep "no device .nosuch. in pki" err &&
	test_must_fail "$MQADMIN" -d pki acl check dev1 a publish 2>err &&
	test_grep "invalid access .publish.: use read, write or subscribe" err &&
	test_expect_code 2 "$MQADMIN" -d pki acl check dev1 a 2>err &&
	test_grep "missing access" err
'

test_expect_success 'check on a revoked device notes that the broker refuses it' '
	"$MQADMIN" -d pki device revoke dev2 >/dev/null &&
	check dev2 cn/dev2 write "allow (rule 22: all allow write cn/%{cn})" 2>err &&
	test_grep "note: device .dev2. has no valid certificate" err
'

test_done
