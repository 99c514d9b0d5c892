#!/bin/bash
# A store written before the covering expiring index (docs/STORE.md, "The
# expiring index"): expiring answers from the records, the same bytes; the
# first mqadmin command that writes builds the index, once, with one note
# line; one whose index is behind (an older mqadmin wrote last) is not
# trusted and is rebuilt by the next write.
. "$(dirname "$0")/../lib.sh"

# old: the store of pki as the previous mqadmin wrote it: every database but
# "expiring", and no meta "expiring_seq" (the rest byte for byte, through
# lmdb-utils).
make_old() {
	rm -rf old && cp -a pki old && rm -f old/store/data.mdb old/store/lock.mdb &&
	for db in devices by_fp by_user by_serial expiry rules log revoked crl; do
		mdb_dump -s $db pki/store | mdb_load -s $db old/store || return 1
	done &&
	mdb_dump -p -s meta pki/store |
		awk 'skip { skip = 0; next } $0 == " expiring_seq" { skip = 1; next } 1' |
		mdb_load -s meta old/store &&
	! mdb_stat -s expiring old/store >/dev/null 2>&1 &&
	! mdb_dump -p -s meta old/store | grep -qx " expiring_seq"
}

# Table and JSON of DIR $1 into $1.out, without the time left (it moves on
# between two runs: a certificate issued --days 5 is "in 4d" a second later).
expiring_both() {
	test_expect_code 1 "$MQADMIN" -d $1 expiring --within 30d >$1.raw &&
	test_expect_code 1 "$MQADMIN" -d $1 expiring --within 30d --json >>$1.raw &&
	sed -e "s/  in [0-9]*[dhm]\$//" -e "/\"days_left\":/d" $1.raw >$1.out
}

test_must_be_empty() {
	test ! -s "$1" || { cat "$1" >&2; false; }
}

test_expect_success 'setup: a fleet with a renewal and a revocation, and its store in the old layout' '
	"$MQADMIN" -d pki init >/dev/null &&
	for d in soon soon2 rev; do "$MQADMIN" -d pki device issue $d --days 5 >/dev/null || exit 1; done &&
	"$MQADMIN" -d pki device issue far --days 300 >/dev/null &&
	"$MQADMIN" -d pki device issue renewed --days 3 >/dev/null &&
	"$MQADMIN" -d pki device renew renewed --days 20 >/dev/null &&
	"$MQADMIN" -d pki device revoke rev >/dev/null &&
	expiring_both pki &&
	test $(grep -c "^device" pki.out) = 3 &&
	make_old
'

test_expect_success 'expiring on the old store: the same output, from the records, nothing written' '
	expiring_both old 2>err &&
	test_cmp pki.out old.out &&
	test_must_be_empty err &&
	! mdb_stat -s expiring old/store >/dev/null 2>&1
'

test_expect_success 'the first write builds the index once, with one note; the output stays the same' '
	"$MQADMIN" -d old device issue later --days 300 >/dev/null 2>err &&
	test_grep "note: indexing the certificates in use of 5 device(s) in old/store for .expiring. (once" err &&
	test $(wc -l <err) = 1 &&
	test $(mdb_stat -s expiring old/store | awk "/Entries:/ { print \$2 }") = 5 &&
	expiring_both old &&
	test_cmp pki.out old.out &&
	"$MQADMIN" -d old device issue later2 --days 300 >/dev/null 2>err &&
	test_must_be_empty err
'

test_expect_success 'an index behind the store (an older mqadmin wrote last) is not trusted, then rebuilt' '
	ghost=$(printf "%016x%064x" 1 7) &&
	printf "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n %s\n %s\n %s\n %s\nDATA=END\n" \
		"$(printf expiring_seq | od -An -tx1 | tr -d " \n")" 0000000000000000 \
		"$ghost" "$(printf "A01\0ghost" | od -An -tx1 | tr -d " \n")" >stale.txt &&
	sed -n "1,4p;5,6p;9p" stale.txt | mdb_load -f /dev/stdin -s meta old/store &&
	sed -n "1,4p;7,9p" stale.txt | mdb_load -f /dev/stdin -s expiring old/store &&
	expiring_both old 2>err &&
	test_cmp pki.out old.out &&
	test_must_be_empty err &&
	"$MQADMIN" -d old device issue later3 --days 300 >/dev/null 2>err &&
	test_grep "note: indexing the certificates in use of 7 device(s)" err &&
	! mdb_dump -s expiring old/store | grep -q "^ $ghost" &&
	expiring_both old &&
	test_cmp pki.out old.out
'

test_done
