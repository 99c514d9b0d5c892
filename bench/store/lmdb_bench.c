/* LMDB candidate for the policy store (issue 15): the layout docs/STORE.md
 * describes, loaded with a synthetic fleet and measured as mqadmin (writer)
 * and the plugin (reader) would use it. Prints "lmdb.<figure> <value>" lines
 * that bench/store/run turns into a table. */
#include "common.h"

#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { DB_DEV, DB_FP, DB_USER, DB_SERIAL, DB_EXP, DB_RULES, DB_META, DB_LOG, DB_N };
static const char *const db_names[DB_N] = { "devices", "by_fp", "by_user", "by_serial",
					    "expiry", "rules", "meta", "log" };

struct st {
	MDB_env *env;
	MDB_dbi dbi[DB_N];
};

static const char *self_path;

#define CK(x)                                                                       \
	do {                                                                        \
		int rc_ = (x);                                                      \
		if (rc_)                                                            \
			SB_DIE("%s:%d: %s: %s", __FILE__, __LINE__, #x, mdb_strerror(rc_)); \
	} while (0)

static void st_open(struct st *s, const char *dir, int rdonly)
{
	MDB_txn *t;
	CK(mdb_env_create(&s->env));
	CK(mdb_env_set_maxdbs(s->env, DB_N));
	if (!rdonly)
		CK(mdb_env_set_mapsize(s->env, (size_t)16 << 30));
	/* MDB_NOTLS: reader slots belong to transactions, not threads; the
	 * plugin renews one read transaction per event. */
	CK(mdb_env_open(s->env, dir,
			MDB_NOTLS | (rdonly ? MDB_RDONLY : 0) |
			    (rdonly && getenv("SB_NORDAHEAD") ? MDB_NORDAHEAD : 0),
			0644));
	CK(mdb_txn_begin(s->env, NULL, rdonly ? MDB_RDONLY : 0, &t));
	for (int k = 0; k < DB_N; k++)
		CK(mdb_dbi_open(t, db_names[k], rdonly ? 0 : MDB_CREATE, &s->dbi[k]));
	CK(mdb_txn_commit(t));
}

static void put(MDB_txn *t, MDB_dbi d, const void *k, size_t kl, const void *v, size_t vl)
{
	MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };
	CK(mdb_put(t, d, &key, &val, 0));
}

static void del(MDB_txn *t, MDB_dbi d, const void *k, size_t kl)
{
	MDB_val key = { kl, (void *)k };
	CK(mdb_del(t, d, &key, NULL));
}

static uint64_t meta_get(MDB_txn *t, struct st *s, const char *k)
{
	MDB_val key = { strlen(k), (void *)k }, val;
	if (mdb_get(t, s->dbi[DB_META], &key, &val) || val.mv_size != 8)
		return 0;
	return sb_get_be64(val.mv_data);
}

static void meta_put(MDB_txn *t, struct st *s, const char *k, uint64_t v)
{
	unsigned char b[8];
	sb_be64(v, b);
	put(t, s->dbi[DB_META], k, strlen(k), b, 8);
}

/* Appends one change-log entry (seq -> kind byte + key) and bumps the
 * sequence kept in meta; returns the new sequence. */
static uint64_t log_append(MDB_txn *t, struct st *s, char kind, const char *key)
{
	uint64_t seq = meta_get(t, s, "seq") + 1;
	unsigned char k[8], v[80];
	size_t kl = strlen(key);
	sb_be64(seq, k);
	v[0] = (unsigned char)kind;
	memcpy(v + 1, key, kl);
	put(t, s->dbi[DB_LOG], k, 8, v, kl + 1);
	meta_put(t, s, "seq", seq);
	return seq;
}

static void exp_key(int64_t t, const unsigned char *fp, unsigned char out[8 + SB_FP_LEN])
{
	sb_be64((uint64_t)t, out);
	memcpy(out + 8, fp, SB_FP_LEN);
}

