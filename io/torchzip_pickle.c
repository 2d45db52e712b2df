/* Pickle interpreter for torch state dicts (io/torchzip_pickle.h): a stack machine over the opcodes
 * torch.save writes; every value lives in one list owned by the lavr_pickle and freed together. */
#include "io/torchzip_pickle.h"

#include <stdlib.h>
#include <string.h>

struct lavr_pickle {
    lavr_pk_value **all; /* every value made, for freeing */
    int64_t n_all, cap_all;
};

typedef struct {
    lavr_pickle *p;
    const unsigned char *data;
    int64_t size, pos;
    const char *what;
    lavr_pk_value **stack;
    int64_t depth, cap_stack;
    int64_t *marks;
    int64_t n_marks, cap_marks;
    lavr_pk_value **memo;
    int64_t cap_memo, memo_len; /* memo_len: entries stored (MEMOIZE's next index) */
} machine;

static int grow(void **buf, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return 0;
    int64_t c = *cap ? *cap * 2 : 64;
    while (c < need) c *= 2;
    void *b = realloc(*buf, (size_t)c * elem);
    if (!b) return -1;
    memset((char *)b + (size_t)*cap * elem, 0, (size_t)(c - *cap) * elem);
    *buf = b, *cap = c;
    return 0;
}

static lavr_pk_value *new_value(machine *m, lavr_pk_type type) {
    lavr_pickle *p = m->p;
    if (grow((void **)&p->all, &p->cap_all, p->n_all + 1, sizeof *p->all)) return NULL;
    lavr_pk_value *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->type = type;
    p->all[p->n_all++] = v;
    return v;
}

static int add_item(lavr_pk_value *c, lavr_pk_value *item) {
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 4;
        lavr_pk_value **items = realloc(c->items, (size_t)cap * sizeof *items);
        if (!items) return -1;
        c->items = items, c->cap = cap;
    }
    c->items[c->n++] = item;
    return 0;
}

#define BAD(m, op, msg) LAVR_FAIL(LAVR_E_FORMAT, "%s: corrupt pickle at byte %lld (opcode 0x%02x): %s", (m)->what, (long long)(m)->pos, op, msg)
#define OOM() LAVR_FAIL(LAVR_E_NOMEM, "out of memory unpickling %s", m->what)

static lavr_status push(machine *m, lavr_pk_value *v) {
    if (!v || grow((void **)&m->stack, &m->cap_stack, m->depth + 1, sizeof *m->stack)) return OOM();
    m->stack[m->depth++] = v;
    return LAVR_OK;
}

static lavr_status need_bytes(machine *m, int op, int64_t n) {
    if (n < 0 || m->pos + n > m->size) return BAD(m, op, "the data ends inside an argument (truncated?)");
    return LAVR_OK;
}

static uint64_t le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static lavr_status push_string(machine *m, int op, int64_t len) {
    TRY(need_bytes(m, op, len));
    lavr_pk_value *v = new_value(m, LAVR_PK_STR);
    if (!v || !(v->s = malloc((size_t)len + 1))) return OOM();
    memcpy(v->s, m->data + m->pos, (size_t)len);
    v->s[len] = 0;
    v->i = len;
    m->pos += len;
    return push(m, v);
}

/* Items above the topmost mark become a new container of `type`. */
static lavr_status pop_to_mark(machine *m, int op, lavr_pk_type type, lavr_pk_value **out) {
    if (m->n_marks == 0) return BAD(m, op, "no MARK on the stack");
    int64_t base = m->marks[--m->n_marks];
    lavr_pk_value *c = new_value(m, type);
    if (!c) return OOM();
    for (int64_t i = base; i < m->depth; i++)
        if (add_item(c, m->stack[i])) return OOM();
    m->depth = base;
    *out = c;
    return LAVR_OK;
}

static lavr_status pop_n(machine *m, int op, int n, lavr_pk_value **out) {
    if (m->depth < n) return BAD(m, op, "stack underflow");
    lavr_pk_value *t = new_value(m, LAVR_PK_TUPLE);
    if (!t) return OOM();
    for (int64_t i = m->depth - n; i < m->depth; i++)
        if (add_item(t, m->stack[i])) return OOM();
    m->depth -= n;
    *out = t;
    return LAVR_OK;
}

static lavr_status memo_put(machine *m, int op, int64_t index) {
    if (m->depth < 1) return BAD(m, op, "memo put on an empty stack");
    if (index < 0 || index > (1LL << 31) || grow((void **)&m->memo, &m->cap_memo, index + 1, sizeof *m->memo))
        return BAD(m, op, "memo index out of range");
    if (!m->memo[index]) m->memo_len++;
    m->memo[index] = m->stack[m->depth - 1];
    return LAVR_OK;
}

static lavr_status memo_get(machine *m, int op, int64_t index) {
    if (index < 0 || index >= m->cap_memo || !m->memo[index]) return BAD(m, op, "memo index was never stored");
    return push(m, m->memo[index]);
}

