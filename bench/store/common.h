/* Shared by lmdb_bench.c and sqlite_bench.c: the synthetic fleet (records
 * shaped like policy.json's devices), timing, percentiles and the memory and
 * thread probes, so both candidates are measured on identical data. */
#ifndef STOREBENCH_COMMON_H
#define STOREBENCH_COMMON_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SB_FP_LEN 32     /* SHA-256 fingerprint, binary */
#define SB_SERIAL_LEN 16 /* 128-bit serial, binary */
#define SB_BATCH_SET 1000 /* devices a crash-loop transaction rewrites */
#define SB_T0 1796169600 /* 2026-12-01T00:00:00Z */

static inline uint64_t sb_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Fingerprint of device i's certificate number g: random-looking, so index
 * inserts land all over the B+tree as real SHA-256 values do. */
static inline void sb_fp(uint64_t i, uint64_t g, unsigned char out[SB_FP_LEN])
{
	for (int k = 0; k < 4; k++) {
		uint64_t v = sb_mix(i * 0x100000001b3ULL ^ (g << 40) ^ (uint64_t)k << 56);
		memcpy(out + 8 * k, &v, 8);
	}
}

static inline void sb_serial(uint64_t i, uint64_t g, unsigned char out[SB_SERIAL_LEN])
{
	for (int k = 0; k < 2; k++) {
		uint64_t v = sb_mix(~(i * 0x9e3779b1ULL) ^ (g << 40) ^ (uint64_t)k << 60);
		memcpy(out + 8 * k, &v, 8);
	}
}

static inline void sb_hex(const unsigned char *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t k = 0; k < n; k++) {
		out[2 * k] = d[b[k] >> 4];
		out[2 * k + 1] = d[b[k] & 15];
	}
	out[2 * n] = 0;
}

static inline int sb_unhex(const char *s, unsigned char *out, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		unsigned v;
		if (sscanf(s + 2 * k, "%2x", &v) != 1)
			return -1;
		out[k] = (unsigned char)v;
	}
	return 0;
}

static inline void sb_name(uint64_t i, char *out, size_t sz)
{
	snprintf(out, sz, "dev%07llu", (unsigned long long)i);
}

/* Certificates expire spread over a year from SB_T0. */
static inline int64_t sb_not_after(uint64_t i, uint64_t g)
{
	return SB_T0 + 86400 * 7 + (int64_t)(sb_mix(i ^ (g << 32)) % (365ULL * 86400));
}

static inline void sb_iso(int64_t t, char *out, size_t sz)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The device as policy.json holds it today (one certificate, two groups),
 * compact: ~330 bytes. */
static inline int sb_device_json(uint64_t i, uint64_t g, char *buf, size_t sz)
{
	char name[32], fph[2 * SB_FP_LEN + 1], serh[2 * SB_SERIAL_LEN + 1];
	char nb[32], na[32], cr[32];
	unsigned char fp[SB_FP_LEN], ser[SB_SERIAL_LEN];
	int64_t exp = sb_not_after(i, g);

	sb_name(i, name, sizeof name);
	sb_fp(i, g, fp);
	sb_serial(i, g, ser);
	sb_hex(fp, SB_FP_LEN, fph);
	sb_hex(ser, SB_SERIAL_LEN, serh);
	sb_iso(exp - 365 * 86400 - 300, nb, sizeof nb);
	sb_iso(exp, na, sizeof na);
	sb_iso(SB_T0, cr, sizeof cr);
	return snprintf(buf, sz,
	    "{\"name\":\"%s\",\"username\":\"%s\",\"groups\":[\"fleet\",\"sensors\"],"
	    "\"created\":\"%s\",\"certs\":[{\"serial\":\"%s\",\"fingerprint\":\"%s\","
	    "\"not_before\":\"%s\",\"not_after\":\"%s\",\"status\":\"active\"}]}",
	    name, name, cr, serh, fph, nb, na);
}

/* The writer reads the old record back to find the index entries to drop. */
static inline int sb_json_field(const char *json, size_t len, const char *field, char *out, size_t sz)
{
	char pat[64];
	const char *p, *e;
	int n = snprintf(pat, sizeof pat, "\"%s\":\"", field);
	p = memmem(json, len, pat, (size_t)n);
	if (!p)
		return -1;
	p += n;
	e = memchr(p, '"', len - (size_t)(p - json));
	if (!e || (size_t)(e - p) >= sz)
		return -1;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = 0;
	return 0;
}

static inline int64_t sb_parse_iso(const char *s)
{
	struct tm tm = { 0 };
	if (sscanf(s, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

static inline void sb_be64(uint64_t v, unsigned char out[8])
{
	for (int k = 7; k >= 0; k--, v >>= 8)
		out[k] = (unsigned char)v;
}

static inline uint64_t sb_get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int k = 0; k < 8; k++)
		v = v << 8 | p[k];
	return v;
}

static inline int64_t sb_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int sb_cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Sorts v in place; returns the p-th percentile (nearest rank). */
static inline int64_t sb_pct(int64_t *v, size_t n, double p)
{
	size_t k;
	qsort(v, n, sizeof *v, sb_cmp64);
	k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static inline int sb_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

struct sb_mem {
	long anon, priv_dirty, priv_clean, rss; /* kB, smaps_rollup */
	long db_rss;                            /* kB, mappings of files under the store dir */
};

/* smaps_rollup for the totals; smaps for how much of Rss is the store's own
 * file mappings (page cache shared with every other process). */
static inline void sb_mem(const char *dir, struct sb_mem *m)
{
	char line[512];
	FILE *f;
	int in_db = 0;

	memset(m, 0, sizeof *m);
	if ((f = fopen("/proc/self/smaps_rollup", "r"))) {
		while (fgets(line, sizeof line, f)) {
			sscanf(line, "Anonymous: %ld", &m->anon);
			sscanf(line, "Private_Dirty: %ld", &m->priv_dirty);
			sscanf(line, "Private_Clean: %ld", &m->priv_clean);
			sscanf(line, "Rss: %ld", &m->rss);
		}
		fclose(f);
	}
	if ((f = fopen("/proc/self/smaps", "r"))) {
		while (fgets(line, sizeof line, f)) {
			long v;
			unsigned long a, b;
			char perms[8];
			if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) == 3) {
				in_db = strstr(line, dir) != NULL;
				continue;
			}
			if (in_db && sscanf(line, "Rss: %ld", &v) == 1)
				m->db_rss += v;
		}
		fclose(f);
	}
}

#define SB_DIE(...)                                    \
	do {                                           \
		fprintf(stderr, "storebench: " __VA_ARGS__); \
		fputc('\n', stderr);                   \
		exit(1);                               \
	} while (0)

#endif