static void add_device(MDB_txn *t, struct st *s, uint64_t i, uint64_t g)
{
	char name[32], json[512];
	unsigned char fp[SB_FP_LEN], ser[SB_SERIAL_LEN], ek[8 + SB_FP_LEN];
	int n = sb_device_json(i, g, json, sizeof json);
	size_t nl;
	sb_name(i, name, sizeof name);
	nl = strlen(name);
	sb_fp(i, g, fp);
	sb_serial(i, g, ser);
	exp_key(sb_not_after(i, g), fp, ek);
	put(t, s->dbi[DB_DEV], name, nl, json, (size_t)n);
	put(t, s->dbi[DB_FP], fp, SB_FP_LEN, name, nl);
	put(t, s->dbi[DB_USER], name, nl, name, nl);
	put(t, s->dbi[DB_SERIAL], ser, SB_SERIAL_LEN, fp, SB_FP_LEN);
	put(t, s->dbi[DB_EXP], ek, sizeof ek, name, nl);
}

/* A renewal: device i gets certificate g. Reads the old record to drop its
 * index entries, as mqadmin would. */
static void change_device(MDB_txn *t, struct st *s, uint64_t i, uint64_t g)
{
	char name[32], hex[80], na[40];
	unsigned char fp[SB_FP_LEN], ser[SB_SERIAL_LEN], ek[8 + SB_FP_LEN];
	MDB_val key, val;
	sb_name(i, name, sizeof name);
	key.mv_size = strlen(name);
	key.mv_data = name;
	CK(mdb_get(t, s->dbi[DB_DEV], &key, &val));
	if (sb_json_field(val.mv_data, val.mv_size, "fingerprint", hex, sizeof hex) ||
	    sb_unhex(hex, fp, SB_FP_LEN) ||
	    sb_json_field(val.mv_data, val.mv_size, "serial", hex, sizeof hex) ||
	    sb_unhex(hex, ser, SB_SERIAL_LEN) ||
	    sb_json_field(val.mv_data, val.mv_size, "not_after", na, sizeof na))
		SB_DIE("bad record for %s", name);
	exp_key(sb_parse_iso(na), fp, ek);
	del(t, s->dbi[DB_FP], fp, SB_FP_LEN);
	del(t, s->dbi[DB_SERIAL], ser, SB_SERIAL_LEN);
	del(t, s->dbi[DB_EXP], ek, sizeof ek);
	add_device(t, s, i, g);
}

static int cmd_load(const char *dir, uint64_t n)
{
	struct st s;
	int64_t t0 = sb_now_ns();
	mkdir(dir, 0755);
	st_open(&s, dir, 0);
	for (uint64_t i = 0; i < n;) {
		MDB_txn *t;
		CK(mdb_txn_begin(s.env, NULL, 0, &t));
		for (uint64_t e = i + 50000; i < n && i < e; i++)
			add_device(t, &s, i, 0);
		if (i == n) {
			for (uint64_t r = 1; r <= 100; r++) {
				char rule[160];
				unsigned char k[8];
				int rl = snprintf(rule, sizeof rule,
				    "{\"id\":%llu,\"subject\":\"group:fleet\",\"topic\":\"fleet/%%u/r%llu/#\","
				    "\"access\":\"readwrite\",\"effect\":\"allow\"}",
				    (unsigned long long)r, (unsigned long long)r);
				sb_be64(r, k);
				put(t, s.dbi[DB_RULES], k, 8, rule, (size_t)rl);
			}
			meta_put(t, &s, "version", 2);
			meta_put(t, &s, "generation", 1);
			meta_put(t, &s, "crl_number", 1);
			meta_put(t, &s, "devices", n);
			log_append(t, &s, 'I', "import"); /* one entry: everything changed */
		}
		CK(mdb_txn_commit(t));
	}
	mdb_env_close(s.env);
	printf("lmdb.load_s %.2f\n", (double)(sb_now_ns() - t0) / 1e9);
	return 0;
}

