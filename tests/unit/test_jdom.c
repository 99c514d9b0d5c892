/* The policy's JSON reader, one feature at a time: strings and escapes,
 * numbers, literals, nesting, duplicate member names, where an error is
 * (line and column) and the limits that keep a hostile file small. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mq_jdom.h"

/* ---- helpers ------------------------------------------------------------ */

struct parsed {
	char *buf;
	struct mq_jdom *doc;
	struct mq_jdom_error err;
};

/* Parses a private copy of s[0..len) (the reader writes into its buffer). */
static void parse_n(struct parsed *r, const char *s, size_t len, size_t max_bytes)
{
	r->buf = malloc(len + 1);
	assert_non_null(r->buf);
	memcpy(r->buf, s, len);
	r->doc = mq_jdom_parse(r->buf, len, max_bytes, &r->err);
}

static void parse(struct parsed *r, const char *s)
{
	parse_n(r, s, strlen(s), 0);
}

static void parsed_free(struct parsed *r)
{
	mq_jdom_free(r->doc);
	free(r->buf);
}

static const struct mq_jdom_node *root_of(struct parsed *r, const char *s)
{
	parse(r, s);
	if (!r->doc)
		fail_msg("refused %s: %lu:%lu: %s", s, r->err.line, r->err.column, r->err.msg);
	return mq_jdom_root(r->doc);
}

/* s must be refused at line:column with exactly msg. */
static void assert_refused(const char *s, unsigned long line, unsigned long column, const char *msg)
{
	struct parsed r;

	parse(&r, s);
	if (r.doc)
		fail_msg("accepted: %s", s);
	if (strcmp(r.err.msg, msg) || r.err.line != line || r.err.column != column)
		fail_msg("%s: got %lu:%lu: %s; want %lu:%lu: %s", s, r.err.line, r.err.column,
			 r.err.msg, line, column, msg);
	parsed_free(&r);
}

/* ---- strings ------------------------------------------------------------ */

static void jdom_strings_should_be_unescaped(void **state)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{ "\"plain\"", "plain" },
		{ "\"\"", "" },
		{ "\"q\\\"b\\\\s\\/\"", "q\"b\\s/" },
		{ "\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t" },
		{ "\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac" },
		{ "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80" },
		{ "\"caf\xc3\xa9\"", "caf\xc3\xa9" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct parsed r;
		const struct mq_jdom_node *n = root_of(&r, cases[i].json);

		assert_int_equal(n->type, MQ_JDOM_STRING);
		assert_string_equal(n->str, cases[i].want);
		parsed_free(&r);
	}
}

static void jdom_strings_should_refuse_what_json_forbids(void **state)
{
	assert_refused("\"abc", 1, 5, "unterminated string");
	assert_refused("\"abc\\", 1, 5, "unterminated string");
	assert_refused("\"ab\ncd\"", 1, 4, "unterminated string (the line ends inside it)");
	assert_refused("\"a\tb\"", 1, 3, "control character 0x09 in a string: write it as \\u0009");
	assert_refused("\"a\\xb\"", 1, 3, "invalid escape '\\x' in a string");
	assert_refused("\"a\\u12\"", 1, 3, "\\u must be followed by 4 hex digits");
	assert_refused("\"a\\u12g4\"", 1, 3, "\\u must be followed by 4 hex digits");
	/* A NUL would end the name early: "dev\u0000x" must not mean "dev". */
	assert_refused("\"dev\\u0000x\"", 1, 5, "\\u0000 is not allowed in a string");
	assert_refused("\"\\udc00\"", 1, 2, "unpaired UTF-16 surrogate \\udc00");
	assert_refused("\"\\ud800x\"", 1, 2, "unpaired UTF-16 surrogate \\ud800");
	assert_refused("\"\\ud800\\u0041\"", 1, 2, "unpaired UTF-16 surrogate \\ud800");
	assert_refused("'single'", 1, 1, "expected a value, found '''");
}

/* ---- numbers and literals ----------------------------------------------- */

static void jdom_numbers_should_follow_the_json_grammar(void **state)
{
	static const struct {
		const char *json;
		double want;
	} good[] = {
		{ "0", 0 }, { "-0", 0 }, { "7", 7 }, { "-12", -12 }, { "1.5", 1.5 },
		{ "2e3", 2000 }, { "2E+3", 2000 }, { "25e-2", 0.25 }, { "9007199254740991", 9007199254740991.0 },
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		struct parsed r;
		const struct mq_jdom_node *n = root_of(&r, good[i].json);

		assert_int_equal(n->type, MQ_JDOM_NUMBER);
		assert_true(n->num == good[i].want);
		parsed_free(&r);
	}
	assert_refused("-", 1, 2, "invalid number");
	assert_refused("1.", 1, 3, "invalid number");
	assert_refused("1e", 1, 3, "invalid number");
	assert_refused("1e+", 1, 4, "invalid number");
	assert_refused(".5", 1, 1, "expected a value, found '.'");
	assert_refused("+1", 1, 1, "expected a value, found '+'");
	assert_refused("01", 1, 2, "unexpected data after the document");
	assert_refused("0x10", 1, 2, "unexpected data after the document");
	assert_refused("[1 2]", 1, 4, "expected ',' or ']'");
}

