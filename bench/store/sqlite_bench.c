/* SQLite (WAL) candidate for the policy store (issue 15): the same records,
 * indexes and change log as lmdb_bench.c, in tables, measured the same way.
 * Prints "sqlite.<figure> <value>" lines for bench/store/run. */
#include "common.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *self_path;

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE devices(name TEXT PRIMARY KEY, username TEXT NOT NULL, json TEXT NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE UNIQUE INDEX devices_user ON devices(username);"
    "CREATE TABLE certs(fp BLOB PRIMARY KEY, serial BLOB NOT NULL UNIQUE,"
    " not_after INTEGER NOT NULL, name TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX certs_exp ON certs(not_after);"
    "CREATE TABLE rules(id INTEGER PRIMARY KEY, json TEXT NOT NULL);"
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE changelog(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL);";

enum { S_GETDEV, S_PUTDEV, S_DELCERT, S_PUTCERT, S_LOG, S_META_GET, S_META_PUT, S_N };
static const char *const sql[S_N] = {
	"SELECT json FROM devices WHERE name=?1",
	"INSERT OR REPLACE INTO devices(name, username, json) VALUES(?1, ?2, ?3)",
	"DELETE FROM certs WHERE fp=?1",
	"INSERT INTO certs(fp, serial, not_after, name) VALUES(?1, ?2, ?3, ?4)",
	"INSERT INTO changelog(kind, key) VALUES(?1, ?2)",
	"SELECT v FROM meta WHERE k=?1",
	"INSERT OR REPLACE INTO meta(k, v) VALUES(?1, ?2)",
};

struct st {
	sqlite3 *db;
	sqlite3_stmt *s[S_N];
};

#define CK(s, x)                                                                     \
	do {                                                                         \
		int rc_ = (x);                                                       \
		if (rc_ != SQLITE_OK && rc_ != SQLITE_DONE && rc_ != SQLITE_ROW)     \
			SB_DIE("%s:%d: %s: %s", __FILE__, __LINE__, #x, sqlite3_errmsg((s)->db)); \
	} while (0)

static void path_of(const char *dir, char *out, size_t sz)
{
	snprintf(out, sz, "%s/store.db", dir);
}

static void exec(struct st *s, const char *q)
{
	char *err = NULL;
	if (sqlite3_exec(s->db, q, NULL, NULL, &err) != SQLITE_OK)
		SB_DIE("%s: %s", q, err);
}

static void st_open(struct st *s, const char *dir, int rdonly)
{
	char p[4096];
	path_of(dir, p, sizeof p);
	memset(s, 0, sizeof *s);
	if (sqlite3_open_v2(p, &s->db,
			    rdonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK)
		SB_DIE("open %s: %s", p, sqlite3_errmsg(s->db));
	sqlite3_busy_timeout(s->db, 5000);
	if (!rdonly) {
		/* full durability: in WAL mode NORMAL may lose the last commits */
		exec(s, "PRAGMA synchronous=FULL");
		for (int k = 0; k < S_N; k++)
			if (sqlite3_prepare_v3(s->db, sql[k], -1, SQLITE_PREPARE_PERSISTENT, &s->s[k], NULL))
				break; /* before the schema exists; load prepares again */
	}
}

static void st_close(struct st *s)
{
	for (int k = 0; k < S_N; k++)
		sqlite3_finalize(s->s[k]);
	if (sqlite3_close(s->db) != SQLITE_OK)
		SB_DIE("close: %s", sqlite3_errmsg(s->db));
}

static void run(struct st *s, sqlite3_stmt *q)
{
	int rc = sqlite3_step(q);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		SB_DIE("%s: %s", sqlite3_sql(q), sqlite3_errmsg(s->db));
	sqlite3_reset(q);
}

static uint64_t meta_get(struct st *s, const char *k)
{
	sqlite3_stmt *q = s->s[S_META_GET];
	uint64_t v = 0;
	sqlite3_bind_text(q, 1, k, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return v;
}

static void meta_put(struct st *s, const char *k, uint64_t v)
{
	sqlite3_stmt *q = s->s[S_META_PUT];
	sqlite3_bind_text(q, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)v);
	run(s, q);
}

static void log_append(struct st *s, const char *kind, const char *key)
{
	sqlite3_stmt *q = s->s[S_LOG];
	sqlite3_bind_text(q, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, key, -1, SQLITE_TRANSIENT);
	run(s, q);
	meta_put(s, "seq", (uint64_t)sqlite3_last_insert_rowid(s->db));
}

static void add_device(struct st *s, uint64_t i, uint64_t g)
{
	char name[32], json[512];
	unsigned char fp[SB_FP_LEN], ser[SB_SERIAL_LEN];
	int n = sb_device_json(i, g, json, sizeof json);
	sqlite3_stmt *q;
	sb_name(i, name, sizeof name);
	sb_fp(i, g, fp);
	sb_serial(i, g, ser);
	q = s->s[S_PUTDEV];
	sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 3, json, n, SQLITE_TRANSIENT);
	run(s, q);
	q = s->s[S_PUTCERT];
	sqlite3_bind_blob(q, 1, fp, SB_FP_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_blob(q, 2, ser, SB_SERIAL_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 3, sb_not_after(i, g));
	sqlite3_bind_text(q, 4, name, -1, SQLITE_TRANSIENT);
	run(s, q);
}

static void change_device(struct st *s, uint64_t i, uint64_t g)
{
	char name[32], hex[80];
	unsigned char fp[SB_FP_LEN];
	sqlite3_stmt *q = s->s[S_GETDEV];
	sb_name(i, name, sizeof name);
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_ROW ||
	    sb_json_field((const char *)sqlite3_column_text(q, 0), (size_t)sqlite3_column_bytes(q, 0),
			  "fingerprint", hex, sizeof hex) ||
	    sb_unhex(hex, fp, SB_FP_LEN))
		SB_DIE("bad record for %s", name);
	sqlite3_reset(q);
	q = s->s[S_DELCERT];
	sqlite3_bind_blob(q, 1, fp, SB_FP_LEN, SQLITE_STATIC);
	run(s, q);
	add_device(s, i, g);
}

static int cmd_load(const char *dir, uint64_t n)
{
	struct st s;
	int64_t t0 = sb_now_ns();
	sqlite3_stmt *r;
	mkdir(dir, 0755);
	st_open(&s, dir, 0);
	exec(&s, schema);
	for (int k = 0; k < S_N; k++) {
		sqlite3_finalize(s.s[k]);
		if (sqlite3_prepare_v3(s.db, sql[k], -1, SQLITE_PREPARE_PERSISTENT, &s.s[k], NULL))
			SB_DIE("%s: %s", sql[k], sqlite3_errmsg(s.db));
	}
	for (uint64_t i = 0; i < n;) {
		exec(&s, "BEGIN IMMEDIATE");
		for (uint64_t e = i + 50000; i < n && i < e; i++)
			add_device(&s, i, 0);
		exec(&s, "COMMIT");
	}
	exec(&s, "BEGIN IMMEDIATE");
	if (sqlite3_prepare_v2(s.db, "INSERT INTO rules(id, json) VALUES(?1, ?2)", -1, &r, NULL))
		SB_DIE("prepare rules");
	for (int k = 1; k <= 100; k++) {
		char rule[160];
		snprintf(rule, sizeof rule,
			 "{\"id\":%d,\"subject\":\"group:fleet\",\"topic\":\"fleet/%%u/r%d/#\","
			 "\"access\":\"readwrite\",\"effect\":\"allow\"}", k, k);
		sqlite3_bind_int(r, 1, k);
		sqlite3_bind_text(r, 2, rule, -1, SQLITE_TRANSIENT);
		run(&s, r);
	}
	sqlite3_finalize(r);
	meta_put(&s, "version", 2);
	meta_put(&s, "generation", 1);
	meta_put(&s, "crl_number", 1);
	meta_put(&s, "devices", n);
	log_append(&s, "I", "import");
	exec(&s, "COMMIT");
	st_close(&s);
	printf("sqlite.load_s %.2f\n", (double)(sb_now_ns() - t0) / 1e9);
	return 0;
}

static void one_write(const char *dir, uint64_t n, uint64_t i)
{
	struct st s;
	char name[32];
	st_open(&s, dir, 0);
	exec(&s, "BEGIN IMMEDIATE");
	/* never one of the crash test's set */
	i = SB_BATCH_SET + i % (n - SB_BATCH_SET);
	sb_name(i, name, sizeof name);
	change_device(&s, i, meta_get(&s, "seq") + 1);
	meta_put(&s, "generation", meta_get(&s, "generation") + 1);
	log_append(&s, "D", name);
	exec(&s, "COMMIT");
	st_close(&s);
}

static int cmd_write(const char *dir, uint64_t n, int count)
{
	int64_t *lat = calloc((size_t)count, sizeof *lat);
	struct st broker; /* a reader stays open, as the broker's does */
	st_open(&broker, dir, 1);
	srand48(42);
	for (int k = 0; k < count; k++) {
		int64_t t0 = sb_now_ns();
		one_write(dir, n, (uint64_t)lrand48());
		lat[k] = sb_now_ns() - t0;
	}
	printf("sqlite.write_p50_ms %.2f\n", (double)sb_pct(lat, (size_t)count, 50) / 1e6);
	printf("sqlite.write_p99_ms %.2f\n", (double)sb_pct(lat, (size_t)count, 99) / 1e6);
	st_close(&broker);
	free(lat);
	return 0;
}

static int cmd_batch(const char *dir, uint64_t n)
{
	int64_t lat[3];
	struct st broker;
	st_open(&broker, dir, 1);
	for (int r = 0; r < 3; r++) {
		struct st s;
		int64_t t0 = sb_now_ns();
		st_open(&s, dir, 0);
		exec(&s, "BEGIN IMMEDIATE");
		for (uint64_t i = n + 1000 * (uint64_t)r; i < n + 1000 * (uint64_t)(r + 1); i++) {
			char name[32];
			sb_name(i, name, sizeof name);
			add_device(&s, i, 0);
			log_append(&s, "D", name);
		}
		meta_put(&s, "generation", meta_get(&s, "generation") + 1);
		exec(&s, "COMMIT");
		st_close(&s);
		lat[r] = sb_now_ns() - t0;
	}
	st_close(&broker);
	printf("sqlite.batch1000_ms %.1f\n", (double)sb_pct(lat, 3, 50) / 1e6);
	return 0;
}

struct rd {
	struct st s;
	sqlite3_stmt *lookup, *log, *dev;
};

static void prep(struct rd *r, const char *q, sqlite3_stmt **out)
{
	if (sqlite3_prepare_v3(r->s.db, q, -1, SQLITE_PREPARE_PERSISTENT, out, NULL))
		SB_DIE("%s: %s", q, sqlite3_errmsg(r->s.db));
}

static size_t lookup(struct rd *r, const unsigned char *fp, unsigned *sum)
{
	size_t len = 0;
	sqlite3_bind_blob(r->lookup, 1, fp, SB_FP_LEN, SQLITE_STATIC);
	if (sqlite3_step(r->lookup) == SQLITE_ROW) {
		const unsigned char *j = sqlite3_column_text(r->lookup, 0);
		len = (size_t)sqlite3_column_bytes(r->lookup, 0);
		for (size_t k = 0; k < len; k += 64)
			*sum += j[k];
	}
	sqlite3_reset(r->lookup);
	return len;
}

static int tick(struct rd *r, uint64_t *applied, unsigned *sum)
{
	int n = 0;
	sqlite3_bind_int64(r->log, 1, (sqlite3_int64)*applied);
	while (sqlite3_step(r->log) == SQLITE_ROW) {
		*applied = (uint64_t)sqlite3_column_int64(r->log, 0);
		if (sqlite3_column_text(r->log, 1)[0] == 'D') {
			sqlite3_bind_text(r->dev, 1, (const char *)sqlite3_column_text(r->log, 2), -1,
					  SQLITE_TRANSIENT);
			if (sqlite3_step(r->dev) == SQLITE_ROW)
				*sum += sqlite3_column_text(r->dev, 0)[0];
			sqlite3_reset(r->dev);
		}
		n++;
	}
	sqlite3_reset(r->log);
	return n;
}

static int cmd_read(const char *dir, uint64_t n)
{
	struct rd r;
	struct sb_mem m0, m1;
	enum { L = 10000, TK = 10000, CH = 20 };
	static int64_t lat[L], tk[TK], ch[CH];
	unsigned sum = 0;
	uint64_t applied = 0;
	int miss = 0, th_open, th_end;
	int64_t t0;

	sb_mem(dir, &m0);
	t0 = sb_now_ns();
	st_open(&r.s, dir, 1);
	prep(&r, "SELECT d.json FROM certs c JOIN devices d ON d.name = c.name WHERE c.fp = ?1",
	     &r.lookup);
	prep(&r, "SELECT seq, kind, key FROM changelog WHERE seq > ?1 ORDER BY seq", &r.log);
	prep(&r, "SELECT json FROM devices WHERE name = ?1", &r.dev);
	/* a first statement reads the schema: part of being ready */
	tick(&r, &applied, &sum);
	printf("sqlite.open_ms %.3f\n", (double)(sb_now_ns() - t0) / 1e6);
	th_open = sb_threads();

	srand48(7);
	/* pass 0 faults the pages in, pass 1 repeats the same lookups: warm */
	for (int pass = 0; pass < 2; pass++, srand48(7))
		for (int k = 0; k < L; k++) {
			unsigned char fp[SB_FP_LEN];
			sb_fp((uint64_t)lrand48() % n, 0, fp);
			t0 = sb_now_ns();
			if (!lookup(&r, fp, &sum) && pass)
				miss++;
			lat[k] = sb_now_ns() - t0;
		}
	printf("sqlite.lookup_p50_ns %lld\n", (long long)sb_pct(lat, L, 50));
	printf("sqlite.lookup_p99_ns %lld\n", (long long)sb_pct(lat, L, 99));
	printf("sqlite.lookup_misses %d\n", miss);
	sb_mem(dir, &m1);
	printf("sqlite.mem_anon_kb %ld\n", m1.anon - m0.anon);
	printf("sqlite.mem_private_dirty_kb %ld\n", m1.priv_dirty - m0.priv_dirty);
	printf("sqlite.mem_private_clean_kb %ld\n", m1.priv_clean - m0.priv_clean);
	printf("sqlite.mem_store_map_rss_kb %ld\n", m1.db_rss);

	for (int k = 0; k < TK; k++) {
		t0 = sb_now_ns();
		if (tick(&r, &applied, &sum))
			SB_DIE("tick saw a change nobody made");
		tk[k] = sb_now_ns() - t0;
	}
	printf("sqlite.tick_idle_p50_ns %lld\n", (long long)sb_pct(tk, TK, 50));
	printf("sqlite.tick_idle_p99_ns %lld\n", (long long)sb_pct(tk, TK, 99));
	for (int k = 0; k < CH; k++) {
		char cmd[4096];
		snprintf(cmd, sizeof cmd, "%s write1 %s %llu %d", self_path, dir,
			 (unsigned long long)n, k + 1000);
		if (system(cmd))
			SB_DIE("write1 failed");
		t0 = sb_now_ns();
		if (tick(&r, &applied, &sum) != 1)
			SB_DIE("tick did not see exactly one change");
		ch[k] = sb_now_ns() - t0;
	}
	printf("sqlite.tick_one_p50_ns %lld\n", (long long)sb_pct(ch, CH, 50));
	printf("sqlite.tick_one_max_ns %lld\n", (long long)sb_pct(ch, CH, 100));
	th_end = sb_threads();
	printf("sqlite.threads %d/%d\n", th_open, th_end);
	sqlite3_finalize(r.lookup);
	sqlite3_finalize(r.log);
	sqlite3_finalize(r.dev);
	st_close(&r.s);
	return sum == 0xdeadbeef;
}

static int cmd_stream(const char *dir)
{
	struct st s;
	sqlite3_stmt *q;
	uint64_t cnt = 0;
	int64_t t0 = 0;
	FILE *out = fopen("/dev/null", "w");
	st_open(&s, dir, 1);
	if (sqlite3_prepare_v2(s.db, "SELECT json FROM devices ORDER BY name", -1, &q, NULL))
		SB_DIE("prepare stream");
	for (int pass = 0; pass < 2; pass++) {
		cnt = 0;
		t0 = sb_now_ns();
		fputc('[', out);
		while (sqlite3_step(q) == SQLITE_ROW) {
			if (cnt++)
				fputs(",\n", out);
			fwrite(sqlite3_column_text(q, 0), 1, (size_t)sqlite3_column_bytes(q, 0), out);
		}
		fputs("]\n", out);
		fflush(out);
		sqlite3_reset(q);
	}
	printf("sqlite.stream_per_s %.0f\n", (double)cnt / ((double)(sb_now_ns() - t0) / 1e9));
	sqlite3_finalize(q);
	fclose(out);
	st_close(&s);
	return 0;
}

static int cmd_expiring(const char *dir)
{
	struct st s;
	sqlite3_stmt *q;
	uint64_t cnt = 0;
	int64_t t0;
	st_open(&s, dir, 1);
	t0 = sb_now_ns();
	if (sqlite3_prepare_v2(s.db,
			       "SELECT name, fp FROM certs WHERE not_after BETWEEN ?1 AND ?2 ORDER BY not_after",
			       -1, &q, NULL))
		SB_DIE("prepare expiring");
	sqlite3_bind_int64(q, 1, SB_T0);
	sqlite3_bind_int64(q, 2, SB_T0 + 30 * 86400);
	while (sqlite3_step(q) == SQLITE_ROW)
		cnt++;
	sqlite3_finalize(q);
	printf("sqlite.expiring30_ms %.1f\n", (double)(sb_now_ns() - t0) / 1e6);
	printf("sqlite.expiring30_count %llu\n", (unsigned long long)cnt);
	st_close(&s);
	return 0;
}

static int cmd_crashloop(const char *dir)
{
	struct st s;
	st_open(&s, dir, 0);
	for (;;) {
		uint64_t g;
		exec(&s, "BEGIN IMMEDIATE");
		g = meta_get(&s, "set_gen") + 1;
		for (uint64_t i = 0; i < SB_BATCH_SET; i++) {
			char name[32];
			sb_name(i, name, sizeof name);
			change_device(&s, i, g);
			log_append(&s, "D", name);
		}
		meta_put(&s, "set_gen", g);
		exec(&s, "COMMIT");
	}
	return 0;
}

static int64_t one_int(struct st *s, const char *q)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL))
		SB_DIE("%s: %s", q, sqlite3_errmsg(s->db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int check(struct st *s, uint64_t n, uint64_t *gen_out)
{
	sqlite3_stmt *dev, *fpq;
	int bad = 0;
	int64_t g, seq;
	exec(s, "BEGIN");
	g = one_int(s, "SELECT v FROM meta WHERE k='set_gen'");
	if (g < 0)
		g = 0;
	seq = one_int(s, "SELECT v FROM meta WHERE k='seq'");
	if (sqlite3_prepare_v2(s->db, "SELECT json FROM devices WHERE name=?1", -1, &dev, NULL) ||
	    sqlite3_prepare_v2(s->db, "SELECT name FROM certs WHERE fp=?1", -1, &fpq, NULL))
		SB_DIE("prepare check");
	for (uint64_t i = 0; i < SB_BATCH_SET; i++) {
		char name[32], hex[80], want[80];
		unsigned char fp[SB_FP_LEN];
		sb_name(i, name, sizeof name);
		sb_fp(i, (uint64_t)g, fp);
		sb_hex(fp, SB_FP_LEN, want);
		sqlite3_bind_text(dev, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_blob(fpq, 1, fp, SB_FP_LEN, SQLITE_STATIC);
		if (sqlite3_step(dev) != SQLITE_ROW ||
		    sb_json_field((const char *)sqlite3_column_text(dev, 0),
				  (size_t)sqlite3_column_bytes(dev, 0), "fingerprint", hex, sizeof hex) ||
		    strcmp(hex, want) || sqlite3_step(fpq) != SQLITE_ROW ||
		    strcmp((const char *)sqlite3_column_text(fpq, 0), name))
			bad++;
		sqlite3_reset(dev);
		sqlite3_reset(fpq);
	}
	sqlite3_finalize(dev);
	sqlite3_finalize(fpq);
	if (one_int(s, "SELECT count(*) FROM certs") != (int64_t)n ||
	    one_int(s, "SELECT count(*) FROM certs INDEXED BY certs_exp WHERE not_after > 0") != (int64_t)n ||
	    one_int(s, "SELECT max(seq) FROM changelog") != seq)
		bad++;
	exec(s, "COMMIT");
	*gen_out = (uint64_t)g;
	return bad;
}

static int cmd_crash(const char *dir, uint64_t n, int kills)
{
	struct st live;
	int bad = 0, fresh_bad = 0;
	uint64_t g0, g = 0;
	srand48(getpid());
	st_open(&live, dir, 1);
	bad += check(&live, n, &g0);
	g = g0;
	for (int k = 0; k < kills; k++) {
		pid_t p = fork();
		if (p == 0) {
			execl(self_path, self_path, "crashloop", dir, (char *)NULL);
			_exit(127);
		}
		usleep((useconds_t)(5000 + lrand48() % 295000));
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
		bad += check(&live, n, &g) ? 1 : 0;
		if (k % 10 == 9) {
			struct st fresh;
			uint64_t fg;
			st_open(&fresh, dir, 1);
			fresh_bad += check(&fresh, n, &fg) ? 1 : 0;
			st_close(&fresh);
		}
	}
	st_close(&live);
	printf("sqlite.crash_kills %d\n", kills);
	printf("sqlite.crash_inconsistent %d\n", bad + fresh_bad);
	printf("sqlite.crash_commits_between_kills %llu\n", (unsigned long long)(g - g0));
	return bad + fresh_bad != 0;
}

int main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc >= 4 && !strcmp(argv[1], "load"))
		return cmd_load(argv[2], strtoull(argv[3], NULL, 10));
	if (argc >= 4 && !strcmp(argv[1], "read"))
		return cmd_read(argv[2], strtoull(argv[3], NULL, 10));
	if (argc >= 5 && !strcmp(argv[1], "write"))
		return cmd_write(argv[2], strtoull(argv[3], NULL, 10), atoi(argv[4]));
	if (argc >= 5 && !strcmp(argv[1], "write1")) {
		one_write(argv[2], strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "batch"))
		return cmd_batch(argv[2], strtoull(argv[3], NULL, 10));
	if (argc >= 3 && !strcmp(argv[1], "stream"))
		return cmd_stream(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "expiring"))
		return cmd_expiring(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "crashloop"))
		return cmd_crashloop(argv[2]);
	if (argc >= 5 && !strcmp(argv[1], "crash"))
		return cmd_crash(argv[2], strtoull(argv[3], NULL, 10), atoi(argv[4]));
	fprintf(stderr, "usage: sqlite_bench load|read|write|write1|batch|stream|expiring|crash DIR [N] [COUNT]\n");
	return 2;
}