/* One mqadmin command: open, one durable write transaction, close. */
static void one_write(const char *dir, uint64_t n, uint64_t i)
{
	struct st s;
	MDB_txn *t;
	char name[32];
	st_open(&s, dir, 0);
	CK(mdb_txn_begin(s.env, NULL, 0, &t));
	/* never one of the crash test's set */
	i = SB_BATCH_SET + i % (n - SB_BATCH_SET);
	sb_name(i, name, sizeof name);
	change_device(t, &s, i, meta_get(t, &s, "seq") + 1);
	meta_put(t, &s, "generation", meta_get(t, &s, "generation") + 1);
	log_append(t, &s, 'D', name);
	CK(mdb_txn_commit(t));
	mdb_env_close(s.env);
}

static int cmd_write(const char *dir, uint64_t n, int count)
{
	int64_t *lat = calloc((size_t)count, sizeof *lat);
	srand48(42);
	for (int k = 0; k < count; k++) {
		int64_t t0 = sb_now_ns();
		one_write(dir, n, (uint64_t)lrand48());
		lat[k] = sb_now_ns() - t0;
	}
	printf("lmdb.write_p50_ms %.2f\n", (double)sb_pct(lat, (size_t)count, 50) / 1e6);
	printf("lmdb.write_p99_ms %.2f\n", (double)sb_pct(lat, (size_t)count, 99) / 1e6);
	free(lat);
	return 0;
}

static int cmd_batch(const char *dir, uint64_t n)
{
	int64_t lat[3];
	for (int r = 0; r < 3; r++) {
		struct st s;
		MDB_txn *t;
		int64_t t0 = sb_now_ns();
		st_open(&s, dir, 0);
		CK(mdb_txn_begin(s.env, NULL, 0, &t));
		for (uint64_t i = n + 1000 * (uint64_t)r; i < n + 1000 * (uint64_t)(r + 1); i++) {
			char name[32];
			sb_name(i, name, sizeof name);
			add_device(t, &s, i, 0);
			log_append(t, &s, 'D', name);
		}
		meta_put(t, &s, "generation", meta_get(t, &s, "generation") + 1);
		CK(mdb_txn_commit(t));
		mdb_env_close(s.env);
		lat[r] = sb_now_ns() - t0;
	}
	printf("lmdb.batch1000_ms %.1f\n", (double)sb_pct(lat, 3, 50) / 1e6);
	return 0;
}

/* The plugin's CONNECT: fingerprint -> name -> record, in a renewed read
 * transaction. Returns the record length (0 if unknown). */
static size_t lookup(struct st *s, MDB_txn *t, const unsigned char *fp, unsigned *sum)
{
	MDB_val key = { SB_FP_LEN, (void *)fp }, name, rec;
	size_t len = 0;
	CK(mdb_txn_renew(t));
	if (mdb_get(t, s->dbi[DB_FP], &key, &name) == 0 &&
	    mdb_get(t, s->dbi[DB_DEV], &name, &rec) == 0) {
		/* touch the record as a parser would */
		for (size_t k = 0; k < rec.mv_size; k += 64)
			*sum += ((const unsigned char *)rec.mv_data)[k];
		len = rec.mv_size;
	}
	mdb_txn_reset(t);
	return len;
}

/* The plugin's TICK: entries after *applied, each looked up. Returns how
 * many were applied. */
