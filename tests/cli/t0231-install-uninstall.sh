#!/bin/bash
# make install / make uninstall with DESTDIR and PREFIX: uninstall removes
# what install put there and nothing else.
. "$(dirname "$0")/../lib.sh"

# -o all: install what $MQ_BUILD holds; never rebuild it with other flags.
mk() { make -s -C "$MQ_ROOT" -o all BUILD="$MQ_BUILD" DESTDIR="$TRASH/root" PREFIX=/usr/local "$@"; }

test_expect_success 'make install puts the five files in place' '
	mk install &&
	(cd root && find . -type f | sort) >files &&
	cat >expect <<-\EOF &&
	./usr/local/bin/mqadmin
	./usr/local/lib/mqcert/mqcert.so
	./usr/local/share/bash-completion/completions/mqadmin
	./usr/local/share/man/man1/mqadmin.1
	./usr/local/share/man/man5/mqcert.5
	EOF
	test_cmp expect files &&
	test -x root/usr/local/bin/mqadmin &&
	test "$(stat -c %a root/usr/local/lib/mqcert/mqcert.so)" = 644
'

test_expect_success 'make uninstall with the same variables leaves nothing' '
	mk uninstall &&
	find root -mindepth 1 >left &&
	test_cmp /dev/null left
'

test_expect_success 'make uninstall keeps files and directories it did not install' '
	mkdir -p root/usr/local/bin root/usr/local/share/man/man1 &&
	echo mine >root/usr/local/bin/other &&
	echo mine >root/usr/local/share/man/man1/other.1 &&
	mk install && mk uninstall &&
	(cd root && find . | sort) >left &&
	cat >expect <<-\EOF &&
	.
	./usr
	./usr/local
	./usr/local/bin
	./usr/local/bin/other
	./usr/local/share
	./usr/local/share/man
	./usr/local/share/man/man1
	./usr/local/share/man/man1/other.1
	EOF
	test_cmp expect left
'

test_expect_success 'make uninstall with nothing installed succeeds and removes nothing' '
	mk uninstall &&
	test_grep -x mine root/usr/local/bin/other
'

test_done