static void jdom_literals_should_be_exact(void **state)
{
	struct parsed r;
	const struct mq_jdom_node *n = root_of(&r, "[true, false, null]");

	assert_int_equal(n->type, MQ_JDOM_ARRAY);
	assert_int_equal(n->count, 3);
	assert_int_equal(n->child->type, MQ_JDOM_TRUE);
	assert_int_equal(n->child->next->type, MQ_JDOM_FALSE);
	assert_int_equal(n->child->next->next->type, MQ_JDOM_NULL);
	assert_null(n->child->next->next->next);
	parsed_free(&r);
	assert_refused("tru", 1, 1, "expected a value (did you mean true?)");
	assert_refused("[True]", 1, 2, "expected a value, found 'T'");
	assert_refused("nul", 1, 1, "expected a value (did you mean null?)");
	assert_refused("falsey", 1, 6, "unexpected data after the document");
}

/* ---- whitespace and member lookup ----------------------------------------- */

static void jdom_whitespace_should_be_the_four_json_ones(void **state)
{
	struct parsed r;
	const struct mq_jdom_node *n = root_of(&r, " \t\r\n{ \"a\" :\t1 ,\n\"b\":[ ] }\r\n");

	assert_int_equal(n->type, MQ_JDOM_OBJECT);
	assert_int_equal(n->count, 2);
	parsed_free(&r);
	assert_refused("", 1, 1, "unexpected end of the file: expected a value");
	assert_refused("  \n ", 2, 2, "unexpected end of the file: expected a value");
	/* Vertical tab and form feed are not JSON whitespace. */
	assert_refused("\v1", 1, 1, "expected a value");
	assert_refused("\f1", 1, 1, "expected a value");
}

static void jdom_get_should_find_members_of_objects_only(void **state)
{
	struct parsed r;
	const struct mq_jdom_node *n = root_of(&r, "{\"a\": 1, \"list\": [\"a\"], \"s\": \"a\"}");
	const struct mq_jdom_node *list = mq_jdom_get(n, "list");

	assert_non_null(mq_jdom_get(n, "a"));
	assert_true(mq_jdom_get(n, "a")->num == 1);
	assert_null(mq_jdom_get(n, "A"));
	assert_null(mq_jdom_get(n, ""));
	assert_non_null(list);
	assert_null(mq_jdom_get(list, "a"));
	assert_null(mq_jdom_get(mq_jdom_get(n, "s"), "a"));
	assert_null(mq_jdom_get(NULL, "a"));
	parsed_free(&r);
}

/* ---- nesting -------------------------------------------------------------- */

static void jdom_containers_should_keep_order_counts_and_names(void **state)
{
	struct parsed r;
	const struct mq_jdom_node *n = root_of(&r, " {\"a\": [], \"b\": {}, \"c\": [1, [2, 3], {\"d\": \"e\"}]} ");
	const struct mq_jdom_node *c, *m;

	assert_int_equal(n->type, MQ_JDOM_OBJECT);
	assert_int_equal(n->count, 3);
	assert_string_equal(n->child->key, "a");
	assert_int_equal(mq_jdom_get(n, "a")->count, 0);
	assert_null(mq_jdom_get(n, "a")->child);
	assert_int_equal(mq_jdom_get(n, "b")->type, MQ_JDOM_OBJECT);
	c = mq_jdom_get(n, "c");
	assert_int_equal(c->count, 3);
	assert_null(c->child->key);
	assert_true(c->child->num == 1);
	assert_int_equal(c->child->next->count, 2);
	assert_true(c->child->next->child->next->num == 3);
	m = c->child->next->next;
	assert_string_equal(mq_jdom_get(m, "d")->str, "e");
	assert_null(mq_jdom_get(n, "d"));
	assert_null(mq_jdom_get(c, "a"));
	parsed_free(&r);
	assert_refused("{\"a\":1,}", 1, 8, "expected a member name in double quotes");
	assert_refused("[1,]", 1, 4, "expected a value, found ']'");
	assert_refused("{\"a\" 1}", 1, 6, "expected ':' after the member name");
	assert_refused("{a:1}", 1, 2, "expected a member name in double quotes");
	assert_refused("{\"a\":1", 1, 7, "unexpected end of the file: expected ',' or '}'");
	assert_refused("[", 1, 2, "unexpected end of the file: expected a value");
	assert_refused("{", 1, 2, "unexpected end of the file: expected a member name");
	assert_refused("", 1, 1, "unexpected end of the file: expected a value");
	assert_refused("  \n ", 2, 2, "unexpected end of the file: expected a value");
	assert_refused("{} {}", 1, 4, "unexpected data after the document");
}