static int tick(struct st *s, MDB_txn *t, MDB_cursor **c, uint64_t *applied, unsigned *sum)
{
	MDB_val key, val;
	unsigned char k[8];
	int n = 0, rc;
	CK(mdb_txn_renew(t));
	if (*c)
		CK(mdb_cursor_renew(t, *c));
	else
		CK(mdb_cursor_open(t, s->dbi[DB_LOG], c));
	rc = mdb_cursor_get(*c, &key, &val, MDB_LAST);
	if (rc == 0 && sb_get_be64(key.mv_data) > *applied) {
		sb_be64(*applied + 1, k);
		key.mv_size = 8;
		key.mv_data = k;
		for (rc = mdb_cursor_get(*c, &key, &val, MDB_SET_RANGE); rc == 0;
		     rc = mdb_cursor_get(*c, &key, &val, MDB_NEXT)) {
			MDB_val nk = { val.mv_size - 1, (char *)val.mv_data + 1 }, rec;
			if (((char *)val.mv_data)[0] == 'D' &&
			    mdb_get(t, s->dbi[DB_DEV], &nk, &rec) == 0)
				*sum += ((unsigned char *)rec.mv_data)[0];
			*applied = sb_get_be64(key.mv_data);
			n++;
		}
	}
	mdb_txn_reset(t);
	return n;
}

static int cmd_read(const char *dir, uint64_t n)
{
	struct st s;
	struct sb_mem m0, m1;
	MDB_txn *t;
	MDB_cursor *c = NULL;
	enum { L = 10000, TK = 10000, CH = 20 };
	static int64_t lat[L], tk[TK], ch[CH];
	unsigned sum = 0;
	uint64_t applied = 0;
	int miss = 0, th_open, th_end;
	int64_t t0;

	sb_mem(dir, &m0);
	t0 = sb_now_ns();
	st_open(&s, dir, 1);
	CK(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &t));
	mdb_txn_reset(t);
	printf("lmdb.open_ms %.3f\n", (double)(sb_now_ns() - t0) / 1e6);
	th_open = sb_threads();

	srand48(7);
	/* pass 0 faults the pages in, pass 1 repeats the same lookups: warm */
	for (int pass = 0; pass < 2; pass++, srand48(7))
		for (int k = 0; k < L; k++) {
			unsigned char fp[SB_FP_LEN];
			sb_fp((uint64_t)lrand48() % n, 0, fp);
			t0 = sb_now_ns();
			if (!lookup(&s, t, fp, &sum) && pass)
				miss++;
			lat[k] = sb_now_ns() - t0;
		}
	printf("lmdb.lookup_p50_ns %lld\n", (long long)sb_pct(lat, L, 50));
	printf("lmdb.lookup_p99_ns %lld\n", (long long)sb_pct(lat, L, 99));
	printf("lmdb.lookup_misses %d\n", miss);
	sb_mem(dir, &m1);
	printf("lmdb.mem_anon_kb %ld\n", m1.anon - m0.anon);
	printf("lmdb.mem_private_dirty_kb %ld\n", m1.priv_dirty - m0.priv_dirty);
	printf("lmdb.mem_private_clean_kb %ld\n", m1.priv_clean - m0.priv_clean);
	printf("lmdb.mem_store_map_rss_kb %ld\n", m1.db_rss);

	tick(&s, t, &c, &applied, &sum); /* catch up */
	for (int k = 0; k < TK; k++) {
		t0 = sb_now_ns();
		if (tick(&s, t, &c, &applied, &sum))
			SB_DIE("tick saw a change nobody made");
		tk[k] = sb_now_ns() - t0;
	}
	printf("lmdb.tick_idle_p50_ns %lld\n", (long long)sb_pct(tk, TK, 50));
	printf("lmdb.tick_idle_p99_ns %lld\n", (long long)sb_pct(tk, TK, 99));
	for (int k = 0; k < CH; k++) {
		char cmd[4096];
		snprintf(cmd, sizeof cmd, "%s write1 %s %llu %d", self_path, dir,
			 (unsigned long long)n, k + 1000);
		if (system(cmd))
			SB_DIE("write1 failed");
		t0 = sb_now_ns();
		if (tick(&s, t, &c, &applied, &sum) != 1)
			SB_DIE("tick did not see exactly one change");
		ch[k] = sb_now_ns() - t0;
	}
	printf("lmdb.tick_one_p50_ns %lld\n", (long long)sb_pct(ch, CH, 50));
	printf("lmdb.tick_one_max_ns %lld\n", (long long)sb_pct(ch, CH, 100));
	th_end = sb_threads();
	printf("lmdb.threads %d/%d\n", th_open, th_end);
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	mdb_env_close(s.env);
	return sum == 0xdeadbeef;
}

