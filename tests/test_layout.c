/* Tests of parallel/layout.c: parsing and its one-line errors, checks against a model, role assignment
 * compared with an independent nested-loop enumeration, layer splits, and rank-count suggestions. */
#include <string.h>

#include "parallel/layout.h"
#include "tests/check.h"

/* s2v-14b's DiT (model-spec: 40 layers, 40 heads of 128, FFN 13824) */
#define HEADS 40
#define FFN 13824
#define LAYERS 40

static int same_layout(lavr_layout a, int steps, int tp, int pp, int aux) {
    return a.steps == steps && a.tp == tp && a.pp == pp && a.aux == aux;
}

static void test_parse(void) {
    lavr_layout l = {0};
    CHECK_OK(lavr_layout_parse("steps=4,tp=1,pp=1,aux=1", &l));
    CHECK(same_layout(l, 4, 1, 1, 1));
    CHECK_OK(lavr_layout_parse("steps=4,aux=1", &l));
    CHECK(same_layout(l, 4, 1, 1, 1));
    CHECK_OK(lavr_layout_parse("aux=3,pp=5,steps=2", &l));
    CHECK(same_layout(l, 2, 1, 5, 3));
    CHECK_OK(lavr_layout_parse("tp=8", &l));
    CHECK(same_layout(l, 4, 8, 1, 1));
    CHECK_OK(lavr_layout_parse("steps=1", &l));
    CHECK(same_layout(l, 1, 1, 1, 1));

    char text[96];
    lavr_layout round = {0};
    lavr_layout_format(&(lavr_layout){.steps = 2, .tp = 4, .pp = 3, .aux = 2}, text, sizeof text);
    CHECK(strcmp(text, "steps=2,tp=4,pp=3,aux=2") == 0);
    CHECK_OK(lavr_layout_parse(text, &round));
    CHECK(same_layout(round, 2, 4, 3, 2));
}

static void check_parse_error(const char *text, const char *expected_part) {
    lavr_layout l = {.steps = -7};
    lavr_error_clear();
    CHECK_FAILS(lavr_layout_parse(text, &l), LAVR_E_ARG);
    CHECK_MSG(strstr(lavr_error_message(), expected_part) != NULL, "'%s': message '%s' lacks '%s'", text,
              lavr_error_message(), expected_part);
    CHECK_MSG(strchr(lavr_error_message(), '\n') == NULL, "'%s': message spans lines", text);
    CHECK(l.steps == -7); /* output untouched on failure */
}

static void test_parse_errors(void) {
    check_parse_error("", "empty");
    check_parse_error("foo=1", "unknown key 'foo'");
    check_parse_error("steps=4,ranks=5", "unknown key 'ranks'");
    check_parse_error("tp=1,tp=2", "key 'tp' given twice");
    check_parse_error("tp=x", "positive integer, got 'x'");
    check_parse_error("tp=", "positive integer, got ''");
    check_parse_error("tp=1.5", "got '1.5'");
    check_parse_error("tp=-1", "got '-1'");
    check_parse_error("tp = 1", "unknown key 'tp '");
    check_parse_error("tp=1 ", "got '1 '");
    check_parse_error("steps=4,", "not key=value");
    check_parse_error("steps", "not key=value");
    check_parse_error("tp=0", "tp=0 must be in [1,");
    check_parse_error("pp=0", "pp=0 must be in [1,");
    check_parse_error("aux=0", "aux=0 must be in [1,");
    check_parse_error("tp=99999999999999999999999", "must be in [1,");
    check_parse_error("steps=3", "steps=3 must be 1, 2 or 4");
    check_parse_error("steps=8", "steps=8 must be 1, 2 or 4");
}

static void test_model_checks(void) {
    lavr_layout l = lavr_layout_default();
    CHECK(lavr_layout_ranks(&l) == 5);
    CHECK_OK(lavr_layout_check(&l, HEADS, FFN, LAYERS));
    l = (lavr_layout){.steps = 2, .tp = 4, .pp = 3, .aux = 2};
    CHECK(lavr_layout_dit_ranks(&l) == 24 && lavr_layout_ranks(&l) == 26);
    l.tp = 8;
    CHECK_OK(lavr_layout_check(&l, HEADS, FFN, LAYERS));
    l.tp = 3;
    CHECK_FAILS(lavr_layout_check(&l, HEADS, FFN, LAYERS), LAVR_E_ARG);
    CHECK(strstr(lavr_error_message(), "tp=3 does not divide the model's 40 attention heads") != NULL);
    l.tp = 4;
    CHECK_FAILS(lavr_layout_check(&l, HEADS, 13826, LAYERS), LAVR_E_ARG);
    CHECK(strstr(lavr_error_message(), "FFN width 13826") != NULL);
    l.tp = 1;
    l.pp = 40;
    CHECK_OK(lavr_layout_check(&l, HEADS, FFN, LAYERS));
    l.pp = 41;
    CHECK_FAILS(lavr_layout_check(&l, HEADS, FFN, LAYERS), LAVR_E_ARG);
    CHECK(strstr(lavr_error_message(), "pp=41 exceeds the model's 40 layers") != NULL);
}

