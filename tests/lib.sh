# Shell test library in the spirit of git's test-lib: each case is a titled
# block of commands that must all succeed. Source it, then call
# test_expect_success ... and end with test_done.
#
# Environment: MQ_BUILD (absolute build directory, default <repo>/build/asan).

set -u
MQ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${MQ_BUILD:=$MQ_ROOT/build/asan}"
case $MQ_BUILD in /*) ;; *) MQ_BUILD=$MQ_ROOT/$MQ_BUILD ;; esac
export MQ_ROOT MQ_BUILD
MQADMIN=$MQ_BUILD/mqadmin
MQCERT_SO=$MQ_BUILD/mqcert.so
export MQADMIN MQCERT_SO

# Sanitizer reports must never look like an ordinary failure (exit 1).
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=99:detect_leaks=1:abort_on_error=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-exitcode=98}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:exitcode=97:print_stacktrace=1}
unset MQADMIN_DIR MQADMIN_PASSPHRASE_FILE

TEST_NAME=$(basename "$0" .sh)
TRASH=$(mktemp -d "${TMPDIR:-/tmp}/mqcert-$TEST_NAME.XXXXXX")
# mqadmin falls back to a config file (default /etc/mqcert/mqadmin.conf) when
# neither -d nor MQADMIN_DIR is given; point it at a file that does not exist so
# no test ever reads or writes the machine's real one.
MQADMIN_CONFIG=$TRASH/.no-such-mqadmin.conf
export MQADMIN_CONFIG
test_count=0
test_failed=0

# test_at_end CMD: CMD runs when the test script ends. Test bodies run in
# subshells, so the commands go to a file the script's own trap reads:
# a broker started inside a failing case is still stopped.
test_at_end() { printf '%s\n' "$1" >>"$TRASH/.at_end"; }

test_run_cleanup() {
	local c
	[ -f "$TRASH/.at_end" ] || return 0
	while IFS= read -r c; do
		eval "$c" >/dev/null 2>&1 </dev/null || true
	done <"$TRASH/.at_end"
	rm -f "$TRASH/.at_end"
}
trap 'test_run_cleanup' EXIT

# test_expect_success TITLE BODY: BODY runs in a subshell with set -e, in
# $TRASH; its output is shown only when it fails.
test_expect_success() {
	local title=$1 body=$2 out rc
	test_count=$((test_count + 1))
	out=$TRASH/.out.$test_count
	(cd "$TRASH" && set -e && eval "$body") >"$out" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok $test_count - $title"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $title (exit $rc)"
		sed 's/^/#   /' "$out" | tail -n 60
	fi
}

# test_expect_code N CMD...: CMD must exit exactly N (sanitizer codes never
# count as an expected failure).
test_expect_code() {
	local want=$1 rc=0
	shift
	# "|| rc=$?" keeps a caller's set -e from ending the body right here.
	"$@" || rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "test_expect_code: '$*' exited $rc, expected $want" >&2
		return 1
	fi
	return 0
}

# test_must_fail CMD...: CMD must fail with exit 1 (an operation failure);
# use test_expect_code 2 for usage errors.
test_must_fail() { test_expect_code 1 "$@"; }

# test_cmp EXPECTED ACTUAL
test_cmp() { diff -u "$1" "$2"; }

# plugin_options: the option names plugin/options.c accepts, one per line,
# sorted (its strcmp(key, ...) calls and its "known are ..." message).
plugin_options() {
	{
		grep -o "strcmp(key, \"[a-z_]*\")" "$MQ_ROOT/plugin/options.c" | cut -d\" -f2 &&
		grep -o "known are [a-z_, ]*" "$MQ_ROOT/plugin/options.c" | sed "s/known are //" | tr "," "\n" | tr -d " "
	} | grep -x "[a-z_][a-z_]*" | sort -u
}

# policy_cat [DIR]: the policy of DIR (default pki) as `mqadmin policy
# export` prints it (compact JSON, the same bytes while the store is
# unchanged). DIR/policy.json exists only before the migration.
policy_cat() { "$MQADMIN" -d "${1:-pki}" policy export; }

# test_grep [-v] [grep options] PATTERN FILE: like grep, but shows the file
# when the expectation fails.
test_grep() {
	local neg=
	if [ "$1" = "!" ]; then neg=1; shift; fi
	if [ -n "$neg" ]; then
		if grep -q "$@"; then
			echo "test_grep: unexpected match for '${*: -2:1}' in ${*: -1}:" >&2
			cat "${@: -1}" >&2
			return 1
		fi
	elif ! grep -q "$@"; then
		echo "test_grep: no match for '${*: -2:1}' in ${*: -1}:" >&2
		cat "${@: -1}" >&2
		return 1
	fi
	return 0
}

# wait_for TIMEOUT_SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
	local limit=$1 i=0
	shift
	while [ $i -lt $((limit * 10)) ]; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "wait_for: gave up after ${limit}s on: $*" >&2
	return 1
}

test_done() {
	echo "# $TEST_NAME: $((test_count - test_failed)) passed, $test_failed failed"
	test_run_cleanup
	if [ $test_failed -eq 0 ]; then
		rm -rf "$TRASH"
		exit 0
	fi
	echo "# kept $TRASH for inspection"
	exit 1
}
