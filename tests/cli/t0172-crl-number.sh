#!/bin/bash
# The CRL number never goes back: it is kept in the policy ("crl_number"),
# so a missing or corrupt crl.pem does not restart it at 1 (a relying party
# that saw CRL n ignores any CRL numbered n or lower).
. "$(dirname "$0")/../lib.sh"

crl_number() { printf "%d\n" "$(openssl crl -in pki/crl.pem -noout -crlnumber | cut -d= -f2)"; }
policy_number() { policy_cat | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin).get(\"crl_number\"))"; }

test_expect_success 'init signs CRL 1 and records it' '
	"$MQADMIN" -d pki init >/dev/null &&
	test "$(crl_number)" = 1 && test "$(policy_number)" = 1
'

test_expect_success 'crl update and crl count up' '
	"$MQADMIN" -d pki crl update >out &&
	test_grep -x "pki/crl.pem" out &&
	test "$(crl_number)" = 2 && test "$(policy_number)" = 2 &&
	"$MQADMIN" -d pki crl >/dev/null &&
	test "$(crl_number)" = 3 && test "$(policy_number)" = 3
'

test_expect_success 'crl.pem missing: the next CRL is still higher' '
	rm pki/crl.pem &&
	"$MQADMIN" -d pki crl update >/dev/null &&
	test "$(crl_number)" = 4
'

test_expect_success 'crl.pem corrupt: device revoke signs a higher one' '
	"$MQADMIN" -d pki device issue d1 >/dev/null &&
	echo garbage >pki/crl.pem &&
	"$MQADMIN" -d pki device revoke d1 >/dev/null &&
	test "$(crl_number)" = 5 && test "$(policy_number)" = 5
'

# An installation from before crl_number and before the store: its
# policy.json is migrated by the next command.
test_expect_success 'a policy from before crl_number follows crl.pem' '
	policy_cat >old.json &&
	/usr/bin/python3 -c "
import json
p = json.load(open(\"old.json\"))
del p[\"crl_number\"]
json.dump(p, open(\"pki/policy.json\", \"w\"), indent=2)
" &&
	rm -r pki/store &&
	"$MQADMIN" -d pki device list >/dev/null &&
	"$MQADMIN" -d pki crl update >/dev/null &&
	test "$(crl_number)" = 6 && test "$(policy_number)" = 6
'

test_expect_success 'a bad crl_number is refused with its name' '
	policy_cat >good &&
	sed -E "s/\"crl_number\":[[:space:]]*[0-9]+/\"crl_number\": -1/" good >bad.json &&
	test_grep "\"crl_number\": -1" bad.json &&
	test_must_fail "$MQADMIN" -d pki policy import bad.json 2>err &&
	test_grep "crl_number" err &&
	policy_cat >good.now && cmp good good.now
'

test_done
