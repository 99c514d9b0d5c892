#!/bin/bash
# Which PKI directory a command uses when none is given: -d, MQADMIN_DIR,
# the config file (MQADMIN_CONFIG here, never /etc), ./pki if it exists;
# and what init records there.
. "$(dirname "$0")/../lib.sh"

CONF=$TRASH/etc/mqadmin.conf

test_expect_success 'setup: two PKIs' '
	"$MQADMIN" -d real init --cn "Real CA" >/dev/null 2>&1 &&
	"$MQADMIN" -d real device issue dev1 >/dev/null &&
	"$MQADMIN" -d other init --cn "Other CA" >/dev/null 2>&1
'

test_expect_success 'no directory anywhere: the error names -d, MQADMIN_DIR and the config file, init last' '
	mkdir fresh && cd fresh &&
	test_must_fail "$MQADMIN" device list 2>err &&
	test_grep "^mqadmin: no PKI directory given: no -d DIR, MQADMIN_DIR is not set, there is no $MQADMIN_CONFIG and no ./pki here; point mqadmin at your PKI with -d DIR, MQADMIN_DIR=DIR or a line .dir = DIR. in $MQADMIN_CONFIG (MQADMIN_CONFIG names another file); only if you have no CA anywhere yet, create one with .mqadmin -d DIR init.$" err &&
	test_grep ! "mqadmin -d ./pki init" err &&
	test_must_fail "$MQADMIN" device issue x 2>err &&
	test_grep "no PKI directory given" err &&
	test_must_fail "$MQADMIN" doctor 2>err &&
	test_grep "no PKI directory given" err &&
	! test -e pki
'

test_expect_success 'init without any directory creates nothing here' '
	mkdir fresh2 && cd fresh2 &&
	test_expect_code 2 "$MQADMIN" init 2>../err &&
	test_grep "init needs a directory for the new CA: pass -d DIR" ../err &&
	! test -e pki && test -z "$(ls -A)"
'

test_expect_success 'the config file names the directory, from any current directory' '
	mkdir -p etc && printf "# the fleet\n\ndir = %s\n" "$TRASH/real" >"$CONF" &&
	mkdir -p elsewhere/pki && cd elsewhere &&
	MQADMIN_CONFIG=$CONF "$MQADMIN" device list >out &&
	test_grep "^dev1 " out &&
	(cd / && MQADMIN_CONFIG=$CONF "$MQADMIN" device show dev1 >/dev/null)
'

test_expect_success 'precedence: -d, then MQADMIN_DIR, then the config file' '
	MQADMIN_CONFIG=$CONF MQADMIN_DIR=other "$MQADMIN" device list >out &&
	test_grep ! "dev1" out &&
	MQADMIN_CONFIG=$CONF MQADMIN_DIR=other "$MQADMIN" -d real device list >out &&
	test_grep "^dev1 " out &&
	MQADMIN_CONFIG=$CONF MQADMIN_DIR= "$MQADMIN" device list >out &&
	test_grep "^dev1 " out
'

test_expect_success 'the config file beats ./pki; ./pki is used only when it exists' '
	mkdir cwd && cd cwd &&
	"$MQADMIN" -d pki init >/dev/null 2>&1 &&
	"$MQADMIN" device list >out && test_grep ! dev1 out &&
	MQADMIN_CONFIG=$CONF "$MQADMIN" device list >out && test_grep "^dev1 " out &&
	mv pki pki.moved &&
	test_must_fail "$MQADMIN" device list 2>err &&
	test_grep "no PKI directory given" err
'

test_expect_success 'a directory from the config file that holds no PKI: says which line named it' '
	printf "dir = %s\n" "$TRASH/gone" >bad.conf &&
	test_must_fail env MQADMIN_CONFIG=$TRASH/bad.conf "$MQADMIN" device list 2>err &&
	test_grep "^mqadmin: no PKI in $TRASH/gone (named by $TRASH/bad.conf:1): No such file or directory; if your PKI is elsewhere, correct that line, pass -d DIR or set MQADMIN_DIR; only to start a new CA there: .mqadmin -d $TRASH/gone init.$" err &&
	test_must_fail env MQADMIN_DIR=gone "$MQADMIN" device list 2>err &&
	test_grep "^mqadmin: no PKI in gone (from MQADMIN_DIR): No such file or directory" err
'

# bad_config TEXT PATTERN: that config file is an error naming file:line.
bad_config() {
	printf "$1" >bad.conf &&
	test_must_fail env MQADMIN_CONFIG=$TRASH/bad.conf "$MQADMIN" device list 2>err &&
	test_grep "^mqadmin: $TRASH/bad.conf$2; fix $TRASH/bad.conf (one line .dir = /path/to/pki.), or pass -d DIR$" err
}