/* Depth is bounded without recursing into the refused level. */
static void jdom_nesting_should_stop_at_the_depth_limit(void **state)
{
	char *s = malloc(2 * (MQ_JDOM_MAX_DEPTH + 1) + 1);
	struct parsed r;

	assert_non_null(s);
	for (int depth = MQ_JDOM_MAX_DEPTH; depth <= MQ_JDOM_MAX_DEPTH + 1; depth++) {
		memset(s, '[', (size_t)depth);
		memset(s + depth, ']', (size_t)depth);
		parse_n(&r, s, 2 * (size_t)depth, 0);
		if (depth == MQ_JDOM_MAX_DEPTH) {
			assert_non_null(r.doc);
		} else {
			assert_null(r.doc);
			assert_string_equal(r.err.msg, "nested deeper than 1000 levels");
			assert_int_equal(r.err.column, MQ_JDOM_MAX_DEPTH + 1);
		}
		parsed_free(&r);
	}
	free(s);
}

/* ---- duplicate member names -------------------------------------------- */

static void jdom_duplicates_should_be_refused_with_their_path(void **state)
{
	struct parsed r;

	assert_refused("{\"a\":1,\"a\":2}", 1, 8,
		       "duplicate member a: JSON readers disagree on which one counts; keep only one");
	/* The appended "status":"revoked" that the issue was about. */
	assert_refused("{\"devices\":[{},{},{},{\"name\":\"d\",\"status\":\"active\",\n"
		       "  \"status\":\"revoked\"}]}", 2, 3,
		       "duplicate member devices[3].status: JSON readers disagree on which one "
		       "counts; keep only one");
	/* Names are compared after unescaping. */
	assert_refused("{\"st\":1,\"\\u0073t\":2}", 1, 9,
		       "duplicate member st: JSON readers disagree on which one counts; keep only one");
	/* A name that is not a plain word is quoted in the path. */
	assert_refused("{\"x y\":[{\"a.b\":1,\"a.b\":2}]}", 1, 18,
		       "duplicate member [\"x y\"][0][\"a.b\"]: JSON readers disagree on which one "
		       "counts; keep only one");
	/* The same name in different objects is fine. */
	root_of(&r, "{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}");
	parsed_free(&r);
}

/* Past 16 members the check uses a hash set: a duplicate far apart is
 * still found, and a large object without one is accepted. */
static void jdom_duplicates_should_be_found_in_large_objects(void **state)
{
	size_t cap = 20000 * 16 + 64, at = 0;
	char *s = malloc(cap);
	struct parsed r;

	assert_non_null(s);
	at += (size_t)snprintf(s + at, cap - at, "{");
	for (int i = 0; i < 20000; i++)
		at += (size_t)snprintf(s + at, cap - at, "%s\"k%d\":%d", i ? "," : "", i, i);
	at += (size_t)snprintf(s + at, cap - at, "}");
	r.doc = NULL;
	parse_n(&r, s, at, 0);
	assert_non_null(r.doc);
	assert_int_equal(mq_jdom_root(r.doc)->count, 20000);
	assert_true(mq_jdom_get(mq_jdom_root(r.doc), "k19999")->num == 19999);
	parsed_free(&r);

	at -= 1;
	at += (size_t)snprintf(s + at, cap - at, ",\"k17\":0}");
	parse_n(&r, s, at, 0);
	assert_null(r.doc);
	assert_string_equal(r.err.msg, "duplicate member k17: JSON readers disagree on which one "
			    "counts; keep only one");
	parsed_free(&r);
	free(s);
}

/* ---- where an error is ---------------------------------------------------- */

static void jdom_errors_should_name_line_and_column(void **state)
{
	/* The hand edit of the issue: a missing comma after a member. */
	assert_refused("{\n \"version\": 1,\n \"devices\": [\n  {\"name\": \"a\"\n   \"username\": \"a\"}]}",
		       5, 4, "expected ',' or '}'");
	/* CRLF line ends; a tab is one column. */
	assert_refused("{\r\n\t\"a\": tru\r\n}", 2, 7, "expected a value (did you mean true?)");
	/* A UTF-8 character counts once, escaped text as written. */
	assert_refused("{\"caf\xc3\xa9\": \"\xe2\x82\xac\", \"\\u00e9\": x}", 1, 25,
		       "expected a value, found 'x'");
	/* A byte order mark takes no column. */
	assert_refused("\xef\xbb\xbf{x}", 1, 2, "expected a member name in double quotes");
	assert_refused("\xef\xbb\xbf\n\n  ]", 3, 3, "expected a value, found ']'");
}

