/* doctor's findings and the checks its parts share (doctor.h): one finding
 * per problem with its fix, key file modes, certificate and CRL checks, and
 * what the broker's user can read or write. */
#include "doctor.h"

#include "out.h"
#include "xinfo.h"
#include "mq_x509.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>

void doctor_add(struct doctor *d, enum doctor_sev sev, const char *check, const char *fix,
		const char *fmt, ...)
{
	struct doctor_finding *n, *f;
	va_list ap;

	n = realloc(d->findings, (d->nfindings + 1) * sizeof(*n));
	if (!n) {
		d->oom = true;
		return;
	}
	d->findings = n;
	f = &n[d->nfindings];
	f->sev = sev;
	f->check = check;
	f->fix = fix ? strdup(fix) : NULL;
	va_start(ap, fmt);
	if (vasprintf(&f->what, fmt, ap) < 0)
		f->what = NULL;
	va_end(ap);
	if (!f->what || (fix && !f->fix)) {
		free(f->what);
		free(f->fix);
		d->oom = true;
		return;
	}
	d->nfindings++;
}

void doctor_user_init(struct doctor_user *u, const char *name)
{
	struct passwd *pw = getpwnam(name);
	int n = (int)(sizeof(u->groups) / sizeof(*u->groups));

	u->name = name;
	u->known = false;
	if (!pw)
		return;
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	/* Too many groups: the first 64 are enough to judge a PKI directory. */
	if (getgrouplist(name, pw->pw_gid, u->groups, &n) < 0)
		n = (int)(sizeof(u->groups) / sizeof(*u->groups));
	u->ngroups = n;
	u->known = true;
}

static bool doctor_user_in_group(const struct doctor_user *u, gid_t g)
{
	if (g == u->gid)
		return true;
	for (int i = 0; i < u->ngroups; i++)
		if (u->groups[i] == g)
			return true;
	return false;
}

/* Classic permission bits as the kernel applies them (no ACLs). */
static bool doctor_user_may(const struct doctor_user *u, const struct stat *sb, unsigned bits)
{
	unsigned m = (unsigned)sb->st_mode;

	if (u->uid == 0)
		return true;
	if (sb->st_uid == u->uid)
		return ((m >> 6) & bits) == bits;
	if (doctor_user_in_group(u, sb->st_gid))
		return ((m >> 3) & bits) == bits;
	return (m & bits) == bits;
}

bool doctor_user_can_read(const struct doctor *d, const char *path, char *why, size_t len,
			  char *blocker)
{
	char real[PATH_MAX];
	struct stat sb;

	*blocker = '\0';
	if (!d->user.known)
		return true;
	if (!realpath(path, real)) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return false;
	}
	/* Every directory from / down must let the user through. */
	for (char *s = real; (s = strchr(s, '/')); s++) {
		char save = s[1];

		s[1] = '\0';
		if (stat(real, &sb) == 0 && !doctor_user_may(&d->user, &sb, 1)) {
			snprintf(why, len, "directory %s (mode %03o, owner uid %u gid %u) is not searchable",
				 real, (unsigned)sb.st_mode & 0777, (unsigned)sb.st_uid,
				 (unsigned)sb.st_gid);
			snprintf(blocker, PATH_MAX, "%s", real);
			return false;
		}
		s[1] = save;
	}
	if (stat(real, &sb)) {
		snprintf(why, len, "%s: %s", real, strerror(errno));
		return false;
	}
	if (!doctor_user_may(&d->user, &sb, 4)) {
		snprintf(why, len, "%s (mode %03o, owner uid %u gid %u) is not readable", real,
			 (unsigned)sb.st_mode & 0777, (unsigned)sb.st_uid, (unsigned)sb.st_gid);
		return false;
	}
	return true;
}

bool doctor_user_can_write_dir(const struct doctor *d, const char *path)
{
	char why[PATH_MAX + 128], blocker[PATH_MAX];
	struct stat sb;

	if (!d->user.known)
		return false;
	return doctor_user_can_read(d, path, why, sizeof(why), blocker) && stat(path, &sb) == 0 &&
	       S_ISDIR(sb.st_mode) && doctor_user_may(&d->user, &sb, 2) &&
	       doctor_user_may(&d->user, &sb, 1);
}

bool doctor_user_can_write_file(const struct doctor *d, const char *path)
{
	struct stat sb;

	return d->user.known && stat(path, &sb) == 0 && doctor_user_may(&d->user, &sb, 2);
}

