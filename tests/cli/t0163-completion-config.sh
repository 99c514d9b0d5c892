#!/bin/bash
# The bash completion finds DIR where mqadmin does, config file included,
# and knows the options this change added.
. "$(dirname "$0")/../lib.sh"

COMPLETION=$MQ_ROOT/examples/bash-completion/mqadmin

# complete_words WORD...: what the completion offers for the last word.
complete_words() {
	bash -c ". \"\$1\"; shift; COMP_WORDS=(\"\$@\"); COMP_CWORD=\$((\$# - 1)); _mqadmin; printf \"%s\\n\" \"\${COMPREPLY[@]}\"" \
		- "$COMPLETION" "$@"
}

test_expect_success 'setup: a PKI named only by the config file' '
	"$MQADMIN" -d fleet init >/dev/null 2>&1 &&
	"$MQADMIN" -d fleet device issue kitchen-1 >/dev/null &&
	printf "# c\ndir = %s\n" "$TRASH/fleet" >mqadmin.conf
'

test_expect_success 'device names come from the directory of the config file' '
	mkdir away && cd away &&
	MQADMIN_CONFIG=$TRASH/mqadmin.conf complete_words "$MQADMIN" device show kit >out &&
	echo kitchen-1 >expect && test_cmp expect out &&
	MQADMIN_CONFIG=$TRASH/nothing.conf complete_words "$MQADMIN" device show kit >out &&
	test_grep ! kitchen out
'

test_expect_success 'new options: --broker-user completes user names, --default is a flag' '
	complete_words "$MQADMIN" server issue s1 --bro >out &&
	echo --broker-user >expect && test_cmp expect out &&
	complete_words "$MQADMIN" server issue s1 --broker-user mosq >out &&
	if getent passwd mosquitto >/dev/null; then test_grep -x mosquitto out; fi &&
	complete_words "$MQADMIN" init --no-d >out &&
	echo --no-default >expect && test_cmp expect out
'

test_done
