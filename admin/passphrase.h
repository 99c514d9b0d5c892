/* The CA key's passphrase: from a file, $MQADMIN_PASSPHRASE_FILE, or a
 * prompt without echo on the terminal. */
#ifndef ADMIN_PASSPHRASE_H
#define ADMIN_PASSPHRASE_H

#include <stddef.h>

#define PASSPHRASE_MAX 1024

/* Reads file into buf (one trailing newline removed); an empty passphrase
 * is refused. 0, or -1 after printing why. */
int passphrase_read_file(const char *file, char *buf, size_t len);

/* file if given, else $MQADMIN_PASSPHRASE_FILE, else a prompt when stdin
 * is a terminal. 0, or -1 after printing why. Wipe buf after use. */
int passphrase_get(const char *file, char *buf, size_t len);

#endif
