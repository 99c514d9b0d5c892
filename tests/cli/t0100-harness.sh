#!/bin/bash
# The test library itself: what a case registers with test_at_end runs when
# the script ends, even when the case that registered it ran in a subshell
# and failed (a broker started there must not outlive the test).
. "$(dirname "$0")/../lib.sh"

test_expect_success 'test_at_end from a failing case still runs at the end' '
	cat >inner.sh <<-INNER &&
	. "$MQ_ROOT/tests/lib.sh"
	test_expect_success "starts a process, then fails" "
		sleep 300 &
		echo \\\$! >$TRASH/inner.pid
		test_at_end \"kill \\\$(cat $TRASH/inner.pid)\"
		false
	"
	test_done
	INNER
	test_expect_code 1 bash inner.sh >inner.out 2>&1 &&
	pid=$(cat inner.pid) &&
	test -n "$pid" &&
	wait_for 10 sh -c "! kill -0 $pid"
'

test_done
