#include <stdlib.h>
#include <string.h>

#include "prune/slim.h"
#include "unit.h"

/* want == NULL: left alone (slim_json returns 0). */
START_TEST(test_json_minify)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "{\n  \"a\": 1,\n  \"b\": [1, 2.5e-3, -0, true, false, null]\n}\n",
		  "{\"a\":1,\"b\":[1,2.5e-3,-0,true,false,null]}" },
		/* strings byte for byte: whitespace, escapes, unicode, no re-encoding */
		{ "[ \"a b\" , \"\\\" \\\\ \\/ \\b\\f\\n\\r\\t\\u00e9\" , \"h\xc3\xa9\" ]",
		  "[\"a b\",\"\\\" \\\\ \\/ \\b\\f\\n\\r\\t\\u00e9\",\"h\xc3\xa9\"]" },
		/* key order and duplicate keys kept (json.loads: the last one wins, as before) */
		{ "{ \"z\" : 1 , \"a\" : 2 , \"z\" : 3 }", "{\"z\":1,\"a\":2,\"z\":3}" },
		{ " { } ", "{}" },
		{ "\t[ ]\r\n", "[]" },
		{ "  17  ", "17" },
		/* nothing to gain */
		{ "{\"a\":1}", NULL },
		/* not one valid JSON text: left alone */
		{ "{\"a\": 1,}\n", NULL },
		{ "[1, 2] [3]", NULL },
		{ "{\"a\": NaN }", NULL },
		{ "[01 ]", NULL },
		{ "[1. ]", NULL },
		{ "[.5 ]", NULL },
		{ "[1e ]", NULL },
		{ "[\"tab\tinside\" ]", NULL },
		{ "[\"\\x\" ]", NULL },
		{ "[\"\\u12g4\" ]", NULL },
		{ "[\"open ]", NULL },
		{ "{\"a\" 1 }", NULL },
		{ "{ 1: 2 }", NULL },
		{ "[tru ]", NULL },
		{ "\xef\xbb\xbf{ }", NULL }, /* a BOM */
		{ "   ", NULL },
		{ "[1,  2", NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *out = NULL;
		size_t n = 0;
		int r = slim_json(t[i].in, strlen(t[i].in), 0, &out, &n);
		if (!t[i].want) {
			ck_assert_msg(r == 0, "case %zu '%s' should be left alone, got '%s'", i, t[i].in, r ? out : "");
			continue;
		}
		ck_assert_msg(r == 1, "case %zu '%s' not rewritten", i, t[i].in);
		ck_assert_msg(n == strlen(t[i].want) && strcmp(out, t[i].want) == 0, "case %zu: '%s' != '%s'", i, out,
			      t[i].want);
		free(out);
	}
}
END_TEST

START_TEST(test_json_depth)
{
	/* 600 nested arrays: deeper than the parser goes; left alone, no crash */
	size_t depth = 600, n = 0;
	char *in = malloc(2 * depth + 3), *out = NULL;
	memset(in, '[', depth);
	in[depth] = ' ';
	memset(in + depth + 1, ']', depth);
	in[2 * depth + 1] = '\0';
	ck_assert_int_eq(slim_json(in, strlen(in), 0, &out, &n), 0);
	/* 100 is fine */
	memset(in, '[', 100);
	in[100] = ' ';
	memset(in + 101, ']', 100);
	in[201] = '\0';
	ck_assert_int_eq(slim_json(in, strlen(in), 0, &out, &n), 1);
	ck_assert_uint_eq(n, 200);
	free(out);
	free(in);
}
END_TEST

