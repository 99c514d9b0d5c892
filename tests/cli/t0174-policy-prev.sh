#!/bin/bash
# Every policy write keeps the generation it replaces as policy.json.prev
# (0644, never a half-written file), and doctor's fix for a broken
# policy.json names it, only when there is one that loads.
. "$(dirname "$0")/../lib.sh"

generation() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"generation\"])" "$1"; }

test_expect_success 'init writes no .prev (there was nothing before)' '
	"$MQADMIN" -d pki init >/dev/null &&
	! test -e pki/policy.json.prev
'

test_expect_success 'each write keeps the previous generation, 0644, whatever the umask' '
	cp pki/policy.json gen1 &&
	(umask 077 && "$MQADMIN" -d pki device issue d1 >/dev/null) &&
	cmp gen1 pki/policy.json.prev &&
	test "$(stat -c %a pki/policy.json.prev)" = 644 &&
	test "$(stat -c %h pki/policy.json)" = 1 &&
	cp pki/policy.json gen2 &&
	"$MQADMIN" -d pki acl add --all --topic "t/%u" --access read >/dev/null &&
	cmp gen2 pki/policy.json.prev &&
	test $(generation pki/policy.json.prev) -lt $(generation pki/policy.json) &&
	! ls pki | grep "\.tmp-"
'

test_expect_success 'doctor names policy.json.prev in the fix for a broken policy' '
	cp pki/policy.json good &&
	echo "{" >pki/policy.json &&
	{ "$MQADMIN" -d pki doctor >out 2>&1 || true; } &&
	test_grep "^error \[policy-invalid\]" out &&
	test_grep "fix: correct it, or go back to the generation before the last mqadmin write: cp pki/policy.json.prev pki/policy.json; the plugin refuses every client until it can load one" out
'

test_expect_success 'following the fix gives a policy that loads' '
	cp pki/policy.json.prev pki/policy.json &&
	"$MQADMIN" -d pki device list >list &&
	test_grep "^d1 " list &&
	{ "$MQADMIN" -d pki doctor >out 2>&1 || true; } &&
	test_grep ! "policy-invalid" out
'

test_expect_success 'no .prev (or none that loads): the fix does not invent one' '
	rm pki/policy.json.prev &&
	echo "{" >pki/policy.json &&
	{ "$MQADMIN" -d pki doctor >out 2>&1 || true; } &&
	test_grep "fix: correct it (there is no loadable pki/policy.json.prev to go back to)" out &&
	test_grep ! "cp pki/policy.json.prev" out &&
	echo "[" >pki/policy.json.prev &&
	{ "$MQADMIN" -d pki doctor >out 2>&1 || true; } &&
	test_grep "there is no loadable pki/policy.json.prev" out &&
	cp good pki/policy.json
'

test_expect_success 'a broken policy is never kept as .prev (the write is refused)' '
	cp pki/policy.json good && "$MQADMIN" -d pki device issue d2 >/dev/null &&
	cp pki/policy.json.prev prev.before &&
	echo "{" >pki/policy.json &&
	test_must_fail "$MQADMIN" -d pki device issue d3 2>err &&
	cmp prev.before pki/policy.json.prev
'

test_done
