#!/bin/bash
# The documentation a newcomer navigates (issue 18, item 6): README.md is the
# front door and docs/ holds the reference. Every relative link resolves (file
# and #anchor), every command of mqadmin's command table has its section in
# docs/mqadmin.md with the usage --help prints (scripts/docs-usage), every
# option plugin/options.c parses is documented in docs/plugin.md (t0230), and the
# README reaches each command and option in one click.
. "$(dirname "$0")/../lib.sh"

LINKS=$MQ_ROOT/scripts/docs-links

test_expect_success 'every relative link of README.md and docs/*.md resolves' '
	(cd "$MQ_ROOT" && /usr/bin/python3 "$LINKS" README.md docs/*.md || :) >broken &&
	test_cmp /dev/null broken
'

test_expect_success 'the link check finds a broken file and a broken anchor' '
	mkdir -p d/docs &&
	printf "# Top\n\n## A b\n\n[ok](docs/x.md#sec-2) [file](docs/none.md) [anchor](#no)\n" >d/README.md &&
	printf "# X\n\n## Sec 2\n\n[up](../README.md#a-b)\n" >d/docs/x.md &&
	test_must_fail /usr/bin/python3 "$LINKS" d/README.md d/docs/x.md >out &&
	test_grep "d/README.md: link to docs/none.md: no such file" out &&
	test_grep "d/README.md: link to #no: no heading" out &&
	test $(wc -l <out) = 2
'

test_expect_success 'docs/mqadmin.md has one section per command, with the usage --help prints' '
	mkdir -p copy/docs &&
	cp "$MQ_ROOT/docs/mqadmin.md" copy/docs/ && cp "$MQ_ROOT/README.md" copy/ &&
	/usr/bin/python3 "$MQ_ROOT/scripts/docs-usage" "$MQADMIN" copy/docs/mqadmin.md copy/README.md 2>err ||
		{ cat err >&2; exit 1; } &&
	test_cmp /dev/null err &&
	{ test_cmp "$MQ_ROOT/docs/mqadmin.md" copy/docs/mqadmin.md &&
	  test_cmp "$MQ_ROOT/README.md" copy/README.md ||
		{ echo "docs/mqadmin.md or the README is behind the command table: run scripts/docs-usage build/mqadmin" >&2; exit 1; }; }
'

test_expect_success 'docs-usage names a command without a section and a section without a command' '
	sed -e "s/^### inspect$/### inspection/" "$MQ_ROOT/docs/mqadmin.md" >m2.md &&
	cp "$MQ_ROOT/README.md" r2.md &&
	test_must_fail /usr/bin/python3 "$MQ_ROOT/scripts/docs-usage" "$MQADMIN" m2.md r2.md 2>err &&
	test_grep "section \"### inspection\" names no command of the table: inspection" err &&
	test_grep "command \"inspect\" of the table has no \"### inspect\" section" err
'

# That docs/plugin.md's Options table lists each option: t0230, beside mqcert(5).
test_expect_success 'setup: the options plugin/options.c parses' '
	plugin_options >options &&
	test $(wc -l <options) -ge 16
'

test_expect_success 'the README links every command and every option (one click)' '
	"$MQADMIN" --man | sed -n "s/^\.SS \"\(.*\)\"$/\1/p" | sed "s/\\\\-/-/g" >commands &&
	test $(wc -l <commands) -ge 30 &&
	while read -r c; do
		grep -qF "[\`$c\`](docs/mqadmin.md#" "$MQ_ROOT/README.md" ||
			{ echo "README.md does not link command $c" >&2; exit 1; }
	done <commands &&
	while read -r o; do
		grep -qF "[\`plugin_opt_$o\`](docs/plugin.md#" "$MQ_ROOT/README.md" ||
			{ echo "README.md does not link plugin_opt_$o" >&2; exit 1; }
	done <options
'

test_expect_success 'the README links every page of docs/' '
	for f in "$MQ_ROOT"/docs/*.md; do
		grep -qF "](docs/${f##*/})" "$MQ_ROOT/README.md" ||
			{ echo "README.md does not link docs/${f##*/}" >&2; exit 1; }
	done
'

test_expect_success 'no document refers to a command contract outside the repository' '
	(cd "$MQ_ROOT" && grep -n "CLI\.md" README.md docs/*.md tests/cli/*.sh || :) >refs0 &&
	{ grep -v "^tests/cli/t0390-docs.sh:" refs0 || :; } >refs &&
	test_cmp /dev/null refs
'

test_done