static void test_layer_split(void) {
    int64_t b, e;
    lavr_layout_layers(40, 3, 0, &b, &e);
    CHECK(b == 0 && e == 14);
    lavr_layout_layers(40, 3, 1, &b, &e);
    CHECK(b == 14 && e == 27);
    lavr_layout_layers(40, 3, 2, &b, &e);
    CHECK(b == 27 && e == 40);
    lavr_layout_layers(40, 1, 0, &b, &e);
    CHECK(b == 0 && e == 40);
    /* properties for many splits: contiguous cover of [0, L), sizes L/P or L/P+1, larger ones first */
    for (int64_t layers = 1; layers <= 45; layers++) {
        for (int pp = 1; pp <= layers; pp++) {
            int64_t next = 0, prev_size = layers + 1;
            int ok = 1;
            for (int i = 0; i < pp; i++) {
                lavr_layout_layers(layers, pp, i, &b, &e);
                int64_t size = e - b;
                ok &= b == next && size >= layers / pp && size <= layers / pp + 1 && size <= prev_size;
                next = e;
                prev_size = size;
            }
            CHECK_MSG(ok && next == layers, "split of %lld layers over %d", (long long)layers, pp);
        }
    }
}

/* layers=a+b+...: parsed, formatted back, checked against the model, and the roles' ranges follow it */
static void test_explicit_split(void) {
    lavr_layout l;
    CHECK_OK(lavr_layout_parse("steps=2,pp=3,layers=20+12+8", &l));
    CHECK(lavr_layout_has_split(&l) && l.layers[0] == 20 && l.layers[1] == 12 && l.layers[2] == 8 && !l.layers[3]);
    char text[96];
    lavr_layout_format(&l, text, sizeof text);
    CHECK(!strcmp(text, "steps=2,tp=1,pp=3,aux=1,layers=20+12+8"));
    lavr_layout round;
    CHECK_OK(lavr_layout_parse(text, &round));
    CHECK(!memcmp(&round, &l, sizeof l));
    CHECK_OK(lavr_layout_check(&l, HEADS, FFN, LAYERS));
    /* ranges: contiguous, in pp order, the split's sizes, the same in both stages */
    const int64_t want[3][2] = {{0, 20}, {20, 32}, {32, 40}};
    for (int rank = 0; rank < lavr_layout_dit_ranks(&l); rank++) {
        lavr_role role;
        CHECK_OK(lavr_layout_role(&l, LAYERS, rank, &role));
        CHECK(role.layer_begin == want[role.pp_index][0] && role.layer_end == want[role.pp_index][1]);
    }
    /* the layers key may come before pp */
    CHECK_OK(lavr_layout_parse("layers=30+10,pp=2", &l));
    CHECK(l.pp == 2 && l.layers[0] == 30);
    static const char *bad[][2] = {
        {"pp=2,layers=22", "layers= lists 1 range but pp=2"},
        {"pp=2,layers=22+", "ends with '+'"},
        {"pp=2,layers=+22", "positive layer counts joined by '+'"},
        {"pp=2,layers=22+0", "positive layer counts joined by '+'"},
        {"pp=2,layers=a+b", "positive layer counts joined by '+'"},
        {"pp=2,layers=", "layers= is empty"},
        {"pp=2,layers=20+20,layers=20+20", "key 'layers' given twice"},
        {"pp=1,layers=1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1", "at most 16 ranges"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_FAILS(lavr_layout_parse(bad[i][0], &l), LAVR_E_ARG);
        CHECK_MSG(strstr(lavr_error_message(), bad[i][1]) != NULL, "'%s': %s", bad[i][0], lavr_error_message());
    }
    CHECK_OK(lavr_layout_parse("pp=2,layers=22+19", &l));
    CHECK_FAILS(lavr_layout_check(&l, HEADS, FFN, LAYERS), LAVR_E_ARG);
    CHECK(strstr(lavr_error_message(), "layers= adds up to 41, the model has 40 layers") != NULL);
}

/* Expected roles from nested loops in the documented order (stage, pp, tp with tp fastest, aux last). */
static void check_roles(lavr_layout l, int64_t layers) {
    int steps_per_stage = 4 / l.steps, rank = 0, ok = 1;
    lavr_role role;
    for (int stage = 0; stage < l.steps; stage++)
        for (int pp = 0; pp < l.pp; pp++)
            for (int tp = 0; tp < l.tp; tp++, rank++) {
                CHECK_OK(lavr_layout_role(&l, layers, rank, &role));
                int64_t b, e;
                lavr_layout_layers(layers, l.pp, pp, &b, &e);
                ok &= role.is_dit && role.dit_index == rank && role.stage == stage && role.pp_index == pp &&
                      role.tp_index == tp && role.step_begin == stage * steps_per_stage &&
                      role.step_end == (stage + 1) * steps_per_stage && role.layer_begin == b &&
                      role.layer_end == e && role.aux_index == -1;
                ok &= lavr_layout_dit_rank(&l, stage, pp, tp) == rank;
            }
    for (int a = 0; a < l.aux; a++, rank++) {
        CHECK_OK(lavr_layout_role(&l, layers, rank, &role));
        ok &= !role.is_dit && role.aux_index == a && role.stage == -1 && role.tp_index == -1 &&
              role.pp_index == -1 && role.step_begin == -1 && role.layer_begin == -1 && role.dit_index == -1;
    }
    CHECK_MSG(ok, "roles of steps=%d,tp=%d,pp=%d,aux=%d", l.steps, l.tp, l.pp, l.aux);
    CHECK(rank == lavr_layout_ranks(&l));
    CHECK_FAILS(lavr_layout_role(&l, layers, rank, &role), LAVR_E_ARG);
    CHECK_FAILS(lavr_layout_role(&l, layers, -1, &role), LAVR_E_ARG);
}

static void test_roles(void) {
    check_roles(lavr_layout_default(), LAYERS);
    check_roles((lavr_layout){.steps = 2, .tp = 2, .pp = 3, .aux = 2}, LAYERS);
    check_roles((lavr_layout){.steps = 1, .tp = 4, .pp = 2, .aux = 1}, LAYERS);
    check_roles((lavr_layout){.steps = 4, .tp = 1, .pp = 5, .aux = 3}, 7);

    /* the LiveAvatar layout by hand: rank i runs step i, rank 4 is aux */
    lavr_layout l = lavr_layout_default();
    lavr_role role;
    CHECK_OK(lavr_layout_role(&l, LAYERS, 3, &role));
    CHECK(role.is_dit && role.stage == 3 && role.step_begin == 3 && role.step_end == 4 && role.layer_begin == 0 &&
          role.layer_end == 40);
    CHECK_OK(lavr_layout_role(&l, LAYERS, 4, &role));
    CHECK(!role.is_dit && role.aux_index == 0);

    char name[32];
    l = (lavr_layout){.steps = 2, .tp = 2, .pp = 3, .aux = 2};
    CHECK_OK(lavr_layout_role(&l, LAYERS, 9, &role)); /* stage 1, pp 1, tp 1 */
    lavr_role_name(&l, &role, name, sizeof name);
    CHECK(strcmp(name, "dit s1 tp1 pp1") == 0);
    CHECK_OK(lavr_layout_role(&l, LAYERS, 13, &role));
    lavr_role_name(&l, &role, name, sizeof name);
    CHECK(strcmp(name, "aux1") == 0);
    l.aux = 1;
    CHECK_OK(lavr_layout_role(&l, LAYERS, 12, &role));
    lavr_role_name(&l, &role, name, sizeof name);
    CHECK(strcmp(name, "aux") == 0);
}

static void test_suggestions(void) {
    lavr_layout fits[8];
    int n = lavr_layout_suggest(4, HEADS, FFN, LAYERS, fits, 3);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(same_layout(fits[0], 1, 1, 3, 1)); /* tp=3 would not divide 40 heads */
        CHECK(same_layout(fits[1], 2, 1, 1, 2));
        CHECK(same_layout(fits[2], 1, 2, 1, 2));
    }
    n = lavr_layout_suggest(5, HEADS, FFN, LAYERS, fits, 1);
    CHECK(n == 1 && same_layout(fits[0], 4, 1, 1, 1));
    CHECK(lavr_layout_suggest(1, HEADS, FFN, LAYERS, fits, 8) == 0);
    for (int world = 2; world <= 40; world++) {
        n = lavr_layout_suggest(world, HEADS, FFN, LAYERS, fits, 8);
        CHECK(n >= 1);
        for (int i = 0; i < n; i++) {
            CHECK(lavr_layout_ranks(&fits[i]) == world);
            CHECK_OK(lavr_layout_check(&fits[i], HEADS, FFN, LAYERS));
        }
    }

    lavr_layout l = lavr_layout_default();
    CHECK_OK(lavr_layout_check_world(&l, 5, HEADS, FFN, LAYERS));
    CHECK_FAILS(lavr_layout_check_world(&l, 4, HEADS, FFN, LAYERS), LAVR_E_ARG);
    const char *msg = lavr_error_message();
    CHECK_MSG(strstr(msg, "layout steps=4,tp=1,pp=1,aux=1 needs 5 ranks but mpirun started 4; with 4 ranks use e.g. "
                          "steps=1,tp=1,pp=3,aux=1, steps=2,tp=1,pp=1,aux=2 or steps=1,tp=2,pp=1,aux=2") != NULL,
              "message: %s", msg);
    CHECK_FAILS(lavr_layout_check_world(&l, 1, HEADS, FFN, LAYERS), LAVR_E_ARG);
    CHECK(strstr(lavr_error_message(), "no layout fits 1 rank") != NULL);
    l.tp = 3; /* a model misfit is reported before the count */
    CHECK_FAILS(lavr_layout_check_world(&l, 13, HEADS, FFN, LAYERS), LAVR_E_ARG);
    CHECK(strstr(lavr_error_message(), "attention heads") != NULL);
}

int main(void) {
    test_parse();
    test_parse_errors();
    test_model_checks();
    test_layer_split();
    test_explicit_split();
    test_roles();
    test_suggestions();
    return check_summary("test_layout");
}
