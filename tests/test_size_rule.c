/* Tests of the LiveAvatar size rule and the --size parser against the worked examples of
 * liveavatar-system.md §0 and §1.2, plus properties that must hold for any aspect ratio. */
#include <string.h>

#include "io/size_rule.h"
#include "tests/check.h"

static void expect_size(int64_t w0, int64_t h0, int64_t area, int64_t eh, int64_t ew, int eiter) {
    int64_t h = -1, w = -1;
    int it = -99;
    CHECK_OK(lavr_size_less_than_area(h0, w0, area, 64, &h, &w, &it));
    CHECK_MSG(h == eh && w == ew, "%lldx%lld (WxH) at area %lld gave HxW %lldx%lld, expected %lldx%lld", (long long)w0,
              (long long)h0, (long long)area, (long long)h, (long long)w, (long long)eh, (long long)ew);
    if (eiter >= 0) CHECK_MSG(it == eiter, "accepted at i=%d, expected i=%d", it, eiter);
}

int main(void) {
    /* Spec examples (W x H image -> H x W output). */
    expect_size(720, 400, 720 * 400, 384, 704, 5);
    expect_size(720, 400, 704 * 384, 384, 704, 2);
    expect_size(400, 720, 720 * 400, 704, 384, -1);
    expect_size(828, 772, 720 * 400, 512, 512, -1);
    expect_size(2720, 1568, 720 * 400, 384, 704, -1);

    /* Properties over odd aspect ratios: multiples of 64, area within the cap, aspect kept within
     * one 64-pixel step of rounding. */
    static const int64_t shapes[][2] = {{1, 1}, {333, 999}, {4000, 37}, {1920, 1080}, {77, 77}, {5000, 5000}, {641, 100}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        int64_t h, w;
        CHECK_OK(lavr_size_less_than_area(shapes[i][1], shapes[i][0], 704 * 384, 64, &h, &w, NULL));
        CHECK(h > 0 && w > 0 && h % 64 == 0 && w % 64 == 0 && h * w <= 704 * 384);
    }
    int64_t h, w;
    CHECK_OK(lavr_size_less_than_area(1080, 1920, 704 * 384, 64, &h, &w, NULL));
    CHECK(w > h);

    /* Parser. */
    CHECK_OK(lavr_size_parse("704*384", &w, &h));
    CHECK(w == 704 && h == 384);
    /* 704x384 and 704X384 are the same size as 704*384 */
    static const char *same[] = {"720x400", "720X400", "720*400"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        w = h = 0;
        CHECK_OK(lavr_size_parse(same[i], &w, &h));
        CHECK_MSG(w == 720 && h == 400, "'%s' gave %lldx%lld", same[i], (long long)w, (long long)h);
    }
    static const char *bad[] = {"", "704", "704*", "*384", "704 x 384", "704*384*2", "-704*384",
                                "704,384", "704x", "x384", "704xx384", "704*x384", "32*32", "32x32", "704.5*384", "99999999999999999999*2", "704*384 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lavr_error_clear();
        CHECK_FAILS(lavr_size_parse(bad[i], &w, &h), LAVR_E_ARG);
        CHECK_MSG(strstr(lavr_error_message(), "write WIDTH*HEIGHT or WIDTHxHEIGHT") != NULL, "message for '%s': %s", bad[i],
                  lavr_error_message());
    }
    CHECK_FAILS(lavr_size_less_than_area(0, 10, 704 * 384, 64, &h, &w, NULL), LAVR_E_ARG);
    return check_summary("test_size_rule");
}
