#!/bin/bash
# Issue 18.7: `make` never installs packages; with one missing it stops and
# names `make deps`, the one target that runs apt-get (and that demo, test,
# bench and deb run first). Stand-ins for dpkg-query and apt-get on PATH
# play a machine that lacks libcmocka-dev.
. "$(dirname "$0")/../lib.sh"

test_expect_success 'setup: a copy of the tree, a dpkg-query without libcmocka-dev, an apt-get that records' '
	mkdir src bin &&
	(cd "$MQ_ROOT" && git ls-files -co --exclude-standard | while IFS= read -r f; do
		[ -e "$f" ] && printf "%s\0" "$f"; done | xargs -0 cp -P --parents -t "$TRASH/src") &&
	cat >bin/dpkg-query <<-EOF &&
	#!/bin/sh
	for a; do last=\$a; done
	[ "\$last" = libcmocka-dev ] && exit 1
	exec /usr/bin/dpkg-query "\$@"
	EOF
	cat >bin/apt-get <<-EOF &&
	#!/bin/sh
	echo "\$*" >>"$TRASH/apt-get.calls"
	EOF
	chmod +x bin/dpkg-query bin/apt-get
'

test_expect_success 'make with a package missing fails, names make deps and runs no apt-get' '
	test_expect_code 2 env PATH="$TRASH/bin:$PATH" make -C src 2>err >out &&
	test_grep "mqcert: missing Debian packages: libcmocka-dev" err &&
	test_grep "run .make deps." err &&
	test ! -e apt-get.calls &&
	test ! -e src/build/mqadmin && test ! -e src/build/.deps-ok
'

test_expect_success 'make deps installs the missing package with apt-get' '
	if [ "$(id -u)" != 0 ]; then
		test_expect_code 2 env PATH="$TRASH/bin:$PATH" make -C src deps 2>err &&
		test_grep "sudo apt-get install -y libcmocka-dev" err
	else
		env PATH="$TRASH/bin:$PATH" make -C src deps 2>err &&
		test_grep "install -y -q --no-install-recommends libcmocka-dev" apt-get.calls &&
		test -e src/build/.deps-ok
	fi
'

test_expect_success 'make demo, test, bench and deb run make deps first' '
	for t in demo test bench deb; do
		make -n -C src $t >n.$t 2>&1 || { cat n.$t; exit 1; } &&
		grep -v "^make" n.$t | head -n 1 >first &&
		test_grep -x "scripts/ensure-deps" first || exit 1
	done &&
	test_grep -x "scripts/ensure-deps valgrind gnuplot-nox" n.bench &&
	test_grep -x "scripts/ensure-deps debhelper lintian fakeroot dpkg-dev" n.deb
'

test_done
