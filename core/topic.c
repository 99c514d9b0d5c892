/* MQTT topic syntax: names, filters and ACL patterns (validity only; the
 * ACL engine matches them). */
#include "mq_topic.h"
#include "mq_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TOPIC_PLACEHOLDERS \
	"%%u (username), %%c (client id), %%{cn} (certificate CN), %%{ou} (certificate OU) or %%%% (a literal %%)"

/* Length of the placeholder at p (which points at '%'), or 0 if unknown. */
static size_t topic_placeholder_len(const char *p)
{
	if (p[1] == 'u' || p[1] == 'c' || p[1] == '%')
		return 2;
	if (!strncmp(p, "%{cn}", 5) || !strncmp(p, "%{ou}", 5))
		return 5;
	return 0;
}

int mq_pattern_valid(const char *pattern, char *err, size_t errlen)
{
	size_t n, levels = 1;
	bool level_ou = false;

	if (!pattern || !*pattern) {
		mq_errf(err, errlen, "empty topic pattern");
		return -1;
	}
	n = strlen(pattern);
	if (n > MQ_TOPIC_MAX) {
		mq_errf(err, errlen, "topic pattern longer than %d bytes", MQ_TOPIC_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = pattern[i];
		bool level_start = i == 0 || pattern[i - 1] == '/';
		bool level_end = i + 1 == n || pattern[i + 1] == '/';
		size_t plen;

		if ((unsigned char)c < 0x20 || c == 0x7F) {
			mq_errf(err, errlen, "topic pattern '%s' contains a control character", pattern);
			return -1;
		}
		if (c == '/') {
			level_ou = false;
			if (++levels > MQ_PATTERN_MAX_LEVELS) {
				mq_errf(err, errlen, "topic pattern '%.40s...' has more than %d levels",
					  pattern, MQ_PATTERN_MAX_LEVELS);
				return -1;
			}
		}
		if (c == '+' && !(level_start && level_end)) {
			mq_errf(err, errlen, "'+' must fill a whole level in '%s' (e.g. a/+/b)", pattern);
			return -1;
		}
		if (c == '#' && !(level_start && i + 1 == n)) {
			mq_errf(err, errlen, "'#' must be the last level in '%s' (e.g. a/#)", pattern);
			return -1;
		}
		if (c != '%')
			continue;
		plen = topic_placeholder_len(pattern + i);
		if (!plen) {
			mq_errf(err, errlen, "unknown placeholder in '%s': use " TOPIC_PLACEHOLDERS,
				  pattern);
			return -1;
		}
		if (pattern[i + 1] == '{' && pattern[i + 2] == 'o') {
			/* One %{ou} per level keeps matching a single pass per OU. */
			if (level_ou) {
				mq_errf(err, errlen, "more than one %%{ou} in a level of '%s'", pattern);
				return -1;
			}
			level_ou = true;
		}
		i += plen - 1;
	}
	return 0;
}

bool mq_topic_name_valid(const char *topic)
{
	size_t n;

	if (!topic || !*topic)
		return false;
	n = strcspn(topic, "+#");
	return !topic[n] && n <= MQ_TOPIC_MAX;
}

bool mq_filter_valid(const char *filter)
{
	size_t i;

	if (!filter || !*filter)
		return false;
	for (i = 0; filter[i]; i++) {
		bool level_start = i == 0 || filter[i - 1] == '/';
		bool level_end = !filter[i + 1] || filter[i + 1] == '/';

		if (filter[i] == '+' && !(level_start && level_end))
			return false;
		if (filter[i] == '#' && !(level_start && !filter[i + 1]))
			return false;
	}
	return i <= MQ_TOPIC_MAX;
}

const char *mq_filter_unshare(const char *filter)
{
	const char *group, *slash;

	if (!filter || strncmp(filter, "$share/", 7))
		return mq_filter_valid(filter) ? filter : NULL;
	group = filter + 7;
	slash = strchr(group, '/');
	if (!slash || slash == group || strcspn(group, "+#") < (size_t)(slash - group))
		return NULL;
	return mq_filter_valid(slash + 1) ? slash + 1 : NULL;
}

/* Rank of the level at p: '#' 1, '+' 2, a name 3, past the end 4. */
static int topic_level_rank(const char *p)
{
	if (!p)
		return 4;
	if (p[0] == '#' && !p[1])
		return 1;
	if (p[0] == '+' && (!p[1] || p[1] == '/'))
		return 2;
	return 3;
}

static const char *topic_next_level(const char *p)
{
	const char *s = strchr(p, '/');

	return s ? s + 1 : NULL;
}

int mq_pattern_cmp(const char *a, const char *b)
{
	while (a || b) {
		int ra = topic_level_rank(a), rb = topic_level_rank(b);

		if (ra != rb)
			return ra - rb;
		a = topic_next_level(a);
		b = topic_next_level(b);
	}
	return 0;
}
