#!/bin/bash
# The plugin's modules call each other in one direction only (no circle):
# loading the store (reload.c) swaps rules and the CRL and says what
# changed; enforcement (enforce.c) judges and kicks; plugin.c runs them in
# order. A call back up would bring the circle back.
. "$(dirname "$0")/../lib.sh"

P=$MQ_ROOT/plugin

# calls FILE: the module prefixes FILE uses (mqNAME_), without its own.
calls() {
	sed -e 's|/\*.*\*/||g' "$P/$1" | grep -v '^\s*\*' |
		grep -oE '\bmq(auth|access|enf|reload|look|state|met|renew|audit|crl|clients)_[a-z_]+\(' |
		sed 's/_.*//' | sort -u
}

test_expect_success 'reload.c calls no authentication, access, enforcement, state or metrics' '
	calls reload.c >reload.calls &&
	! grep -E "^mq(auth|access|enf|state|met|renew)$" reload.calls &&
	! grep -q "mosquitto_kick" "$P/reload.c"
'

test_expect_success 'only enforce.c kicks clients' '
	grep -l "mosquitto_kick_client" "$P"/*.c >kickers &&
	echo "$P/enforce.c" >expect &&
	test_cmp expect kickers
'

test_expect_success 'authentication, access and renewal call neither reload nor enforcement' '
	for f in auth.c access.c renew.c lookup.c; do
		calls $f >calls &&
		! grep -E "^mq(enf)$" calls || { echo "$f calls enforcement"; exit 1; }
	done &&
	for f in access.c renew.c lookup.c enforce.c metrics.c state.c; do
		calls $f >calls &&
		! grep -E "^mqreload$" calls || { echo "$f calls reload"; exit 1; }
	done
'

test_expect_success 'no module but reload.c reads the loader state (st->rl)' '
	grep -lE "(st|s)->rl\b" "$P"/*.c >readers || :
	echo "$P/reload.c" >expect &&
	test_cmp expect readers
'

test_expect_success 'the plugin writes JSON one way (cJSON), never by hand' '
	! grep -nE "\\\\\"[a-z_]+\\\\\":" "$P"/*.c &&
	grep -l "cJSON_Print" "$P"/*.c >writers &&
	test_grep "audit.c" writers &&
	test_grep "state.c" writers &&
	test_grep "renew.c" writers
'

test_done
