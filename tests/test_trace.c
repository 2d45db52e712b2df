/* The in-memory trace (core/trace.c): off until enabled, at most max_events slices kept and the rest
 * counted as dropped, each slice's numbers and names as recorded, nested slices inside their parent. */
#include <string.h>

#include "check.h"
#include "core/trace.h"

int main(void) {
    int64_t count = -1, dropped = -1;
    lavr_trace_slice(LAVR_TRACE_FORWARD, 0, 1, 2); /* off: nothing kept */
    CHECK(!lavr_trace_enabled() && lavr_trace_now() == 0);
    lavr_trace_events(&count, &dropped);
    CHECK(count == 0 && dropped == 0);
    CHECK_FAILS(lavr_trace_enable(0), LAVR_E_ARG);

    CHECK_OK(lavr_trace_enable(3));
    CHECK(lavr_trace_enabled());
    const int64_t outer = lavr_trace_now();
    const int64_t inner = lavr_trace_now();
    lavr_trace_slice(LAVR_TRACE_SEND, inner, 4, 1000);
    lavr_trace_slice(LAVR_TRACE_FORWARD, outer, 7, 3);
    for (int i = 0; i < 5; i++) lavr_trace_slice(LAVR_TRACE_WAIT, lavr_trace_now(), i, 0);
    const lavr_trace_event *ev = lavr_trace_events(&count, &dropped);
    CHECK_MSG(count == 3 && dropped == 4, "%lld kept, %lld dropped", (long long)count, (long long)dropped);
    CHECK(ev[0].kind == LAVR_TRACE_SEND && ev[0].a == 4 && ev[0].b == 1000);
    CHECK(ev[1].kind == LAVR_TRACE_FORWARD && ev[1].a == 7 && ev[1].b == 3);
    CHECK(ev[2].kind == LAVR_TRACE_WAIT && ev[2].a == 0);
    /* the send ran inside the forward */
    CHECK(ev[1].start_ns <= ev[0].start_ns && ev[0].start_ns <= ev[0].end_ns && ev[0].end_ns <= ev[1].end_ns);
    CHECK(strcmp(lavr_trace_kind_name(LAVR_TRACE_FORWARD), "forward") == 0);
    CHECK(strcmp(lavr_trace_kind_arg(LAVR_TRACE_FORWARD, 1), "step") == 0);
    CHECK(lavr_trace_kind_arg(LAVR_TRACE_LOAD, 0) == NULL);
    lavr_trace_disable();
    CHECK(!lavr_trace_enabled());
    lavr_trace_events(&count, &dropped);
    CHECK(count == 0 && dropped == 0);
    return check_summary("test_trace");
}
