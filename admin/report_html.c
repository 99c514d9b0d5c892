/* HTML and SVG for mqadmin report. */
#include "report_html.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool report_html_grow(struct report_html *h, size_t more)
{
	size_t cap;
	char *s;

	if (h->oom)
		return false;
	if (h->len + more + 1 <= h->cap)
		return true;
	cap = h->cap ? h->cap : 65536;
	while (cap < h->len + more + 1)
		cap *= 2;
	if (!(s = realloc(h->s, cap))) {
		h->oom = true;
		return false;
	}
	h->s = s;
	h->cap = cap;
	return true;
}

void report_html_printf(struct report_html *h, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !report_html_grow(h, (size_t)n)) {
		h->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(h->s + h->len, h->cap - h->len, fmt, ap);
	va_end(ap);
	h->len += (size_t)n;
}

void report_html_esc(struct report_html *h, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&': report_html_printf(h, "&amp;"); break;
		case '<': report_html_printf(h, "&lt;"); break;
		case '>': report_html_printf(h, "&gt;"); break;
		case '"': report_html_printf(h, "&quot;"); break;
		case '\'': report_html_printf(h, "&#39;"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				report_html_printf(h, "&#xfffd;");
			else if (report_html_grow(h, 1)) {
				h->s[h->len++] = (char)c;
				h->s[h->len] = '\0';
			}
		}
	}
}

void report_html_free(struct report_html *h)
{
	free(h->s);
	h->s = NULL;
	h->len = h->cap = 0;
}

#define CH_W 660
#define CH_H 220
#define CH_LEFT 64
#define CH_BOTTOM 46
#define CH_TOP 12

/* A round top for the axis: 1, 2, 5 times a power of ten. */
static unsigned long report_html_nice(unsigned long max)
{
	unsigned long p = 1;

	if (max < 1)
		return 1;
	while (p * 10 <= max)
		p *= 10;
	return max <= p ? p : max <= 2 * p ? 2 * p : max <= 5 * p ? 5 * p : 10 * p;
}

static void report_html_svg(struct report_html *h, const char *id, const char *const *labels,
			    size_t n, const struct report_html_series *series, size_t ns)
{
	unsigned long max = 0, top, nticks;
	double plot_w = CH_W - CH_LEFT - 8, plot_h = CH_H - CH_TOP - CH_BOTTOM, slot, bw;
	size_t every = n > 16 ? (n + 15) / 16 : 1;

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < ns; k++)
			if (series[k].v[i] > max)
				max = series[k].v[i];
	top = report_html_nice(max);
	/* Ticks on whole numbers: top is 1, 2 or 5 times a power of ten. */
	nticks = top <= 5 ? top : top % 4 == 0 ? 4 : 5;
	slot = n ? plot_w / (double)n : plot_w;
	bw = slot * 0.8 / (double)(ns ? ns : 1);
	report_html_printf(h, "<svg class=\"chart\" id=\"%s-svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
		     "height=\"%d\" role=\"img\">\n", id, CH_W,
		     CH_H, CH_W, CH_H);
	for (unsigned long g = 0; g <= nticks; g++) {
		double y = CH_TOP + plot_h - plot_h * (double)g / (double)nticks;

		report_html_printf(h, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
			     "<text x=\"%d\" y=\"%.1f\" class=\"ytick\">%lu</text>\n", CH_LEFT,
			     CH_W - 8, y, y, CH_LEFT - 4, y + 4, top * g / nticks);
	}
	for (size_t i = 0; i < n; i++) {
		double x0 = CH_LEFT + slot * (double)i + slot * 0.1;

		for (size_t k = 0; k < ns; k++) {
			double bh = plot_h * (double)series[k].v[i] / (double)top;

			report_html_printf(h, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				     "height=\"%.1f\" fill=\"%s\" data-series=\"%s\" data-value=\"%lu\">"
				     "<title>", x0 + bw * (double)k, CH_TOP + plot_h - bh, bw, bh,
				     series[k].color, series[k].name, series[k].v[i]);
			report_html_esc(h, labels[i]);
			report_html_printf(h, ": %lu %s</title></rect>\n", series[k].v[i], series[k].name);
		}
		if (i % every == 0) {
			double x = CH_LEFT + slot * ((double)i + 0.5);

			report_html_printf(h, "<text class=\"xtick\" transform=\"translate(%.1f %d) "
				     "rotate(-40)\">", x, CH_H - CH_BOTTOM + 12);
			report_html_esc(h, labels[i]);
			report_html_printf(h, "</text>\n");
		}
	}
	report_html_printf(h, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" class=\"axis\"/>\n",
		     CH_LEFT, CH_W - 8, CH_H - CH_BOTTOM, CH_H - CH_BOTTOM);
	for (size_t k = 0; k < ns && ns > 1; k++)
		report_html_printf(h, "<rect x=\"%zu\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
			     "<text x=\"%zu\" y=\"%d\" class=\"legend\">%s</text>\n",
			     CH_LEFT + 8 + k * 130, CH_TOP - 10, series[k].color,
			     CH_LEFT + 22 + k * 130, CH_TOP, series[k].name);
	report_html_printf(h, "</svg>\n");
}

void report_html_chart(struct report_html *h, const char *id, const char *title,
		 const char *const *labels, size_t nlabels, const struct report_html_series *series,
		 size_t nseries)
{
	report_html_printf(h, "<figure class=\"plot\" id=\"%s\">\n<figcaption>%s</figcaption>\n"
		     "<div class=\"pair\">\n", id, title);
	report_html_svg(h, id, labels, nlabels, series, nseries);
	report_html_printf(h, "<div class=\"numbers\"><table id=\"%s-table\">\n<thead><tr><th></th>",
		     id);
	for (size_t k = 0; k < nseries; k++)
		report_html_printf(h, "<th>%s</th>", series[k].name);
	report_html_printf(h, "</tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < nlabels; i++) {
		report_html_printf(h, "<tr data-label=\"");
		report_html_esc(h, labels[i]);
		report_html_printf(h, "\"><th>");
		report_html_esc(h, labels[i]);
		report_html_printf(h, "</th>");
		for (size_t k = 0; k < nseries; k++)
			report_html_printf(h, "<td data-series=\"%s\" data-value=\"%lu\">%lu</td>",
				     series[k].name, series[k].v[i], series[k].v[i]);
		report_html_printf(h, "</tr>\n");
	}
	report_html_printf(h, "</tbody>\n<tfoot><tr id=\"%s-total\"><th>total</th>", id);
	for (size_t k = 0; k < nseries; k++) {
		unsigned long t = 0;

		for (size_t i = 0; i < nlabels; i++)
			t += series[k].v[i];
		report_html_printf(h, "<td data-series=\"%s\" data-value=\"%lu\">%lu</td>",
			     series[k].name, t, t);
	}
	report_html_printf(h, "</tr></tfoot></table></div>\n</div>\n</figure>\n");
}