static lavr_status set_items(machine *m, int op, int64_t base) {
    if (base < 1 || (m->depth - base) % 2) return BAD(m, op, "odd number of items for a dict");
    lavr_pk_value *d = m->stack[base - 1];
    if (d->type != LAVR_PK_DICT) return BAD(m, op, "SETITEMS on something that is not a dict");
    for (int64_t i = base; i < m->depth; i++)
        if (add_item(d, m->stack[i])) return OOM();
    m->depth = base;
    return LAVR_OK;
}

static lavr_status append_items(machine *m, int op, int64_t base) {
    if (base < 1) return BAD(m, op, "stack underflow");
    lavr_pk_value *l = m->stack[base - 1];
    if (l->type != LAVR_PK_LIST) return BAD(m, op, "APPEND on something that is not a list");
    for (int64_t i = base; i < m->depth; i++)
        if (add_item(l, m->stack[i])) return OOM();
    m->depth = base;
    return LAVR_OK;
}

static lavr_status make_global(machine *m, int op, const char *module, int64_t mlen, const char *name, int64_t nlen) {
    lavr_pk_value *g = new_value(m, LAVR_PK_GLOBAL);
    if (!g || !(g->s = malloc((size_t)(mlen + nlen + 2)))) return OOM();
    memcpy(g->s, module, (size_t)mlen);
    g->s[mlen] = '.';
    memcpy(g->s + mlen + 1, name, (size_t)nlen);
    g->s[mlen + 1 + nlen] = 0;
    (void)op;
    return push(m, g);
}

static lavr_status op_global(machine *m, int op) {
    const char *start = (const char *)m->data + m->pos, *end = (const char *)m->data + m->size;
    const char *nl1 = memchr(start, '\n', (size_t)(end - start));
    const char *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)) : NULL;
    if (!nl2) return BAD(m, op, "unterminated GLOBAL name");
    TRY(make_global(m, op, start, nl1 - start, nl1 + 1, nl2 - nl1 - 1));
    m->pos = (int64_t)(nl2 + 1 - (const char *)m->data);
    return LAVR_OK;
}

static lavr_status op_reduce(machine *m, int op) {
    if (m->depth < 2) return BAD(m, op, "stack underflow");
    lavr_pk_value *fn = m->stack[m->depth - 2], *args = m->stack[m->depth - 1];
    m->depth -= 2;
    if (args->type != LAVR_PK_TUPLE) return BAD(m, op, "REDUCE arguments are not a tuple");
    if (fn->type == LAVR_PK_GLOBAL && strcmp(fn->s, "collections.OrderedDict") == 0) {
        if (args->n != 0) return BAD(m, op, "OrderedDict with arguments is not supported");
        return push(m, new_value(m, LAVR_PK_DICT));
    }
    lavr_pk_value *call = new_value(m, LAVR_PK_CALL);
    if (!call || add_item(call, fn) || add_item(call, args)) return OOM();
    return push(m, call);
}