START_TEST(test_json_boto_docs)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		/* prose at the model's places goes */
		{ "{\"version\": \"2.0\", \"documentation\": \"<p>S3</p>\", \"operations\": {\"Get\": {\"name\": \"Get\", "
		  "\"documentation\": \"<p>gets</p>\", \"input\": {\"shape\": \"R\", \"documentation\": \"in\"}, "
		  "\"errors\": [{\"shape\": \"E\", \"documentation\": \"err\"}]}}}",
		  "{\"version\":\"2.0\",\"operations\":{\"Get\":{\"name\":\"Get\",\"input\":{\"shape\":\"R\"},"
		  "\"errors\":[{\"shape\":\"E\"}]}}}" },
		{ "{\"shapes\": {\"R\": {\"type\": \"structure\", \"members\": {\"B\": {\"shape\": \"S\", \"documentation\": "
		  "\"bucket\"}}, \"documentation\": \"req\"}, \"L\": {\"type\": \"list\", \"member\": {\"shape\": \"S\", "
		  "\"documentation\": \"x\"}}}}",
		  "{\"shapes\":{\"R\":{\"type\":\"structure\",\"members\":{\"B\":{\"shape\":\"S\",\"documentation\":"
		  "\" \"}}},\"L\":{\"type\":\"list\",\"member\":{\"shape\":\"S\"}}}}" },
		/* a member's documentation is blanked, not dropped, wherever it is in the member */
		{ "{\"shapes\": {\"R\": {\"members\": {\"A\": {\"documentation\": \"long text\", \"shape\": \"S\"}, "
		  "\"B\": {\"shape\": \"S\", \"documentation\": \"\\\"quoted\\\"\", \"location\": \"header\"}}}}}",
		  "{\"shapes\":{\"R\":{\"members\":{\"A\":{\"documentation\":\" \",\"shape\":\"S\"},\"B\":{\"shape\":"
		  "\"S\",\"documentation\":\" \",\"location\":\"header\"}}}}}" },
		/* first and only members: commas stay right */
		{ "{\"documentation\": \"a\", \"x\": 1}", "{\"x\":1}" },
		{ "{\"x\": 1, \"documentation\": \"a\"}", "{\"x\":1}" },
		{ "{\"documentation\": \"a\"}", "{}" },
		/* a member named "documentation" is a member: its shape stays */
		{ "{\"shapes\": {\"R\": {\"members\": {\"documentation\": {\"shape\": \"S\"}}}}}",
		  "{\"shapes\":{\"R\":{\"members\":{\"documentation\":{\"shape\":\"S\"}}}}}" },
		/* botocore reads clientContextParams.<p>.documentation with [] : it stays */
		{ "{\"clientContextParams\": {\"Accelerate\": {\"documentation\": \"d\", \"type\": \"boolean\"}}}",
		  "{\"clientContextParams\":{\"Accelerate\":{\"documentation\":\"d\",\"type\":\"boolean\"}}}" },
		/* not a string, or elsewhere: stays */
		{ "{\"documentation\": {\"x\": 1}}", "{\"documentation\":{\"x\":1}}" },
		{ "{\"metadata\": {\"documentation\": \"m\"}}", "{\"metadata\":{\"documentation\":\"m\"}}" },
		{ "{\"shapes\": {\"R\": {\"members\": {\"B\": {\"x\": {\"documentation\": \"deep\"}}}}}}",
		  "{\"shapes\":{\"R\":{\"members\":{\"B\":{\"x\":{\"documentation\":\"deep\"}}}}}}" },
		{ "[{\"documentation\": \"a\"}]", "[{\"documentation\":\"a\"}]" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *out = NULL, *plain = NULL;
		size_t n = 0;
		ck_assert_msg(slim_json(t[i].in, strlen(t[i].in), SLIM_JSON_BOTO_DOCS, &out, &n) == 1, "case %zu", i);
		ck_assert_msg(strcmp(out, t[i].want) == 0, "case %zu: '%s' != '%s'", i, out, t[i].want);
		free(out);
		/* without the flag nothing but whitespace goes */
		ck_assert(slim_json(t[i].in, strlen(t[i].in), 0, &plain, &n) == 1);
		ck_assert_msg(strstr(plain, "documentation") || !strstr(t[i].in, "documentation"), "case %zu", i);
		free(plain);
	}
}
END_TEST

START_TEST(test_metadata)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "Metadata-Version: 2.1\nName: x\nVersion: 1.0\nRequires-Dist: y\n\n# x\n\nLong text\n",
		  "Metadata-Version: 2.1\nName: x\nVersion: 1.0\nRequires-Dist: y\n" },
		{ "Name: x\r\nVersion: 1\r\n\r\nbody\r\n", "Name: x\r\nVersion: 1\r\n" },
		/* folded header lines are headers */
		{ "Name: x\nDescription: a\n        |b\n\nbody", "Name: x\nDescription: a\n        |b\n" },
		/* no body, empty body, no headers: left alone */
		{ "Name: x\nVersion: 1\n", NULL },
		{ "Name: x\nVersion: 1\n\n", NULL },
		{ "\nName: x\n", NULL },
		{ "", NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *out = NULL;
		size_t n = 0;
		int r = slim_metadata(t[i].in, strlen(t[i].in), &out, &n);
		if (!t[i].want) {
			ck_assert_msg(r == 0, "case %zu should be left alone", i);
			continue;
		}
		ck_assert_msg(r == 1, "case %zu not rewritten", i);
		ck_assert_msg(n == strlen(t[i].want) && memcmp(out, t[i].want, n) == 0, "case %zu: '%.*s'", i, (int)n,
			      out);
		free(out);
	}
}
END_TEST

SUITE(slim)
{
	Suite *s = suite_create("slim");
	TCASE(s, test_json_minify);
	TCASE(s, test_json_depth);
	TCASE(s, test_json_boto_docs);
	TCASE(s, test_metadata);
	return s;
}
