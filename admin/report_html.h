/* The pieces of mqadmin report's page: a growing text buffer with HTML
 * escaping, and bar charts drawn as inline SVG beside the table of their
 * numbers. Nothing here loads anything from elsewhere. */
#ifndef ADMIN_REPORT_HTML_H
#define ADMIN_REPORT_HTML_H

#include <stdbool.h>
#include <stddef.h>

struct report_html {
	char *s;
	size_t len, cap;
	bool oom; /* an append failed: the page is incomplete */
};

void report_html_printf(struct report_html *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends s with & < > " ' as entities and control characters as U+FFFD:
 * for text and attribute values from files the broker writes. */
void report_html_esc(struct report_html *h, const char *s);
void report_html_free(struct report_html *h);

/* One series of a chart: a name, a CSS colour, a value per bar. */
struct report_html_series {
	const char *name, *color;
	const unsigned long *v;
};

/* A <figure id="ID"> with a bar chart (one group of bars per label, one
 * bar per series) and a table of the same numbers: one <tr> per label
 * with data-label, one <td data-series=NAME data-value=N> per series, and
 * a total row (id "ID-total"). Labels are escaped. */
void report_html_chart(struct report_html *h, const char *id, const char *title,
		 const char *const *labels, size_t nlabels, const struct report_html_series *series,
		 size_t nseries);

#endif