/* `device list --json`, streamed: cursor in key order to stdout. */
static int cmd_stream(const char *dir)
{
	struct st s;
	MDB_txn *t;
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t cnt = 0;
	int64_t t0;
	FILE *out = fopen("/dev/null", "w");
	st_open(&s, dir, 1);
	for (int pass = 0; pass < 2; pass++) { /* pass 0 warms the cache */
		cnt = 0;
		t0 = sb_now_ns();
		CK(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &t));
		CK(mdb_cursor_open(t, s.dbi[DB_DEV], &c));
		fputc('[', out);
		for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			if (cnt++)
				fputs(",\n", out);
			fwrite(v.mv_data, 1, v.mv_size, out);
		}
		fputs("]\n", out);
		fflush(out);
		mdb_cursor_close(c);
		mdb_txn_abort(t);
	}
	printf("lmdb.stream_per_s %.0f\n", (double)cnt / ((double)(sb_now_ns() - t0) / 1e9));
	fclose(out);
	mdb_env_close(s.env);
	return 0;
}

/* `expiring --within 30d`: a range scan of the expiry index. */
static int cmd_expiring(const char *dir)
{
	struct st s;
	MDB_txn *t;
	MDB_cursor *c;
	MDB_val k, v;
	unsigned char from[8];
	uint64_t cnt = 0;
	int64_t t0;
	st_open(&s, dir, 1);
	t0 = sb_now_ns();
	CK(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &t));
	CK(mdb_cursor_open(t, s.dbi[DB_EXP], &c));
	sb_be64(SB_T0, from);
	k.mv_size = 8;
	k.mv_data = from;
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if ((int64_t)sb_get_be64(k.mv_data) > SB_T0 + 30 * 86400)
			break;
		cnt++;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	printf("lmdb.expiring30_ms %.1f\n", (double)(sb_now_ns() - t0) / 1e6);
	printf("lmdb.expiring30_count %llu\n", (unsigned long long)cnt);
	mdb_env_close(s.env);
	return 0;
}

/* The crash test's victim: rewrites the same SB_BATCH_SET devices (new
 * certificate each: record + three index entries) plus a change-log entry
 * per device, one transaction after another, until killed. */
static int cmd_crashloop(const char *dir)
{
	struct st s;
	st_open(&s, dir, 0);
	for (;;) {
		MDB_txn *t;
		uint64_t g;
		CK(mdb_txn_begin(s.env, NULL, 0, &t));
		g = meta_get(t, &s, "set_gen") + 1;
		for (uint64_t i = 0; i < SB_BATCH_SET; i++) {
			char name[32];
			sb_name(i, name, sizeof name);
			change_device(t, &s, i, g);
			log_append(t, &s, 'D', name);
		}
		meta_put(t, &s, "set_gen", g);
		CK(mdb_txn_commit(t));
	}
}

/* Old or new, never a mix: every device of the set carries certificate
 * set_gen, and the indexes hold exactly one entry per device. */