test_expect_success 'a malformed config file: file, line and what is wrong' '
	bad_config "# c\ndirectory = /x\n" ":2: unknown setting .directory.: the settings are .dir. and .etcd., .etcd_prefix., .etcd_cacert., .etcd_cert., .etcd_key., .etcd_user., .etcd_password_file." &&
	bad_config "dir /x\n" ":1: expected .dir = /path/to/pki., found .dir /x." &&
	bad_config "dir = pki\n" ":1: .dir. must be an absolute path, found .pki." &&
	bad_config "dir =\n" ":1: .dir. must be an absolute path, found .." &&
	bad_config "dir = /a\n\ndir = /b\n" ":3: a second .dir. line (the first is line 1)" &&
	bad_config "# nothing\n" ": no .dir = /path/to/pki. line" &&
	mkdir adir && test_must_fail env MQADMIN_CONFIG=$TRASH/adir "$MQADMIN" device list 2>err &&
	test_grep "cannot read $TRASH/adir" err &&
	MQADMIN_CONFIG=$TRASH/bad.conf "$MQADMIN" -d real device list >out &&
	test_grep "^dev1 " out &&
	MQADMIN_CONFIG=$TRASH/bad.conf MQADMIN_DIR=real "$MQADMIN" device list >out &&
	test_grep "^dev1 " out &&
	MQADMIN_CONFIG=$TRASH/bad.conf "$MQADMIN" device issue --help >out 2>err &&
	test_grep "^usage: mqadmin \[-d DIR\] device issue" out
'

test_expect_success 'init under /tmp records nothing unless --default, and says why' '
	MQADMIN_CONFIG=$TRASH/new/mqadmin.conf "$MQADMIN" -d tmppki init >out 2>err &&
	! test -e new/mqadmin.conf &&
	case "$TRASH" in
	/tmp/*) test_grep "is not recorded as the default PKI directory: it is under /tmp; pass --default to record it in $TRASH/new/mqadmin.conf" err ;;
	esac &&
	MQADMIN_CONFIG=$TRASH/new/mqadmin.conf "$MQADMIN" -d rec init --default >out 2>err &&
	test_grep "^mqadmin: recorded $TRASH/rec as the default PKI directory in $TRASH/new/mqadmin.conf$" err &&
	test "$(stat -c %a new/mqadmin.conf)" = 644 &&
	test_grep -x "dir = $TRASH/rec" new/mqadmin.conf &&
	(cd / && MQADMIN_CONFIG=$TRASH/new/mqadmin.conf "$MQADMIN" device list >/dev/null) &&
	MQADMIN_CONFIG=$TRASH/new/mqadmin.conf "$MQADMIN" -d nodef init --no-default >out 2>err &&
	test_grep ! "default" err
'

test_expect_success 'an existing config is never replaced silently' '
	cp new/mqadmin.conf before.conf &&
	MQADMIN_CONFIG=$TRASH/new/mqadmin.conf "$MQADMIN" -d second init >out 2>err &&
	test_cmp before.conf new/mqadmin.conf &&
	test_grep "^mqadmin: $TRASH/new/mqadmin.conf:3 names $TRASH/rec as the default PKI directory; left unchanged (pass --default to make $TRASH/second the default)$" err &&
	MQADMIN_CONFIG=$TRASH/new/mqadmin.conf "$MQADMIN" -d third init --default >out 2>err &&
	test_grep "^mqadmin: $TRASH/new/mqadmin.conf: the default PKI directory is now $TRASH/third (was $TRASH/rec)$" err &&
	test_grep -x "dir = $TRASH/third" new/mqadmin.conf &&
	printf "garbage\n" >new/mqadmin.conf &&
	MQADMIN_CONFIG=$TRASH/new/mqadmin.conf "$MQADMIN" -d fourth init >out 2>err &&
	test_grep "new/mqadmin.conf:1: expected .dir = /path/to/pki., found .garbage.; left unchanged" err &&
	test_grep -x garbage new/mqadmin.conf &&
	test_expect_code 2 "$MQADMIN" -d fifth init --default --no-default 2>err &&
	test_grep "exclude each other" err && ! test -e fifth
'

test_expect_success 'a config that cannot be written: the CA stays, --default makes it exit 1' '
	: >notadir &&
	test_must_fail env MQADMIN_CONFIG=$TRASH/notadir/x/mqadmin.conf "$MQADMIN" -d sixth init --default >out 2>err &&
	test_grep "cannot create $TRASH/notadir/x" err &&
	test -f sixth/ca.crt && test -f sixth/ca.key &&
	"$MQADMIN" -d sixth device list >/dev/null
'

test_done
