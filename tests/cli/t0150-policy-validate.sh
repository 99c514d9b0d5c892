#!/bin/bash
# mqadmin policy validate: the plugin's reader on a file before it is moved
# into place; JSON errors with line and column, duplicate member names with
# their path, files that are not regular files.
. "$(dirname "$0")/../lib.sh"

test_expect_success 'setup: a PKI with two devices and a rule' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki device issue dev1 >/dev/null &&
	"$MQADMIN" -d pki device issue dev2 >/dev/null &&
	"$MQADMIN" -d pki acl add --all --topic "q/#" --access read >/dev/null
'

test_expect_success 'a valid policy: ok and a summary on stdout, exit 0' '
	# A file laid out as by hand (indented), from the store.
	policy_cat | /usr/bin/python3 -c "import json,sys; json.dump(json.load(sys.stdin), open(\"policy.json\", \"w\"), indent=2)" &&
	"$MQADMIN" policy validate policy.json >out 2>err &&
	echo "ok: policy.json: generation 4, 2 devices, 1 rule" >expect &&
	test_cmp expect out &&
	test ! -s err
'

test_expect_success 'a syntax error: FILE:LINE:COLUMN and what was expected, exit 1' '
	/usr/bin/python3 - <<-\PY &&
	text = open("policy.json").read()
	# The hand edit that loses a comma: the second member of the first device.
	open("broken.json", "w").write(text.replace("\"dev1\",\n", "\"dev1\"\n", 1))
	PY
	line=$(grep -n "\"username\":.*\"dev1\"" broken.json | cut -d: -f1) &&
	# The column of that next member: its indentation plus one.
	col=$(sed -n "${line}p" broken.json | sed "s/[^ ].*//" | wc -c) &&
	test_must_fail "$MQADMIN" policy validate broken.json >out 2>err &&
	test ! -s out &&
	cat >expect <<-EOF &&
	mqadmin: broken.json:$line:$col: expected '"'"','"'"' or '"'"'}'"'"'
	mqadmin: invalid: the plugin would refuse this file and keep its last good policy
	EOF
	test_cmp expect err
'

test_expect_success 'the same error from policy import, which changes nothing' '
	"$MQADMIN" -d pki policy export before.json &&
	test_must_fail "$MQADMIN" -d pki policy import broken.json 2>err &&
	test_grep "^mqadmin: broken.json:[0-9]*:[0-9]*: expected .,. or .}.$" err &&
	"$MQADMIN" -d pki policy diff before.json - &&
	"$MQADMIN" -d pki device list >out &&
	test_grep "^dev2 " out
'

test_expect_success 'an appended duplicate "status" is refused with its path' '
	/usr/bin/python3 - <<-\PY &&
	good = open("broken.json").read().replace("\"dev1\"\n", "\"dev1\",\n", 1)
	open("good.json", "w").write(good)
	# What a hand edit that revokes dev2 by appending a member looks like.
	i = good.rindex("\"status\":")
	j = good.index("\n", i)
	open("dup.json", "w").write(good[:j] + ", \"status\": \"revoked\"" + good[j:])
	PY
	"$MQADMIN" policy validate good.json >out &&
	test_grep "^ok: good.json: generation 4, 2 devices, 1 rule$" out &&
	test_must_fail "$MQADMIN" policy validate dup.json >out 2>err &&
	test_grep "^mqadmin: dup.json:[0-9]*:[0-9]*: duplicate member devices\[1\]\.certs\[0\]\.status: JSON readers disagree on which one counts; keep only one$" err &&
	/usr/bin/python3 -c "import json; print(json.load(open(\"dup.json\"))[\"devices\"][1][\"certs\"][0][\"status\"])" >py &&
	echo revoked >expect && test_cmp expect py
'

test_expect_success 'a FIFO is refused at once (never waits for a writer)' '
	mkfifo fifo.json &&
	test_expect_code 1 timeout 10 "$MQADMIN" policy validate fifo.json 2>err &&
	test_grep "^mqadmin: fifo.json is a FIFO, not a regular file: the policy must be a file (or a symbolic link to one)$" err
'

test_expect_success 'a directory and /dev/zero behind a symlink are refused; a symlink to a file is read' '
	test_must_fail "$MQADMIN" policy validate pki 2>err &&
	test_grep "^mqadmin: pki is a directory, not a regular file" err &&
	ln -s /dev/zero zero.json &&
	test_expect_code 1 timeout 10 "$MQADMIN" policy validate zero.json 2>err &&
	test_grep "^mqadmin: zero.json is a character device, not a regular file" err &&
	ln -s good.json link.json &&
	"$MQADMIN" policy validate link.json >out &&
	test_grep "^ok: link.json: generation 4" out
'

test_expect_success 'a missing file is named with the reason' '
	test_must_fail "$MQADMIN" policy validate nothere.json 2>err &&
	test_grep "^mqadmin: cannot open nothere.json: No such file or directory$" err
'

test_expect_success 'an invalid field is reported as the plugin would' '
	sed "s/\"access\":[^,]*,/\"access\": \"all\",/" good.json >bad-access.json &&
	test_must_fail "$MQADMIN" policy validate bad-access.json 2>err &&
	test_grep "^mqadmin: rule 1: access .all. must be read, write or readwrite$" err
'

test_expect_success 'usage errors exit 2' '
	test_expect_code 2 "$MQADMIN" policy validate 2>err &&
	test_grep "^mqadmin: missing policy FILE$" err &&
	test_grep "^usage: mqadmin \[-d DIR\] policy validate FILE$" err &&
	test_expect_code 2 "$MQADMIN" policy validate a.json b.json 2>err &&
	test_grep "unexpected argument .b.json." err &&
	test_expect_code 2 "$MQADMIN" policy validate --strict good.json 2>err &&
	test_expect_code 2 "$MQADMIN" policy 2>err &&
	test_grep "policy. needs a subcommand" err
'

test_expect_success '--help describes it' '
	"$MQADMIN" policy validate --help >out &&
	test_grep "^usage: mqadmin \[-d DIR\] policy validate FILE$" out &&
	test_grep "Exit status 0 valid, 1" out
'

test_done
