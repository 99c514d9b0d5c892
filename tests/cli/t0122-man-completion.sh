#!/bin/bash
# mqadmin(1) and the bash completion, both built from the command table.
. "$(dirname "$0")/../lib.sh"

COMPLETION=$MQ_ROOT/examples/bash-completion/mqadmin

test_expect_success 'setup: the command list according to --help' '
	"$MQADMIN" --help >help &&
	sed -n "s/^usage: mqadmin \[-d DIR\] \([a-z-]*\)\( [a-z][a-z-]*\)\{0,1\}\( .*\)\{0,1\}$/\1\2/p" help >commands &&
	test $(wc -l <commands) -ge 17 &&
	test_grep "^doctor$" commands &&
	test_grep "^device issue$" commands &&
	"$MQADMIN" --man >mqadmin.1
'

test_expect_success 'the man page has a section for every command of the table' '
	while read -r cmd; do
		test_grep -F ".SS \"$(printf "%s" "$cmd" | sed "s/-/\\\\-/g")\"" mqadmin.1 || exit 1
	done <commands &&
	test $(grep -c "^\.SS " mqadmin.1) = $(wc -l <commands) &&
	test_grep "^\.TH MQADMIN 1" mqadmin.1 &&
	test_grep "MQADMIN_PASSPHRASE_FILE" mqadmin.1
'

test_expect_success 'the page make built is the one mqadmin --man writes' '
	if [ ! -f "$MQ_BUILD/mqadmin.1" ]; then echo "skipped: no $MQ_BUILD/mqadmin.1"; exit 0; fi &&
	test_cmp mqadmin.1 "$MQ_BUILD/mqadmin.1"
'

test_expect_success 'groff renders it without warnings' '
	if ! command -v groff >/dev/null; then echo "skipped: no groff"; exit 0; fi &&
	groff -man -Tutf8 -ww mqadmin.1 >rendered 2>warnings &&
	test ! -s warnings &&
	test_grep "inspect FILE" rendered
'

test_expect_success 'man -l shows it' '
	if ! command -v man >/dev/null; then echo "skipped: no man"; exit 0; fi &&
	MANWIDTH=100 man -l -P cat mqadmin.1 >rendered 2>/dev/null &&
	test_grep "^NAME" rendered &&
	test_grep "mqadmin - certificate authority" rendered &&
	test_grep "inspect FILE" rendered
'

test_expect_success 'COMMAND --help shows the same description as the man page' '
	"$MQADMIN" doctor --help >out &&
	test_grep "^usage: mqadmin \[-d DIR\] doctor" out &&
	test_grep "warnings alone do not count unless --strict), 1 otherwise" out &&
	test_grep "warnings alone do not count unless \\\\-\\\\-strict), 1 otherwise" mqadmin.1
'

# complete WORD...: what the completion offers for the last word.
complete_words() {
	bash -c ". \"\$1\"; shift; COMP_WORDS=(\"\$@\"); COMP_CWORD=\$((\$# - 1)); _mqadmin; printf \"%s\\n\" \"\${COMPREPLY[@]}\"" \
		- "$COMPLETION" "$@"
}

test_expect_success 'completion: commands and subcommands' '
	complete_words "$MQADMIN" dev >out &&
	echo device >expect && test_cmp expect out &&
	complete_words "$MQADMIN" device re >out &&
	printf "revoke\nresume\nrenew\n" >expect && test_cmp expect out &&
	complete_words "$MQADMIN" -d pki i >out &&
	printf "init\ninspect\n" >expect && test_cmp expect out
'

test_expect_success 'completion: options of a command and their values' '
	complete_words "$MQADMIN" doctor --w >out &&
	echo --within >expect && test_cmp expect out &&
	complete_words "$MQADMIN" device issue x --key-type "" >out &&
	printf "ec\nrsa\ned25519\n" >expect && test_cmp expect out &&
	complete_words "$MQADMIN" device issue x --format p >out &&
	printf "pem\np12\n" >expect && test_cmp expect out
'

test_expect_success 'completion: device names from DIR' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki device issue kitchen >/dev/null &&
	"$MQADMIN" -d pki device issue garage >/dev/null &&
	complete_words "$MQADMIN" -d pki device revoke "" >out &&
	printf "garage\nkitchen\n" >expect && test_cmp expect out &&
	complete_words "$MQADMIN" --dir pki acl add --device k >out &&
	echo kitchen >expect && test_cmp expect out &&
	MQADMIN_DIR=pki complete_words "$MQADMIN" device show g >out &&
	echo garage >expect && test_cmp expect out
'

test_done
