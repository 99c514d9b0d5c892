#!/bin/bash
# mqcert(5), the plugin's options page (docs/mqcert.5): it lists every option
# plugin/options.c accepts, as does the "## Options" section of docs/plugin.md, and
# man renders it without a warning.
. "$(dirname "$0")/../lib.sh"

test_expect_success 'setup: the options plugin/options.c accepts' '
	plugin_options >options &&
	test $(wc -l <options) -ge 9 &&
	test_grep -x policy options && test_grep -x crl options
'

test_expect_success 'mqcert(5) lists every option' '
	while read -r o; do
		grep -q "^\.BI plugin_opt_$o " "$MQ_ROOT/docs/mqcert.5" ||
			{ echo "docs/mqcert.5 does not list plugin_opt_$o" >&2; exit 1; }
	done <options
'

test_expect_success "docs/plugin.md's Options section lists every option" '
	sed -n "/^## Options$/,/^## [^O]/p" "$MQ_ROOT/docs/plugin.md" >section &&
	test -s section &&
	while read -r o; do
		grep -q "^| \`plugin_opt_$o " section ||
			{ echo "docs/plugin.md ## Options does not list plugin_opt_$o" >&2; exit 1; }
	done <options
'

test_expect_success 'man renders mqcert(5) without warnings' '
	if ! command -v man >/dev/null; then echo "skipped: no man"; exit 0; fi &&
	MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings=w -l "$MQ_ROOT/docs/mqcert.5" >page 2>warn &&
	test_cmp /dev/null warn &&
	test_grep "plugin_opt_clientid_binding MODE" page &&
	test_grep "/usr/lib/TRIPLET/mosquitto/mqcert.so" page
'

test_done
