/* Which PKI directory a command works on, and the config file that names
 * the machine's default one, so that no command depends on the current
 * directory: -d DIR, else $MQADMIN_DIR, else "dir = DIR" in the config
 * file ($MQADMIN_CONFIG, else /etc/mqcert/mqadmin.conf), else ./pki if it
 * exists (the default of mqadmin before the config file). */
#ifndef ADMIN_PKIDIR_H
#define ADMIN_PKIDIR_H

#include <stdbool.h>
#include <stddef.h>

#define PKIDIR_CONFIG_DEFAULT "/etc/mqcert/mqadmin.conf"
#define PKIDIR_FALLBACK "./pki"

enum pkidir_from {
	PKIDIR_OPTION, /* -d DIR */
	PKIDIR_ENV,    /* $MQADMIN_DIR */
	PKIDIR_CONFIG, /* dir = ... in the config file */
	PKIDIR_CWD,    /* ./pki, which exists */
	PKIDIR_NONE,   /* nothing: ./pki, which does not exist */
};

/* Picks the directory by the precedence above (given: the -d value or
 * NULL) into *dir (static storage). 0, or -1 after printing why (the
 * config file is unreadable or malformed: file:line and what is wrong). */
int pkidir_resolve(const char *given, const char **dir);

/* Where the resolved directory came from. */
enum pkidir_from pkidir_from(void);

/* The config file's path: $MQADMIN_CONFIG, else PKIDIR_CONFIG_DEFAULT. */
const char *pkidir_config_path(void);

/* Reads the config file at path. 1 with its directory in dir (len bytes)
 * and the line that named it in *line; 0 when the file does not exist;
 * -1 with "path:line: what is wrong" (or why it cannot be read) in err. */
int pkidir_config_read(const char *path, char *dir, size_t len, int *line, char *err,
		       size_t errlen);

/* "mqadmin: no PKI in DIR (...): why; ..." for a directory that is missing
 * or holds no CA: names where DIR came from and -d, MQADMIN_DIR and the
 * config file as the ways to point at an existing PKI, and init last,
 * only for starting a new CA. */
void pkidir_err_missing(const char *dir, const char *why);

/* After init created a CA in dir: records dir as the default in the
 * config file. force (--default) records it wherever dir is and replaces
 * a config that names another directory; otherwise it is recorded only by
 * root, for a directory outside /tmp, /var/tmp, /dev/shm, $TMPDIR, /home,
 * /root and $HOME, and never over an existing config. Every decision that
 * leaves the config unchanged is said on stderr (when it matters), every
 * change on stderr. 0, or -1 when force was given and it failed. */
int pkidir_record_default(const char *dir, bool force);

#define PKIDIR_ETCD_KEYS 7
/* The config file's etcd settings, each NULL when absent, in the order
 * etcd, etcd_prefix, etcd_cacert, etcd_cert, etcd_key, etcd_user,
 * etcd_password_file (PKIDIR_ETCD_KEYS slots; static storage). A file that cannot be read or parsed sets nothing (the
 * directory resolution reports it when it uses the file). Returns 0. */
int pkidir_config_etcd(const char **vals);

#endif
