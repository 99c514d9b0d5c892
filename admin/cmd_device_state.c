/* device suspend, device resume, device delete: a device's status. Suspension
 * lives in the policy only (refused and dropped by the plugin, not in the
 * CRL, undone by resume). Deletion revokes every certificate (CRL), takes
 * the device out of the policy and moves its files into DIR/archive/. */
#include "cmds.h"
#include "out.h"
#include "revoke.h"

#include "mq_fileio.h"
#include "mq_names.h"
#include "mq_time.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* NAME [--reason R] [--passphrase-file F] (delete) or NAME alone. */
static int devstate_parse(struct cli_ctx *ctx, int argc, char **argv, bool del,
			  const char **reason, const char **passfile)
{
	static const struct option none[] = {{NULL, 0, NULL, 0}};
	static const struct option delopts[] = {
		{"reason", required_argument, NULL, 'r'},
		{"passphrase-file", required_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = cli_opt(ctx, argc, argv, del ? delopts : none)) != -1) {
		switch (c) {
		case 'r':
			*reason = optarg;
			break;
		case 'P':
			*passfile = optarg;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 1, 1, "device NAME"))
		return CLI_USAGE;
	if (!cli_name_ok("device", argv[optind]) || (del && !revoke_reason_ok(*reason)))
		return CLI_FAIL;
	return CLI_OK;
}

/* The live device name, or NULL after saying why (deleted, unknown). */
static struct mq_device *devstate_find(const struct store *st, const char *name)
{
	struct mq_device *d = mq_policy_find_device(st->policy, name);
	const struct mq_deleted *x;

	if (d)
		return d;
	x = mq_policy_find_deleted(st->policy, name);
	if (x)
		cli_err("device '%s' was deleted%s%s%s; see 'mqadmin device list'", name,
			x->archive ? " (its files are in " : "", x->archive ? x->archive : "",
			x->archive ? ")" : "");
	else
		cli_err("no device '%s' in %s; see 'mqadmin device list'", name, st->dir);
	return NULL;
}

static int devstate_set(struct cli_ctx *ctx, int argc, char **argv, bool suspend)
{
	struct store *st = NULL;
	struct mq_device *d;
	const char *name;
	char ts[MQ_TIME_LEN];
	int rc = devstate_parse(ctx, argc, argv, false, NULL, NULL);

	if (rc)
		return rc;
	rc = CLI_FAIL;
	name = argv[optind];
	/* O(change): the one record (and the deleted list). */
	if (!(st = cmdtab_pki(ctx)) || store_load_devices(st, &name, 1) ||
	    !(d = devstate_find(st, name)))
		goto out;
	/* Asking for the state it is in is not a failure: scripts (and an
	 * operator repeating an emergency suspend) can run it again. */
	if (d->suspended == suspend) {
		if (suspend && d->suspended_at && !mq_time_format(d->suspended_at, ts))
			printf("device '%s' is already suspended (since %s); nothing changed\n", name, ts);
		else
			printf("device '%s' is already %s; nothing changed\n", name,
			       suspend ? "suspended" : "active (not suspended)");
		rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
		goto out;
	}
	d->suspended = suspend;
	d->suspended_at = suspend ? time(NULL) : 0;
	if (store_save_policy(st))
		goto out;
	if (suspend)
		printf("suspended device '%s': a running plugin refuses it and disconnects it within "
		       "a second; 'mqadmin device resume %s' lets it back in\n", name, name);
	else
		printf("resumed device '%s': it may connect again\n", name);
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	return rc;
}

int cmd_device_suspend(struct cli_ctx *ctx, int argc, char **argv)
{
	return devstate_set(ctx, argc, argv, true);
}

int cmd_device_resume(struct cli_ctx *ctx, int argc, char **argv)
{
	return devstate_set(ctx, argc, argv, false);
}

/* DIR/archive, mode 0700 (it keeps private keys): created, or an existing
 * directory narrowed to 0700. 0 or -1 after saying why. */