void doctor_check_key_mode(struct doctor *d, const char *path, bool group_ok)
{
	struct stat sb;
	unsigned m;
	char fix[PATH_MAX + 64];

	if (stat(path, &sb))
		return;
	m = (unsigned)sb.st_mode & 0777;
	if (group_ok && d->user.known && sb.st_gid == d->user.gid)
		m &= ~0070u;
	if (!(m & 0077))
		return;
	snprintf(fix, sizeof(fix), "chmod 600 %s", path);
	if (m & 0007)
		doctor_add(d, DOCTOR_ERROR, "key-permissions", fix,
			   "private key %s is readable by every user (mode %03o)", path,
			   (unsigned)sb.st_mode & 0777);
	else
		doctor_add(d, DOCTOR_WARNING, "key-permissions", fix,
			   "private key %s is readable by its group (mode %03o)", path,
			   (unsigned)sb.st_mode & 0777);
}

void doctor_check_cert(struct doctor *d, X509 *cert, const char *what, const char *path,
		       const char *renew_fix)
{
	time_t nb = 0, na = 0;
	const char *weak;
	char key[64];
	long left;

	if (mq_x509_validity(cert, &nb, &na) == 0) {
		left = out_days_left(na, d->now);
		if (na <= d->now)
			doctor_add(d, DOCTOR_ERROR, "cert-expired", renew_fix,
				   "%s certificate %s expired %ld day(s) ago", what, path, -left);
		else if ((long long)na - (long long)d->now < d->within_secs)
			doctor_add(d, DOCTOR_WARNING, "cert-expiring", renew_fix,
				   "%s certificate %s expires in %ld day(s) (less than %s)", what,
				   path, left, d->within_text);
		if (nb > d->now)
			doctor_add(d, DOCTOR_WARNING, "cert-not-yet-valid",
				   "check the clock of this machine (timedatectl)",
				   "%s certificate %s is not valid before %ld day(s) from now", what,
				   path, -out_days_left(nb, d->now) + 1);
	}
	weak = xinfo_key_weakness(X509_get0_pubkey(cert));
	if (weak) {
		xinfo_key_desc(X509_get0_pubkey(cert), key, sizeof(key));
		doctor_add(d, DOCTOR_ERROR, "weak-key", renew_fix,
			   "%s certificate %s has a weak key (%s: %s)", what, path, key, weak);
	}
	if (xinfo_sig_weak(cert))
		doctor_add(d, DOCTOR_ERROR, "weak-signature", renew_fix,
			   "%s certificate %s is signed with %s; OpenSSL 3 and current TLS clients "
			   "refuse MD5 and SHA-1 signatures",
			   what, path, xinfo_sig_name(X509_get_signature_nid(cert)));
}

void doctor_check_crl(struct doctor *d, const char *path, const char *label)
{
	char err[PATH_MAX + 128], fix[PATH_MAX + 64];
	X509_CRL *crl = xinfo_load_crl(path, err, sizeof(err));
	time_t next = 0;
	long left;

	snprintf(fix, sizeof(fix), "mqadmin -d %s crl update (and run it from a timer well before "
		 "nextUpdate: examples/systemd/mqcert-crl.timer)", d->dir);
	if (!crl) {
		doctor_add(d, DOCTOR_ERROR, "crl-invalid", fix, "%s: %s", label, err);
		return;
	}
	if (d->ca && X509_CRL_verify(crl, X509_get0_pubkey(d->ca)) != 1)
		doctor_add(d, DOCTOR_ERROR, "crl-not-from-ca", fix,
			   "%s %s is not signed by the CA in %s; the broker rejects every client "
			   "when the CRL's issuer is not its CA",
			   label, path, d->dir);
	ERR_clear_error();
	if (!X509_CRL_get0_nextUpdate(crl) ||
	    xinfo_asn1_time(X509_CRL_get0_nextUpdate(crl), &next)) {
		X509_CRL_free(crl);
		return;
	}
	left = out_days_left(next, d->now);
	if (next <= d->now)
		doctor_add(d, DOCTOR_ERROR, "crl-expired", fix,
			   "%s %s is past its nextUpdate (%ld day(s) ago): a broker using it as "
			   "crlfile refuses every client",
			   label, path, -left);
	else if (left < DOCTOR_CRL_WITHIN)
		doctor_add(d, DOCTOR_WARNING, "crl-expiring", fix,
			   "%s %s reaches its nextUpdate in %ld day(s): a broker using it as "
			   "crlfile then refuses every client",
			   label, path, left);
	X509_CRL_free(crl);
}

void doctor_release(struct doctor *d)
{
	for (size_t i = 0; i < d->nfindings; i++) {
		free(d->findings[i].what);
		free(d->findings[i].fix);
	}
	free(d->findings);
	for (size_t i = 0; i < d->nservers; i++) {
		free(d->servers[i].name);
		free(d->servers[i].crt);
		free(d->servers[i].key);
		X509_free(d->servers[i].cert);
	}
	free(d->servers);
	X509_free(d->ca);
	mq_policy_free(d->policy);
	memset(d, 0, sizeof(*d));
}
