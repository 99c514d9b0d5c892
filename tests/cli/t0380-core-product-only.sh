#!/bin/bash
# core/ holds the product only: the reference implementations the tests
# check against (tests/support/naive.c) are not linked into the plugin or
# mqadmin, and both link core/ as one static library.
. "$(dirname "$0")/../lib.sh"

test_expect_success 'setup: nm reads the plugin and mqadmin' '
	command -v nm >/dev/null &&
	nm "$MQ_BUILD/mqcert.so" >so.syms &&
	nm "$MQ_BUILD/mqadmin" >admin.syms &&
	test_grep " mq_acl_check$" so.syms &&
	test_grep " mq_acl_check$" admin.syms
'

test_expect_success 'the naive ACL scan, topic matcher and in-memory policy parser are not in mqcert.so' '
	! grep -E " (naive_\w+|support_\w+|mq_acl_check_naive|mq_topic_match|mq_policy_parse)$" so.syms
'

test_expect_success 'nor in mqadmin' '
	! grep -E " (naive_\w+|support_\w+|mq_acl_check_naive|mq_topic_match|mq_policy_parse)$" admin.syms
'

test_expect_success 'core/ is built as a static library' '
	test -f "$MQ_BUILD/libmqcore.a" &&
	ar t "$MQ_BUILD/libmqcore.a" >members &&
	test_grep "^acl.o$" members &&
	! test_grep "naive" members
'

test_expect_success 'mq_policy.h, mq_store.h and mq_acl.h do not pull OpenSSL in' '
	for h in mq_policy.h mq_store.h mq_acl.h; do
		printf "#include \"%s\"\n" "$h" >inc.c &&
		${CC:-cc} -I"$MQ_ROOT/include" -E inc.c >pre.i &&
		! grep -q "openssl/" pre.i || { echo "$h includes OpenSSL"; exit 1; }
	done &&
	printf "#include \"mq_x509.h\"\n" >inc.c &&
	${CC:-cc} -I"$MQ_ROOT/include" -E inc.c >pre.i &&
	grep -q "openssl/" pre.i
'

test_done
