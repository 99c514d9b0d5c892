#!/bin/bash
# Mistyped commands and options name the nearest valid one; a missing or
# surplus value names the option. Always exit 2 with the usage.
. "$(dirname "$0")/../lib.sh"

# usage_err EXPECTED-FIRST-LINE CMD...: exit 2, that first line, then usage.
usage_err() {
	local want=$1
	shift
	test_expect_code 2 "$MQADMIN" "$@" 2>err &&
	head -n 1 err >first && echo "$want" >expect && test_cmp expect first &&
	test_grep "^usage: mqadmin" err
}

test_expect_success 'unknown commands suggest the nearest' '
	usage_err "mqadmin: unknown command '"'"'device isue'"'"'; did you mean '"'"'device issue'"'"'?" -d x device isue d1 &&
	usage_err "mqadmin: unknown command '"'"'docter'"'"'; did you mean '"'"'doctor'"'"'?" -d x docter &&
	usage_err "mqadmin: unknown command '"'"'expirng'"'"'; did you mean '"'"'expiring'"'"'?" -d x expirng &&
	usage_err "mqadmin: unknown command '"'"'isue'"'"'; did you mean '"'"'server issue'"'"' or '"'"'device issue'"'"'?" -d x isue &&
	usage_err "mqadmin: unknown command '"'"'acl chek'"'"'; did you mean '"'"'acl check'"'"'?" -d x acl chek &&
	usage_err "mqadmin: unknown command '"'"'frobnicate'"'"'; see '"'"'mqadmin --help'"'"'" -d x frobnicate &&
	usage_err "mqadmin: unknown command '"'"'device zzz'"'"'" -d x device zzz
'

test_expect_success 'unknown options suggest the nearest' '
	usage_err "mqadmin init: unknown option '"'"'--dyas'"'"'; did you mean '"'"'--days'"'"'?" -d x init --dyas 3 &&
	usage_err "mqadmin device issue: unknown option '"'"'--gruop'"'"'; did you mean '"'"'--group'"'"'?" -d x device issue d1 --gruop g &&
	usage_err "mqadmin doctor: unknown option '"'"'--witin'"'"'; did you mean '"'"'--within'"'"'?" -d x doctor --witin=3d &&
	usage_err "mqadmin server issue: unknown option '"'"'--brokeruser'"'"'; did you mean '"'"'--broker-user'"'"'?" -d x server issue s --brokeruser u &&
	usage_err "mqadmin audit log: unknown option '"'"'--devise'"'"'; did you mean '"'"'--device'"'"'?" -d x audit log --devise d &&
	usage_err "mqadmin: unknown option '"'"'--dri'"'"'; did you mean '"'"'--dir'"'"'?" --dri x device list &&
	usage_err "mqadmin device list: unknown option '"'"'--xyzzy'"'"'" -d x device list --xyzzy &&
	! test -e x
'

test_expect_success 'missing values, surplus values, ambiguous and misplaced options' '
	usage_err "mqadmin init: option '"'"'--days'"'"' needs a value" -d x init --days &&
	usage_err "mqadmin device issue: option '"'"'--group'"'"' needs a value" -d x device issue d1 --group &&
	usage_err "mqadmin broker-config: option '"'"'--crl'"'"' takes no value" -d x broker-config --crl=yes &&
	usage_err "mqadmin broker-config: option '"'"'--p'"'"' is ambiguous: '"'"'--port'"'"' or '"'"'--plugin'"'"'" -d x broker-config --p 1 &&
	usage_err "mqadmin device list: '"'"'-d DIR'"'"' is a global option: put it before the command (mqadmin -d DIR COMMAND ...)" device list -d x &&
	usage_err "mqadmin device list: '"'"'--dir DIR'"'"' is a global option: put it before the command (mqadmin -d DIR COMMAND ...)" device list --dir x &&
	usage_err "mqadmin: option '"'"'-d'"'"' needs a value" -d &&
	! test -e x
'

test_expect_success 'unique abbreviations still work' '
	"$MQADMIN" -d pki init --da 3000 >/dev/null 2>&1 && test -f pki/ca.crt &&
	"$MQADMIN" -d pki device issue d1 --gr sensors >/dev/null &&
	"$MQADMIN" -d pki device show d1 --js >out &&
	test_grep "sensors" out
'

test_done