static int devstate_archive_dir(const struct store *st)
{
	char *path = store_path(st, "archive");
	struct stat sb;
	int rc = -1;

	if (!path)
		return -1;
	if (mkdir(path, 0700) && errno != EEXIST) {
		cli_err("cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	if (lstat(path, &sb) || !S_ISDIR(sb.st_mode)) {
		cli_err("%s is not a directory: move it away and run the command again", path);
		goto out;
	}
	if ((sb.st_mode & 07777) != 0700 && chmod(path, 0700)) {
		cli_err("cannot make %s private (mode 700): %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(path);
	return rc;
}

/* Moves DIR/devices/NAME to DIR/<rel>. 1 when moved, 0 when the device had
 * no directory, -1 after saying why (nothing moved). */
static int devstate_archive(const struct store *st, const char *name, const char *rel,
			    char **src, char **dst)
{
	struct stat sb;

	*src = store_path(st, "devices/%s", name);
	*dst = store_path(st, "%s", rel);
	if (!*src || !*dst) {
		cli_err("out of memory");
		return -1;
	}
	if (lstat(*src, &sb) && errno == ENOENT)
		return 0;
	if (devstate_archive_dir(st))
		return -1;
	if (!lstat(*dst, &sb)) {
		cli_err("%s already exists: run the command again in a second", *dst);
		return -1;
	}
	if (rename(*src, *dst)) {
		cli_err("cannot move %s to %s: %s", *src, *dst, strerror(errno));
		return -1;
	}
	if (mq_file_sync_dir(*dst) || mq_file_sync_dir(*src))
		out_warn("%s moved to %s, but a crash before the system "
			"writes %s back could undo the move", *src, *dst, st->dir);
	return 1;
}

/* Removes the rules naming the device: a later device of the same name
 * ('device issue NAME --force') must not inherit its grants. */
static size_t devstate_drop_rules(struct mq_policy *p, const char *name)
{
	size_t n = 0;

	for (size_t i = p->nrules; i-- > 0;) {
		const struct mq_rule *r = p->rules[i];

		if (r->kind == MQ_SUBJ_DEVICE && !strcmp(r->subject, name) &&
		    !mq_policy_remove_rule(p, r->id))
			n++;
	}
	return n;
}

int cmd_device_delete(struct cli_ctx *ctx, int argc, char **argv)
{
	struct store *st = NULL;
	struct mq_device *d;
	const char *reason = NULL, *passfile = NULL, *name;
	char *src = NULL, *dst = NULL, rel[MQ_NAME_MAX + 32], ts[MQ_TIME_LEN], err[256];
	char what[MQ_NAME_MAX + 16];
	time_t now = time(NULL);
	struct tm tm;
	size_t ncerts = 0, nrules;
	int rc = devstate_parse(ctx, argc, argv, true, &reason, &passfile), moved = 0, crl;
	bool archived;

	if (rc)
		return rc;
	rc = CLI_FAIL;
	name = argv[optind];
	/* O(change): the device and the rules (some may name it). */
	if (!(st = cmdtab_pki(ctx)) || store_load_devices(st, &name, 1) ||
	    store_load_rules(st) || !(d = devstate_find(st, name)))
		goto out;
	for (size_t i = 0; i < d->ncerts; i++) {
		if (d->certs[i]->status == MQ_CERT_REVOKED)
			continue;
		if (revoke_cert(d->certs[i], reason ? reason : "deleted", now))
			goto out;
		ncerts++;
	}
	nrules = devstate_drop_rules(st->policy, name);
	/* Files first: were the policy written first, a crash in between
	 * would leave DIR/devices/NAME unrecorded, and the next write's
	 * leftover cleaning would remove it, key and all. */
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(rel, sizeof(rel), "archive/%s-%s", name, ts);
	moved = devstate_archive(st, name, rel, &src, &dst);
	if (moved < 0)
		goto out;
	archived = moved > 0;
	if (mq_policy_delete_device(st->policy, d, now, moved ? rel : NULL, err, sizeof(err))) {
		cli_err("%s", err);
		goto out;
	}
	snprintf(what, sizeof(what), "device '%s'", name);
	crl = revoke_commit(st, passfile, what);
	if (crl < 0)
		goto out;
	moved = 0;
	printf("deleted device '%s': %zu certificate%s revoked, %zu ACL rule%s removed", name,
	       ncerts, ncerts == 1 ? "" : "s", nrules, nrules == 1 ? "" : "s");
	if (archived)
		printf(", files in %s", dst);
	printf("; %s/crl.pem %s\n", st->dir, crl ? "NOT updated" : "updated");
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	/* The policy was not written: the device is still there, so are its files. */
	if (moved > 0 && rename(dst, src))
		cli_err("cannot move %s back to %s: %s; move it by hand", dst, src, strerror(errno));
	free(src);
	free(dst);
	return rc;
}