static void jdom_errors_should_give_the_byte_offset_too(void **state)
{
	struct parsed r;

	parse(&r, "{\n\"a\":\n?}");
	assert_null(r.doc);
	assert_int_equal(r.err.offset, 7);
	assert_int_equal(r.err.line, 3);
	assert_int_equal(r.err.column, 1);
	parsed_free(&r);
}

/* ---- limits --------------------------------------------------------------- */

/* A file of many tiny values would make a tree many times its size: the
 * bound refuses it part way, at the value that would cross it. */
static void jdom_tree_should_stay_within_the_memory_bound(void **state)
{
	size_t n = 100000, len = 2 * n + 1;
	char *s = malloc(len);
	struct parsed r;

	assert_non_null(s);
	s[0] = '[';
	for (size_t i = 0; i < n; i++) {
		s[1 + 2 * i] = '0';
		s[2 + 2 * i] = i + 1 < n ? ',' : ']';
	}
	parse_n(&r, s, len, 0);
	assert_non_null(r.doc);
	assert_int_equal(mq_jdom_root(r.doc)->count, n);
	parsed_free(&r);

	parse_n(&r, s, len, 1000 * MQ_JDOM_NODE_BYTES);
	assert_null(r.doc);
	assert_string_equal(r.err.msg, "too many values for a file of this size (the parse would "
			    "take more than 32000 bytes of memory)");
	/* 1000 nodes fit: the array and 999 zeros; the error names the next
	 * value, at its first byte. */
	assert_int_equal(r.err.column, 2 * 1000);
	parsed_free(&r);
	free(s);
}

/* The duplicate check's hash set counts against the same bound. */
static void jdom_large_objects_should_count_their_name_set(void **state)
{
	size_t cap = 64 * 16 + 64, at = 0;
	char *s = malloc(cap);
	struct parsed r;

	assert_non_null(s);
	at += (size_t)snprintf(s + at, cap - at, "{");
	for (int i = 0; i < 64; i++)
		at += (size_t)snprintf(s + at, cap - at, "%s\"k%d\":0", i ? "," : "", i);
	at += (size_t)snprintf(s + at, cap - at, "}");
	/* The 65 nodes fit, the name set (64 slots, then 128: 1 KB) does not. */
	parse_n(&r, s, at, 65 * MQ_JDOM_NODE_BYTES + 100);
	assert_null(r.doc);
	assert_non_null(strstr(r.err.msg, "too many values for a file of this size"));
	parsed_free(&r);
	parse_n(&r, s, at, 65 * MQ_JDOM_NODE_BYTES + 1024);
	assert_non_null(r.doc);
	parsed_free(&r);
	free(s);
}

/* The parse stays inside len: the byte after it is not part of the text. */
static void jdom_parse_should_stay_within_the_length(void **state)
{
	struct parsed r;

	parse_n(&r, "[1,2]", 4, 0);
	assert_null(r.doc);
	assert_string_equal(r.err.msg, "unexpected end of the file: expected ',' or ']'");
	parsed_free(&r);
	parse_n(&r, "\"ab\"", 3, 0);
	assert_null(r.doc);
	assert_string_equal(r.err.msg, "unterminated string");
	parsed_free(&r);
	parse_n(&r, "12345", 2, 0);
	assert_non_null(r.doc);
	assert_true(mq_jdom_root(r.doc)->num == 12);
	parsed_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(jdom_strings_should_be_unescaped),
		cmocka_unit_test(jdom_strings_should_refuse_what_json_forbids),
		cmocka_unit_test(jdom_numbers_should_follow_the_json_grammar),
		cmocka_unit_test(jdom_literals_should_be_exact),
		cmocka_unit_test(jdom_whitespace_should_be_the_four_json_ones),
		cmocka_unit_test(jdom_get_should_find_members_of_objects_only),
		cmocka_unit_test(jdom_containers_should_keep_order_counts_and_names),
		cmocka_unit_test(jdom_nesting_should_stop_at_the_depth_limit),
		cmocka_unit_test(jdom_duplicates_should_be_refused_with_their_path),
		cmocka_unit_test(jdom_duplicates_should_be_found_in_large_objects),
		cmocka_unit_test(jdom_errors_should_name_line_and_column),
		cmocka_unit_test(jdom_errors_should_give_the_byte_offset_too),
		cmocka_unit_test(jdom_tree_should_stay_within_the_memory_bound),
		cmocka_unit_test(jdom_large_objects_should_count_their_name_set),
		cmocka_unit_test(jdom_parse_should_stay_within_the_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