static int check(struct st *s, uint64_t n, uint64_t *gen_out)
{
	MDB_txn *t;
	MDB_stat st;
	int bad = 0;
	uint64_t g, seq;
	MDB_cursor *c;
	MDB_val k, v;
	CK(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t));
	g = meta_get(t, s, "set_gen");
	seq = meta_get(t, s, "seq");
	for (uint64_t i = 0; i < SB_BATCH_SET; i++) {
		char name[32], hex[80], want[80];
		unsigned char fp[SB_FP_LEN];
		MDB_val key, val, fk = { SB_FP_LEN, fp };
		sb_name(i, name, sizeof name);
		sb_fp(i, g, fp);
		sb_hex(fp, SB_FP_LEN, want);
		key.mv_size = strlen(name);
		key.mv_data = name;
		if (mdb_get(t, s->dbi[DB_DEV], &key, &val) ||
		    sb_json_field(val.mv_data, val.mv_size, "fingerprint", hex, sizeof hex) ||
		    strcmp(hex, want) || mdb_get(t, s->dbi[DB_FP], &fk, &val) ||
		    val.mv_size != strlen(name) || memcmp(val.mv_data, name, val.mv_size))
			bad++;
	}
	for (int d = DB_FP; d <= DB_EXP; d++) {
		CK(mdb_stat(t, s->dbi[d], &st));
		if (st.ms_entries != n)
			bad++;
	}
	CK(mdb_cursor_open(t, s->dbi[DB_LOG], &c));
	if (mdb_cursor_get(c, &k, &v, MDB_LAST) || sb_get_be64(k.mv_data) != seq)
		bad++;
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	*gen_out = g;
	return bad;
}

static int cmd_crash(const char *dir, uint64_t n, int kills)
{
	struct st live; /* a long-lived reader, as the broker holds one */
	int bad = 0, fresh_bad = 0;
	uint64_t g0, g = 0, gens = 0;
	srand48(getpid());
	st_open(&live, dir, 1);
	bad += check(&live, n, &g0);
	for (int k = 0; k < kills; k++) {
		pid_t p = fork();
		if (p == 0) {
			execl(self_path, self_path, "crashloop", dir, (char *)NULL);
			_exit(127);
		}
		/* 5-300 ms: past open, then anywhere in a transaction or commit */
		usleep((useconds_t)(5000 + lrand48() % 295000));
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
		uint64_t before = g;
		bad += check(&live, n, &g) ? 1 : 0;
		if (g > before)
			gens += g - before;
		if (k % 10 == 9) {
			struct st fresh;
			uint64_t fg;
			st_open(&fresh, dir, 1);
			fresh_bad += check(&fresh, n, &fg) ? 1 : 0;
			mdb_env_close(fresh.env);
		}
	}
	mdb_env_close(live.env);
	printf("lmdb.crash_kills %d\n", kills);
	printf("lmdb.crash_inconsistent %d\n", bad + fresh_bad);
	printf("lmdb.crash_commits_between_kills %llu\n", (unsigned long long)(g - g0));
	return bad + fresh_bad != 0;
}

/* Reader crash: a reader killed inside a read transaction leaves its slot;
 * mdb_reader_check clears it. */
static int cmd_readercrash(const char *dir)
{
	struct st s;
	int dead = -1, fd[2];
	char c;
	pid_t p;
	/* Another process (the broker, or mqadmin) keeps the environment open
	 * while a reader dies; otherwise the next opener resets the table. */
	st_open(&s, dir, 1);
	if (pipe(fd))
		SB_DIE("pipe");
	p = fork();
	if (p == 0) {
		dup2(fd[1], 1);
		execl(self_path, self_path, "holdreader", dir, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	if (read(fd[0], &c, 1) != 1)
		SB_DIE("holdreader did not start");
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	CK(mdb_reader_check(s.env, &dead));
	printf("lmdb.stale_slots_cleared %d\n", dead);
	mdb_env_close(s.env);
	return 0;
}

static int cmd_holdreader(const char *dir)
{
	struct st r;
	MDB_txn *t;
	st_open(&r, dir, 1);
	CK(mdb_txn_begin(r.env, NULL, MDB_RDONLY, &t));
	if (write(1, "x", 1) != 1)
		return 1;
	pause();
	return 0;
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
	if (argc >= 3 && !strcmp(argv[1], "holdreader"))
		return cmd_holdreader(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "readercrash"))
		return cmd_readercrash(argv[2]);
	fprintf(stderr, "usage: lmdb_bench load|read|write|write1|batch|stream|expiring|crash|readercrash DIR [N] [COUNT]\n");
	return 2;
}
