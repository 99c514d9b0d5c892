#!/bin/bash
# The Debian package (make deb), installed with dpkg into the real system: a
# real mosquitto loads the installed plugin from the path broker-config finds,
# a device connects through it; reinstalling, removing and purging leave the
# PKI directory untouched. The system is restored at the end: the package is
# purged and a mqadmin.conf that was there before is put back.
# MQ_DEB=FILE uses an already built package instead of building one.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v dpkg >/dev/null; then
	echo "# skipped: needs root and dpkg (it installs the package)"
	test_done
fi
if dpkg-query -W -f='${Status}' mqcert 2>/dev/null | grep -q "ok installed\|config-files"; then
	echo "# skipped: a mqcert package is already installed here; not touching it"
	test_done
fi

MQADMIN=/usr/bin/mqadmin
MQCERT_SO=/usr/lib/$(gcc -print-multiarch)/mosquitto/mqcert.so
BROKER_ASAN=0
CONF=/etc/mqcert/mqadmin.conf
VERSION=$(sed -n 's/^VERSION *:= *//p' "$MQ_ROOT/Makefile")
ARCH=$(dpkg --print-architecture)
DEB=${MQ_DEB:-$TRASH/src/build/mqcert_${VERSION}_${ARCH}.deb}

# mqdpkg ARGS...: dpkg, waiting (bounded, 3 minutes) while another apt or
# dpkg on this machine holds the lock; the other output goes to stdout.
mqdpkg() {
	local i rc out=$TRASH/.dpkg.out
	for i in $(seq 1 180); do
		rc=0
		dpkg "$@" >"$out" 2>&1 || rc=$?
		if [ $rc -ne 0 ] && grep -q "lock.*locked\|Could not get lock\|is locked by another" "$out"; then
			sleep 1
			continue
		fi
		cat "$out"
		return $rc
	done
	cat "$out"
	echo "mqdpkg: the dpkg lock stayed taken for 3 minutes" >&2
	return 1
}

# What the package must never touch, as a listing with checksums.
pki_sum() {
	[ -d "$1" ] || { echo "absent"; return 0; }
	(cd "$1" && find . -printf '%p %m %u %s %T@\n' | sort && find . -type f -exec sha256sum {} + | sort)
}

# The system as it was: restored whatever happens below.
[ -e $CONF ] && cp -p $CONF "$TRASH/saved-mqadmin.conf"
pki_sum /etc/mqcert/pki >"$TRASH/etc-pki.before"
test_at_end "mqdpkg --purge mqcert"
test_at_end "[ -e '$TRASH/saved-mqadmin.conf' ] && mkdir -p /etc/mqcert && cp -p '$TRASH/saved-mqadmin.conf' $CONF"

test_expect_success 'make deb builds mqcert_VERSION_ARCH.deb (lintian: no errors)' '
	if [ -z "${MQ_DEB:-}" ]; then
		mkdir src &&
		(cd "$MQ_ROOT" && git ls-files -co --exclude-standard | while IFS= read -r f; do
			[ -e "$f" ] && printf "%s\0" "$f"; done | xargs -0 cp -P --parents -t "$TRASH/src") &&
		make -C src deb >build.log 2>&1 || { tail -n 40 build.log; false; }
	fi &&
	test -f "$DEB" &&
	dpkg-deb -f "$DEB" Package Version Architecture >fields &&
	printf "Package: mqcert\nVersion: %s\nArchitecture: %s\n" "$VERSION" "$ARCH" >expect &&
	test_cmp expect fields
'