static lavr_status step(machine *m, int *stop) {
    const int op = m->data[m->pos++];
    const unsigned char *a = m->data + m->pos;
    lavr_pk_value *v = NULL;
    switch (op) {
    case 0x80: TRY(need_bytes(m, op, 1)); m->pos += 1; return LAVR_OK;           /* PROTO */
    case 0x95: TRY(need_bytes(m, op, 8)); m->pos += 8; return LAVR_OK;           /* FRAME */
    case '.': *stop = 1; return LAVR_OK;                                          /* STOP */
    case '(':                                                                     /* MARK */
        if (grow((void **)&m->marks, &m->cap_marks, m->n_marks + 1, sizeof *m->marks)) return OOM();
        m->marks[m->n_marks++] = m->depth;
        return LAVR_OK;
    case 'N': return push(m, new_value(m, LAVR_PK_NONE));
    case 0x88: case 0x89:                                                         /* NEWTRUE / NEWFALSE */
        if ((v = new_value(m, LAVR_PK_BOOL))) v->i = op == 0x88;
        return push(m, v);
    case 'K': case 'M': case 'J': {                                               /* BININT1/2/4 */
        int n = op == 'K' ? 1 : op == 'M' ? 2 : 4;
        TRY(need_bytes(m, op, n));
        if ((v = new_value(m, LAVR_PK_INT))) v->i = op == 'J' ? (int64_t)(int32_t)le(a, 4) : (int64_t)le(a, n);
        m->pos += n;
        return push(m, v);
    }
    case 0x8a: {                                                                  /* LONG1 */
        TRY(need_bytes(m, op, 1));
        int n = a[0];
        if (n > 8) return BAD(m, op, "integer wider than 64 bits");
        TRY(need_bytes(m, op, 1 + n));
        uint64_t u = n ? le(a + 1, n) : 0;
        if (n && n < 8 && (a[n] & 0x80)) u |= ~0ULL << (8 * n); /* two's complement sign */
        if ((v = new_value(m, LAVR_PK_INT))) v->i = (int64_t)u;
        m->pos += 1 + n;
        return push(m, v);
    }
    case 'G': {                                                                   /* BINFLOAT, big-endian */
        TRY(need_bytes(m, op, 8));
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u = u << 8 | a[i];
        if ((v = new_value(m, LAVR_PK_FLOAT))) memcpy(&v->f, &u, 8);
        m->pos += 8;
        return push(m, v);
    }
    case 'X': case 'T': TRY(need_bytes(m, op, 4)); m->pos += 4; return push_string(m, op, (int64_t)le(a, 4));
    case 0x8c: case 'U': TRY(need_bytes(m, op, 1)); m->pos += 1; return push_string(m, op, a[0]);
    case 'c': return op_global(m, op);
    case 0x93: {                                                                  /* STACK_GLOBAL */
        if (m->depth < 2) return BAD(m, op, "stack underflow");
        lavr_pk_value *mod = m->stack[m->depth - 2], *name = m->stack[m->depth - 1];
        if (mod->type != LAVR_PK_STR || name->type != LAVR_PK_STR) return BAD(m, op, "STACK_GLOBAL needs two strings");
        m->depth -= 2;
        return make_global(m, op, mod->s, mod->i, name->s, name->i);
    }
    case ')': return push(m, new_value(m, LAVR_PK_TUPLE));
    case ']': return push(m, new_value(m, LAVR_PK_LIST));
    case '}': return push(m, new_value(m, LAVR_PK_DICT));
    case 't': TRY(pop_to_mark(m, op, LAVR_PK_TUPLE, &v)); return push(m, v);
    case 'l': TRY(pop_to_mark(m, op, LAVR_PK_LIST, &v)); return push(m, v);
    case 0x85: case 0x86: case 0x87: TRY(pop_n(m, op, op - 0x84, &v)); return push(m, v);
    case 'a': return append_items(m, op, m->depth - 1);
    case 's': return set_items(m, op, m->depth - 2);
    case 'e': case 'u': {
        if (m->n_marks == 0) return BAD(m, op, "no MARK on the stack");
        int64_t base = m->marks[--m->n_marks];
        return op == 'u' ? set_items(m, op, base) : append_items(m, op, base);
    }
    case 'q': TRY(need_bytes(m, op, 1)); m->pos += 1; return memo_put(m, op, a[0]);
    case 'r': TRY(need_bytes(m, op, 4)); m->pos += 4; return memo_put(m, op, (int64_t)le(a, 4));
    case 0x94: return memo_put(m, op, m->memo_len); /* MEMOIZE */
    case 'h': TRY(need_bytes(m, op, 1)); m->pos += 1; return memo_get(m, op, a[0]);
    case 'j': TRY(need_bytes(m, op, 4)); m->pos += 4; return memo_get(m, op, (int64_t)le(a, 4));
    case 'Q': {                                                                   /* BINPERSID */
        if (m->depth < 1) return BAD(m, op, "stack underflow");
        if (!(v = new_value(m, LAVR_PK_PERSID)) || add_item(v, m->stack[m->depth - 1])) return OOM();
        m->stack[m->depth - 1] = v;
        return LAVR_OK;
    }
    case 'R': return op_reduce(m, op);
    case 'b':                                                                     /* BUILD */
        /* the only state in a state dict is OrderedDict's `_metadata` (module versions): dropped */
        if (m->depth < 2) return BAD(m, op, "stack underflow");
        m->depth -= 1;
        return LAVR_OK;
    default:
        m->pos--;
        return LAVR_FAIL(LAVR_E_FORMAT, "%s: unsupported pickle opcode 0x%02x at byte %lld (not a torch state dict?)",
                         m->what, op, (long long)m->pos);
    }
}

lavr_status lavr_pickle_load(const unsigned char *data, int64_t size, const char *what, lavr_pickle **out,
                             const lavr_pk_value **root) {
    CHECK_ARG(data && out && root, "lavr_pickle_load: NULL argument");
    *out = NULL, *root = NULL;
    machine m = {.data = data, .size = size, .what = what ? what : "pickle"};
    m.p = calloc(1, sizeof *m.p);
    if (!m.p) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory unpickling %s", m.what);
    lavr_status st = LAVR_OK;
    int stop = 0;
    while (!st && !stop) {
        if (m.pos >= m.size) st = LAVR_FAIL(LAVR_E_FORMAT, "%s: pickle ends without STOP (truncated?)", m.what);
        else st = step(&m, &stop);
    }
    if (!st && m.depth != 1) st = LAVR_FAIL(LAVR_E_FORMAT, "%s: pickle leaves %lld values on the stack, expected 1", m.what, (long long)m.depth);
    if (!st) *root = m.stack[0];
    free(m.stack), free(m.marks), free(m.memo);
    if (st) {
        lavr_pickle_free(m.p);
        return st;
    }
    *out = m.p;
    return LAVR_OK;
}

void lavr_pickle_free(lavr_pickle *p) {
    if (!p) return;
    for (int64_t i = 0; i < p->n_all; i++) {
        free(p->all[i]->s);
        free(p->all[i]->items);
        free(p->all[i]);
    }
    free(p->all);
    free(p);
}
