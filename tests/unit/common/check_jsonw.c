/* Unit tests for common/jsonw.c: the streaming writer's text is what jansson writes for
 * the same document (indent 1, ASCII only), and what it writes parses back. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "unit.h"

/* A document with every kind of element, written by jsonw. */
static char *write_doc(int indent, const char *odd)
{
	struct jsonw w;
	size_t len;
	char *s;
	jsonw_init(&w, indent);
	jsonw_object(&w);
	jsonw_key(&w, "a");
	jsonw_string(&w, "plain", "?");
	jsonw_key(&w, "empty-object");
	jsonw_object(&w);
	jsonw_end(&w);
	jsonw_key(&w, "empty-array");
	jsonw_array(&w);
	jsonw_end(&w);
	jsonw_key(&w, "list");
	jsonw_array(&w);
	jsonw_string(&w, "q\"uote\\ \b\f\n\r\t \x01 caf\xc3\xa9 \xf0\x9f\x90\x8d /", "?");
	jsonw_bool(&w, 1);
	jsonw_bool(&w, 0);
	jsonw_object(&w);
	jsonw_key(&w, "deep");
	jsonw_array(&w);
	jsonw_string(&w, odd, "not UTF-8");
	jsonw_end(&w);
	jsonw_end(&w);
	jsonw_end(&w);
	jsonw_end(&w);
	s = jsonw_take(&w, &len);
	ck_assert_uint_eq(strlen(s), len);
	jsonw_release(&w);
	return s;
}

/* The same document built as a jansson tree. */
static char *jansson_doc(size_t flags, const char *odd)
{
	json_t *d = json_object(), *l = json_array(), *o = json_object(), *deep = json_array();
	char *s;
	json_object_set_new(d, "a", json_string("plain"));
	json_object_set_new(d, "empty-object", json_object());
	json_object_set_new(d, "empty-array", json_array());
	json_array_append_new(l, json_string("q\"uote\\ \b\f\n\r\t \x01 caf\xc3\xa9 \xf0\x9f\x90\x8d /"));
	json_array_append_new(l, json_true());
	json_array_append_new(l, json_false());
	json_array_append_new(deep, json_string(odd));
	json_object_set_new(o, "deep", deep);
	json_array_append_new(l, o);
	json_object_set_new(d, "list", l);
	s = json_dumps(d, flags | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(d);
	return s;
}

START_TEST(test_same_as_jansson)
{
	char *a = write_doc(1, "fine"), *b = jansson_doc(JSON_INDENT(1), "fine");
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	a = write_doc(0, "fine");
	b = jansson_doc(JSON_COMPACT, "fine");
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	a = write_doc(4, "fine");
	b = jansson_doc(JSON_INDENT(4), "fine");
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_escapes_and_fallback)
{
	char *a = write_doc(0, "bad \xff byte");
	json_t *j = json_loads(a, 0, NULL);
	ck_assert_ptr_nonnull(j);
	/* ASCII only: the snake as a surrogate pair, é as \u00E9 */
	for (const char *p = a; *p; p++)
		ck_assert_int_lt((unsigned char)*p, 0x80);
	ck_assert_ptr_nonnull(strstr(a, "\\uD83D\\uDC0D"));
	ck_assert_ptr_nonnull(strstr(a, "caf\\u00E9"));
	ck_assert_ptr_nonnull(strstr(a, "\\u0001"));
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_array_get(json_object_get(j, "list"), 3),
									   "deep"),
							  0)),
			 "not UTF-8");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "list"), 0)),
			 "q\"uote\\ \b\f\n\r\t \x01 caf\xc3\xa9 \xf0\x9f\x90\x8d /");
	json_decref(j);
	free(a);
}
END_TEST

START_TEST(test_large)
{
	struct jsonw w;
	size_t len;
	char *s;
	json_t *j;
	jsonw_init(&w, 1);
	jsonw_array(&w);
	for (int i = 0; i < 20000; i++) {
		jsonw_object(&w);
		jsonw_key(&w, "n");
		jsonw_string(&w, i % 2 ? "odd" : "even", "?");
		jsonw_end(&w);
	}
	jsonw_end(&w);
	s = jsonw_take(&w, &len);
	j = json_loadb(s, len, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(json_array_size(j), 20000);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 19999), "n")), "odd");
	json_decref(j);
	free(s);
	jsonw_release(&w);
}
END_TEST

SUITE(jsonw)
{
	Suite *s = suite_create("jsonw");
	TCASE(s, test_same_as_jansson);
	TCASE(s, test_escapes_and_fallback);
	TCASE(s, test_large);
	return s;
}