test_expect_success 'dpkg -i installs mqadmin, the plugin, man pages, completion, units, conffiles' '
	mqdpkg -i --force-confnew "$DEB" >install.log 2>&1 || { cat install.log; false; } &&
	"$MQADMIN" --version >v && test_grep -x "mqadmin $VERSION" v &&
	test -f "$MQCERT_SO" &&
	dpkg -L mqcert >files &&
	for f in /usr/share/man/man1/mqadmin.1.gz /usr/share/man/man5/mqcert.5.gz \
		/usr/share/bash-completion/completions/mqadmin /etc/logrotate.d/mqcert $CONF \
		/lib/systemd/system/mqcert-crl.service /lib/systemd/system/mqcert-crl.timer \
		/lib/systemd/system/mqcert-expiring.service /lib/systemd/system/mqcert-expiring.timer \
		/usr/share/doc/mqcert/README.md /usr/share/doc/mqcert/docs/mqadmin.md \
		/usr/share/doc/mqcert/docs/plugin.md /usr/share/doc/mqcert/docs/operations.md; do
		test_grep -x "$f" files || exit 1
	done &&
	test_grep ! "/usr/local" /lib/systemd/system/mqcert-crl.service &&
	test_grep "^ExecStart=/usr/bin/mqadmin " /lib/systemd/system/mqcert-expiring.service &&
	dpkg-query -W -f="\${Conffiles}\n" mqcert >conffiles &&
	test_grep " $CONF " conffiles && test_grep " /etc/logrotate.d/mqcert " conffiles &&
	! ls /etc/systemd/system/timers.target.wants/mqcert-* 2>/dev/null &&
	logrotate -d /etc/logrotate.d/mqcert >lr 2>&1 || { cat lr; false; }
'

test_expect_success 'the packaged mqadmin.conf names /etc/mqcert/pki; without a PKI there mqadmin says how to create one' '
	test_grep -x "dir = /etc/mqcert/pki" $CONF &&
	if [ ! -e /etc/mqcert/pki ]; then
		test_must_fail env -u MQADMIN_CONFIG "$MQADMIN" device list 2>err &&
		test_grep "no PKI in /etc/mqcert/pki (named by $CONF:[0-9]*)" err &&
		test_grep "mqadmin -d /etc/mqcert/pki init" err
	fi
'

test_expect_success 'a real broker loads the installed plugin from the path broker-config finds' '
	pki_setup pki dev1 &&
	"$MQADMIN" -d pki acl add --all --topic "t/#" --access readwrite >/dev/null &&
	port=$(broker_free_port) && echo $port >b.port &&
	"$MQADMIN" -d pki broker-config --port $port --bind 127.0.0.1 >block &&
	test_grep -x "plugin $MQCERT_SO" block &&
	broker_start b "$(cat block)" &&
	log_has b "Loading plugin: $MQCERT_SO" &&
	log_has b "mqcert: version $VERSION, store $TRASH/pki/store" &&
	$MQCLIENT --port $port $(dev_args pki dev1) --id dev1 --pub t/x hello >pub.out &&
	test_grep "^CONNACK 0" pub.out &&
	log_has b "mqcert: accepted client .dev1. from 127.0.0.1 as device .dev1." &&
	broker_stop b &&
	pki_sum pki >pki.before
'

test_expect_success 'reinstalling (an upgrade to the same version) keeps the PKI untouched' '
	mqdpkg -i "$DEB" >reinstall.log 2>&1 || { cat reinstall.log; false; } &&
	pki_sum pki >pki.after && test_cmp pki.before pki.after
'

test_expect_success 'dpkg -r removes the programs, keeps the conffiles and the PKI' '
	mqdpkg -r mqcert >remove.log 2>&1 || { cat remove.log; false; } &&
	test ! -e "$MQADMIN" && test ! -e "$MQCERT_SO" &&
	test ! -e /lib/systemd/system/mqcert-crl.timer &&
	test -f $CONF &&
	pki_sum pki >pki.after && test_cmp pki.before pki.after
'

test_expect_success 'dpkg --purge deletes the conffiles, says where PKIs were left, keeps them' '
	mqdpkg --purge mqcert >purge.log 2>&1 || { cat purge.log; false; } &&
	test_grep "PKI directories named with -d, MQADMIN_DIR or in mqadmin.conf are never touched" purge.log &&
	if [ -d /etc/mqcert/pki ]; then
		test_grep "the PKI directory /etc/mqcert/pki .* was left in place" purge.log
	fi &&
	test ! -e $CONF && test ! -e /etc/logrotate.d/mqcert &&
	! dpkg-query -W -f="\${Status}" mqcert 2>/dev/null | grep -q installed &&
	pki_sum pki >pki.after && test_cmp pki.before pki.after &&
	pki_sum /etc/mqcert/pki >etc-pki.after && test_cmp etc-pki.before etc-pki.after
'

test_done
