#!/bin/bash
# One naming scheme (docs/development.md "Names"), checked on the objects
# the build made: every file opens with a comment saying its one job, every
# function (or variable) another file can call carries its module's prefix,
# and no two functions are a letter apart.
. "$(dirname "$0")/../lib.sh"

OBJ=$MQ_BUILD/obj

# Passes on an empty file, else shows it and fails.
empty() { if [ -s "$1" ]; then cat "$1"; return 1; fi; }

test_expect_success 'setup: nm and the objects of admin/, core/ and plugin/' '
	command -v nm >/dev/null &&
	test -f "$OBJ/admin/main.o" && test -f "$OBJ/core/policy.o" &&
	test -f "$OBJ/plugin/plugin.o" &&
	for d in admin core plugin; do
		for src in "$MQ_ROOT/$d"/*.c; do
			m=$(basename "$src" .c) &&
			nm --defined-only "$OBJ/$d/$m.o" >nm.out &&
			awk -v f="$d/$m" "\$2 ~ /^[TDBRG]\$/ && \$3 !~ /^_/ {print f, \$3}" nm.out \
				>>exported || exit 1
		done
	done &&
	test_grep "^admin/store store_open$" exported &&
	test_grep "^core/policy mq_policy_new$" exported &&
	test_grep "^plugin/auth mqauth_basic$" exported
'

# Files another branch was editing when this test came; the lead adds their
# comments on merge. A file that has its comment must leave this list.
PENDING=""

test_expect_success 'every .c and .h file opens with a comment' '
	for f in "$MQ_ROOT"/admin/*.[ch] "$MQ_ROOT"/core/*.[ch] "$MQ_ROOT"/plugin/*.[ch] \
		 "$MQ_ROOT"/include/*.h; do
		rel=${f#$MQ_ROOT/}
		case " $PENDING " in
		*" $rel "*) ! head -c 2 "$f" | grep -q "^/\*" ||
				echo "$rel has its comment now: take it out of PENDING" ;;
		*) head -c 2 "$f" | grep -q "^/\*" || echo "no opening comment: $rel" ;;
		esac
	done >missing &&
	empty missing
'

# admin/X.c exports X_* only. The exceptions, each a module of several files:
#   cmd_*.c         command entry points, cmd_* (the command table calls them)
#   doctor_*.c      the parts of doctor (doctor.h): doctor_*
#   main.c          main
# A prefix means one module: a name must not also start with a longer module's
# prefix (report_html_* belongs to report_html.c, never to a report.c).
test_expect_success 'admin/: every exported name starts with its module prefix' '
	ls "$MQ_ROOT"/admin/*.c | sed "s|.*/||; s|\.c\$||" |
		sed "s/^cmd_.*/cmd/; s/^doctor_.*/doctor/" | sort -u >modules &&
	grep "^admin/" exported | sed "s|^admin/||" >admin.syms &&
	while read -r file sym; do
		case $file in
		main) mod=main; test "$sym" = main && continue ;;
		cmd_*) mod=cmd ;;
		doctor_*) mod=doctor ;;
		*) mod=$file ;;
		esac
		best=
		while read -r m; do
			case $sym in "${m}_"*) [ ${#m} -gt ${#best} ] && best=$m ;; esac
		done <modules
		[ "$best" = "$mod" ] || echo "admin/$file.c: $sym (want ${mod}_*)"
	done <admin.syms >wrong &&
	empty wrong
'

# core/: the public names are mq_* (include/mq_*.h). Two modules share
# helpers between their own files through a private header without mq_:
# aclpat_* (core/aclpat.h) and policy_* (core/policy_int.h, policy*.c).
test_expect_success 'core/: every exported name is mq_* or its private module prefix' '
	grep "^core/" exported | sed "s|^core/||" | while read -r file sym; do
		case $sym in
		mq_*) ;;
		aclpat_*) [ "$file" = aclpat ] || echo "core/$file.c: $sym" ;;
		policy_*) case $file in policy | policy_*) ;; *) echo "core/$file.c: $sym" ;; esac ;;
		*) echo "core/$file.c: $sym (want mq_*)" ;;
		esac
	done >wrong &&
	empty wrong
'

# plugin/: mq<module>_* per file (the broker looks up mosquitto_plugin_*).
# A new plugin file gets its line here.
test_expect_success 'plugin/: every exported name carries its file prefix' '
	cat >plugin.prefixes <<-\EOF &&
	access mqaccess
	audit mqaudit
	auth mqauth
	clients mqclients
	crl mqcrl
	enforce mqenf
	log mqlog
	lookup mqlook
	metrics mqmet
	options mqopt
	plugin mosquitto_plugin
	reload mqreload
	renew mqrenew
	state mqstate
	EOF
	grep "^plugin/" exported | sed "s|^plugin/||" | while read -r file sym; do
		p=$(awk -v f="$file" "\$1 == f {print \$2}" plugin.prefixes)
		if [ -z "$p" ]; then echo "plugin/$file.c: no prefix in t0450"; continue; fi
		case $sym in "$p" | "${p}_"*) ;; *) echo "plugin/$file.c: $sym (want ${p}_*)" ;; esac
	done >wrong &&
	empty wrong
'

# Every function, static ones included, compared with every other: names a
# letter apart (one inserted, dropped or changed) are read as the same name.
# The pairs below are kept on purpose: one job in two forms (a string or a
# character, one or all), or two words that differ in more than spelling
# (get/set, clone/close).
test_expect_success 'no two functions are a letter apart' '
	for d in admin core plugin; do
		# the objects of the current sources only: a build directory keeps
		# the objects of files since renamed or removed
		for c in "$MQ_ROOT/$d"/*.c; do
			m=${c##*/}; nm --defined-only "$OBJ/$d/${m%.c}.o"
		done | awk "\$2 ~ /^[Tt]\$/ {print \$3}"
	done | grep -v "^_" | grep -v "\." | sort -u >funcs &&
	cat >allowed <<-\EOF &&
	dvs_put dvs_putc
	etcd_add_b64 etcd_add_i64
	mq_store_meta_get mq_store_meta_set
	mq_store_meta_get_text mq_store_meta_set_text
	mqaudit_clone mqaudit_close
	xinfo_load_cert xinfo_load_certs
	EOF
	/usr/bin/python3 - funcs >pairs <<-\EOF &&
	import sys
	names = [l.strip() for l in open(sys.argv[1]) if l.strip()]
	def near(a, b):
	    if a == b or abs(len(a) - len(b)) > 1:
	        return False
	    if len(a) == len(b):
	        return sum(x != y for x, y in zip(a, b)) == 1
	    if len(a) > len(b):
	        a, b = b, a
	    return any(b[:i] + b[i + 1:] == a for i in range(len(b)))
	for i, a in enumerate(names):
	    for b in names[i + 1:]:
	        if near(a, b):
	            print(a, b)
	EOF
	grep -vxFf allowed pairs >new || true &&
	empty new
'

test_done
