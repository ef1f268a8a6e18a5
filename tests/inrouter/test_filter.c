/* The HTTP filter: compile errors name the node; matching follows the
 * spec's semantics (header ERE case-insensitive over "Name: value", path
 * ERE, exact method, ALL / ANY in prefix order). */
#include "rig.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

static int match(const char *const *nodes, const char *method, const char *path,
                 const char *const *hdrs)
{
    char err[256];
    in_filter_t *f = rig_filter(nodes, err, sizeof(err));
    if (!f) {
        fprintf(stderr, "compile: %s\n", err);
        return -1;
    }
    size_t n = 0;
    while (hdrs && hdrs[n])
        n++;
    in_request_t rq = {method, path, hdrs, n};
    int m = in_filter_match(f, &rq);
    in_filter_free(f);
    return m;
}

static void refused(const char *const *nodes, const char *want)
{
    char err[256];
    in_filter_t *f = rig_filter(nodes, err, sizeof(err));
    assert_null(f);
    if (!strstr(err, want))
        fail_msg("error '%s' does not say '%s'", err, want);
}

static void test_leaves(void **st)
{
    (void)st;
    const char *h[] = {"Host: svc", "X-Route: local", NULL};
    const char *h2[] = {"Host: svc", "X-Route: remote", NULL};
    assert_int_equal(match((const char *[]){"header ^x-route: local$", NULL}, "GET", "/", h), 1);
    assert_int_equal(match((const char *[]){"header ^x-route: local$", NULL}, "GET", "/", h2), 0);
    assert_int_equal(match((const char *[]){"header X-ROUTE", NULL}, "GET", "/", h2), 1);
    assert_int_equal(match((const char *[]){"path ^/api/", NULL}, "GET", "/api/v1?x=1", h), 1);
    assert_int_equal(match((const char *[]){"path ^/api/", NULL}, "GET", "/API/v1", h), 0);
    assert_int_equal(match((const char *[]){"path v1\\?x=1$", NULL}, "GET", "/api/v1?x=1", h), 1);
    assert_int_equal(match((const char *[]){"method POST", NULL}, "POST", "/", h), 1);
    assert_int_equal(match((const char *[]){"method POST", NULL}, "post", "/", h), 0);
    assert_int_equal(match((const char *[]){"method POST", NULL}, "POSTX", "/", h), 0);
    assert_int_equal(match(NULL, "GET", "/", h), 1); /* empty: everything */
}

static void test_tree(void **st)
{
    (void)st;
    const char *h[] = {"X-Route: local", NULL};
    /* all 2: path ^/api/ and (any 2: method GET, method POST) */
    const char *t[] = {"all 2", "path ^/api/", "any 2", "method GET", "method POST", NULL};
    assert_int_equal(match(t, "GET", "/api/x", h), 1);
    assert_int_equal(match(t, "POST", "/api/x", h), 1);
    assert_int_equal(match(t, "PUT", "/api/x", h), 0);
    assert_int_equal(match(t, "GET", "/web", h), 0);
    /* any 2: (all 2: header, method PUT), path ^/x$ */
    const char *u[] = {"any 2", "all 2", "header ^x-route: local$", "method PUT", "path ^/x$", NULL};
    assert_int_equal(match(u, "PUT", "/", h), 1);
    assert_int_equal(match(u, "GET", "/", h), 0);
    assert_int_equal(match(u, "GET", "/x", NULL), 1);
    assert_int_equal(match((const char *[]){"all 0", NULL}, "GET", "/", NULL), 1);
    assert_int_equal(match((const char *[]){"any 0", NULL}, "GET", "/", NULL), 0);
}

static void test_errors(void **st)
{
    (void)st;
    refused((const char *[]){"all 2", "method GET", NULL}, "filter node 0 (all): 2 children");
    refused((const char *[]){"method GET", "method PUT", NULL}, "filter node 1 (method): after the end");
    refused((const char *[]){"all 2", "method GET", "header (", NULL}, "filter node 2 (header \"(\")");
    refused((const char *[]){"any 1", "path [a-", NULL}, "filter node 1 (path");
    refused((const char *[]){"all 1", "9 0", NULL}, "filter node 1: unknown kind 9");
    refused((const char *[]){"method", NULL}, "filter node 0 (method): empty method");
    const char *many[70];
    many[0] = "any 68";
    for (int i = 1; i < 69; i++)
        many[i] = "method GET";
    many[69] = NULL;
    refused(many, "at most 64");
    /* what glibc's regcomp would need exponential memory for */
    refused((const char *[]){"path c++++++++++++", NULL}, "filter node 0 (path): regex");
    /* a leaf with children: kind 5 (method) with nkids 1 */
    refused((const char *[]){"all 1", "5 1", "method GET", NULL}, "filter node 1 (method): a leaf with 1 children");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaves),
        cmocka_unit_test(test_tree),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
