#!/bin/bash
# init's error paths release only what they created: a refused --ca-cert
# (checked before the store is opened) must not close a lock descriptor
# that was never opened (it used to close fd 0, whatever stdin was).
. "$(dirname "$0")/../lib.sh"

if ! command -v strace >/dev/null || ! strace -o /dev/null true 2>/dev/null; then
	echo "# skipped: strace cannot trace here"
	test_done
fi

test_expect_success 'a refused --ca-cert closes no descriptor it did not open' '
	: >stdin.txt &&
	test_must_fail env ASAN_OPTIONS=detect_leaks=0 strace -f -e trace=close -o trace \
		"$MQADMIN" -d pki init --ca-cert "$TRASH/missing.crt" --ca-key "$TRASH/missing.key" \
		<stdin.txt 2>err &&
	test_grep "cannot read --ca-key\|missing.crt" err &&
	! grep -E "close\((0|1|2)\)" trace
'

test_expect_success 'and leaves no store behind' '
	! test -e pki/store
'

test_done
