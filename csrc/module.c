/* gcpause._core: times every cyclic-GC collection from gc.callbacks.
 *
 * Layout of the callables in gc.callbacks (see placement_ok()):
 *   - alone:              [H]            H takes both timestamps;
 *   - with other entries: [H, ..., P]    H takes the stop time first thing in
 *                                        the stop phase, P the start time last
 *                                        thing in the start phase, so the
 *                                        window excludes every other callback.
 * H and P are the two Hook objects in state->hooks; which one is H is
 * decided by position, not identity, so a repair may swap them.  Each extra
 * callable costs every collection (a phase str per call on 3.9-3.11), so the
 * single-callable layout is used whenever it is as precise as the pair.
 *
 * Invariants of the hot path (hook_vectorcall and what it calls, except the
 * rare placement repair and opt-in site capture): no Python object is
 * created, no exception is left set, no lock is taken, nothing can block;
 * anomalies are counted in state->anom and reported by snapshot().
 * tests/test_c_lint.py checks this.  Rare branches live in GCP_COLD
 * functions (compiler.h) so that the common path stays short: at 3.14's
 * speed the two counter reads are two thirds of what a collection costs
 * us (benchmarks/README.md).
 *
 * This file is long because the recorder, its windows and the module
 * definition share one translation unit so that everything but PyInit__core
 * stays static.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#if PY_VERSION_HEX < 0x030C0000
#  include "structmember.h"    /* T_PYSSIZET, READONLY */
#endif
#include <stddef.h>

#include "clock.h"
#include "hist.h"
#include "infolayout.h"
#include "state.h"

#define GCP_RING_MAX (1 << 22)
#define GCP_REPAIR_BACKOFF_MAX 1024
#define GCP_REPAIR_STREAK 4

/* ------------------------------------------------------------------ */
/* Windows (aggregates)                                                */
/* ------------------------------------------------------------------ */

/* Returns NULL with MemoryError set. */
static gcp_window_t *
window_new(gcp_state *st, int64_t id)
{
    gcp_window_t *w = PyMem_Calloc(1, sizeof(gcp_window_t));
    uint64_t *hist;
    int i;
    if (w == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    hist = PyMem_Calloc((size_t)GCP_SLOTS * GCP_HIST_BUCKETS, sizeof(uint64_t));
    if (hist == NULL) {
        PyMem_Free(w);
        PyErr_NoMemory();
        return NULL;
    }
    for (i = 0; i < GCP_SLOTS; i++) {
        w->slot[i].hist = hist + (size_t)i * GCP_HIST_BUCKETS;
    }
    w->id = id;
    (void)st;
    return w;
}

static void
window_free(gcp_window_t *w)
{
    if (w != NULL) {
        PyMem_Free(w->slot[0].hist);   /* one block for all slots */
        PyMem_Free(w);
    }
}

/* Zero the aggregates and start the window now.  Cannot fail. */
static void
window_restart(gcp_state *st, gcp_window_t *w)
{
    int i;
    for (i = 0; i < GCP_SLOTS; i++) {
        uint64_t *hist = w->slot[i].hist;
        memset(hist, 0, sizeof(uint64_t) * GCP_HIST_BUCKETS);
        memset(&w->slot[i], 0, sizeof(gcp_agg_t));
        w->slot[i].hist = hist;
    }
    w->origin_ns = gcp_clock_ns();
    w->end_ns = 0;
    w->first_seq = st->next_seq;
    w->end_seq = UINT64_MAX;
    memcpy(w->anom_base, st->anom, sizeof(st->anom));
    memset(w->anom_end, 0, sizeof(w->anom_end));
    w->repairs_base = st->repairs;
    w->repairs_end = 0;
}

/* Freeze the window's end.  Cannot fail. */
static void
window_close(gcp_state *st, gcp_window_t *w)
{
    w->end_ns = gcp_clock_ns();
    w->end_seq = st->next_seq;
    memcpy(w->anom_end, st->anom, sizeof(st->anom));
    w->repairs_end = st->repairs;
}

static int
active_add(gcp_state *st, gcp_window_t *w)
{
    if (st->n_active == st->cap_active) {
        Py_ssize_t cap = st->cap_active ? st->cap_active * 2 : 4;
        gcp_window_t **a = PyMem_Realloc(st->active, sizeof(*a) * (size_t)cap);
        if (a == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        st->active = a;
        st->cap_active = cap;
    }
    st->active[st->n_active++] = w;
    return 0;
}

/* Remove w from active[] (does not free it).  Cannot fail. */
static void
active_remove(gcp_state *st, gcp_window_t *w)
{
    Py_ssize_t i;
    for (i = 0; i < st->n_active; i++) {
        if (st->active[i] == w) {
            memmove(&st->active[i], &st->active[i + 1],
                    sizeof(*st->active) * (size_t)(st->n_active - i - 1));
            st->n_active--;
            return;
        }
    }
}

static gcp_window_t *
active_find(gcp_state *st, int64_t id)
{
    Py_ssize_t i;
    for (i = 0; i < st->n_active; i++) {
        if (st->active[i]->id == id && st->active[i] != st->global_w) {
            return st->active[i];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The callback                                                         */
/* ------------------------------------------------------------------ */

static int
is_ours(gcp_state *st, PyObject *o)
{
    return o == st->hooks[0] || o == st->hooks[1];
}

/* Read an int from the info dict into *out.  Returns 0, or -1 with no
 * exception set (the lookup or conversion failed and was cleared). */
static int
info_int(PyObject *info, PyObject *key, int64_t *out)
{
    PyObject *v = PyDict_GetItemWithError(info, key);  /* borrowed */
    long long x;
    if (v == NULL || !PyLong_Check(v)) {
        PyErr_Clear();
        return -1;
    }
    x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    *out = (int64_t)x;
    return 0;
}

static GCP_INLINE void
agg_add(gcp_agg_t *a, int64_t dur, int64_t collected, int64_t uncollectable,
        int bucket)
{
    a->count++;
    a->total_ns += dur;
    if (dur > a->max_ns) {
        a->max_ns = dur;
    }
    a->collected += collected;
    a->uncollectable += uncollectable;
    a->hist[bucket]++;
}

/* Is `key` the str whose hash is h and length n?  Compares the hash the
 * str caches (CPython hashes a key when it enters a dict) with that of our
 * interned copy: one load, no call; with per-process hash randomisation a
 * different key with the same hash and length is not a practical concern. */
static GCP_INLINE int
str_key_is(PyObject *key, Py_hash_t h, Py_ssize_t n)
{
    return ((PyASCIIObject *)key)->hash == h && PyUnicode_GET_LENGTH(key) == n;
}

/* The same for a key that may be any object. */
static inline int
key_is(PyObject *key, Py_hash_t h, Py_ssize_t n)
{
    return PyUnicode_CheckExact(key) && str_key_is(key, h, n);
}

/* value_int()'s general case: a big or non-compact int (never in
 * CPython's info, which holds small counts). */
static GCP_COLD int
value_int_slow(PyObject *v, int64_t *out)
{
    long long x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    *out = (int64_t)x;
    return 0;
}

/* An exact int's value into *out: 0, or -1 (no exception set) if v is not
 * an exact int or does not fit. */
static GCP_INLINE int
value_int(PyObject *v, int64_t *out)
{
    if (!PyLong_CheckExact(v)) {
        return -1;
    }
#if PY_VERSION_HEX >= 0x030C0000
    if (PyUnstable_Long_IsCompact((PyLongObject *)v)) {
        *out = (int64_t)PyUnstable_Long_CompactValue((PyLongObject *)v);
        return 0;
    }
#else
    /* Counts are small non-negative ints: one digit or zero. */
    if (Py_SIZE(v) == 0) {
        *out = 0;
        return 0;
    }
    if (Py_SIZE(v) == 1) {
        *out = (int64_t)((PyLongObject *)v)->ob_digit[0];
        return 0;
    }
#endif
    return value_int_slow(v, out);
}

#if PY_VERSION_HEX >= 0x030F0000
/* CPython 3.15+'s "duration" (float seconds) as ns in *cpy, if d is one. */
static inline void
duration_ns(PyObject *d, int64_t *cpy)
{
    if (d != NULL && PyFloat_Check(d)) {
        double s = PyFloat_AS_DOUBLE(d);
        if (s >= 0.0 && s < 1e9) {
            *cpy = (int64_t)(s * 1e9 + 0.5);
        }
    }
}
#endif

/* read_info() for any dict: PyDict_Next, which returns entries in
 * insertion order without hashing, and if the keys are not CPython's in
 * CPython's order, lookups with interned keys.  Returns 0, or -1 if
 * something was missing or malformed (no exception set). */
static GCP_COLD int
read_info_slow(gcp_state *st, PyObject *info, int64_t *gen,
               int64_t *collected, int64_t *uncollectable, int64_t *cpy)
{
    PyObject *k[GCP_INFO_ITEMS], *v[GCP_INFO_ITEMS];
    Py_ssize_t pos = 0, n;
    st->info_slow++;
    for (n = 0; n < GCP_INFO_ITEMS; n++) {
        if (!PyDict_Next(info, &pos, &k[n], &v[n])) {
            break;
        }
    }
    if (n >= 3 && key_is(k[0], st->hash_generation, 10)
        && key_is(k[1], st->hash_collected, 9)
        && key_is(k[2], st->hash_uncollectable, 13)) {
        if (value_int(v[0], gen) < 0 || value_int(v[1], collected) < 0
            || value_int(v[2], uncollectable) < 0) {
            return -1;
        }
    }
    else {
        int bad = 0;
        bad |= info_int(info, st->key_generation, gen);
        bad |= info_int(info, st->key_collected, collected);
        bad |= info_int(info, st->key_uncollectable, uncollectable);
        if (bad) {
            return -1;
        }
    }
#if PY_VERSION_HEX >= 0x030F0000
    /* "duration" is the fifth key (after "candidates") in CPython's
     * layout, else looked up. */
    if (n == 5 && key_is(k[4], st->hash_duration, 8)) {
        duration_ns(v[4], cpy);
    }
    else {
        PyObject *d = PyDict_GetItemWithError(info, st->key_duration);
        if (d == NULL && PyErr_Occurred()) {
            PyErr_Clear();
        }
        duration_ns(d, cpy);
    }
#else
    (void)cpy;
#endif
    return 0;
}

/* Read generation, collected, uncollectable (and on 3.15+ duration) from
 * the stop info.  Hot path: the learned layout (infolayout.h) gives the
 * entries without a call, and their keys and value types are checked;
 * anything else is read by read_info_slow().  Returns 0, or -1 if
 * something was missing or malformed (no exception set). */
static GCP_INLINE int
read_info(gcp_state *st, PyObject *info, int64_t *gen, int64_t *collected,
          int64_t *uncollectable, int64_t *cpy)
{
    PyObject *k[GCP_INFO_ITEMS], *v[GCP_INFO_ITEMS];
    if (il_read(&st->layout, info, k, v)
        && str_key_is(k[0], st->hash_generation, 10)
        && str_key_is(k[1], st->hash_collected, 9)
        && str_key_is(k[2], st->hash_uncollectable, 13)
#if PY_VERSION_HEX >= 0x030F0000
        && str_key_is(k[4], st->hash_duration, 8)
#endif
        && value_int(v[0], gen) == 0 && value_int(v[1], collected) == 0
        && value_int(v[2], uncollectable) == 0) {
#if PY_VERSION_HEX >= 0x030F0000
        duration_ns(v[4], cpy);
#endif
        st->info_fast++;
        return 0;
    }
    return read_info_slow(st, info, gen, collected, uncollectable, cpy);
}

/* Store one finished collection.  t_stop was read first thing in the stop
 * phase.  Cannot fail: malformed info is counted and still recorded with the
 * fields it lacks set to -1 / 0. */
static GCP_INLINE void
record_stop(gcp_state *st, PyObject *info, uint64_t t_stop)
{
    int64_t gen = -1, collected = 0, uncollectable = 0, cpy = -1;
    int64_t dur, start_ns;
    int bad, bucket, slot;
    Py_ssize_t i;
    gcp_record_t *r;

    tc_stop_times(&st->clk, st->t_start, t_stop, &start_ns, &dur);
    bad = read_info(st, info, &gen, &collected, &uncollectable, &cpy);
    slot = (gen >= 0 && gen <= 2) ? (int)gen : GCP_SLOT_OTHER;
    if (bad || slot == GCP_SLOT_OTHER) {
        st->anom[GCP_ANOM_BAD_INFO]++;
    }

    /* ring_pos == next_seq % ring_size, kept without a 64-bit division. */
    r = &st->ring[st->ring_pos];
    if (++st->ring_pos == st->ring_size) {
        st->ring_pos = 0;
    }
    st->next_seq++;
    r->start_ns = start_ns;
    r->duration_ns = dur;
    r->collected = collected;
    r->uncollectable = uncollectable;
    r->cpython_duration_ns = cpy;
    r->thread_id = gcp_tid(&st->tid);
    r->generation = (int)gen;
    /* Hand the pending site over to the record (NULL when sites are off),
     * releasing the one an older record left in this slot. */
    if (st->ring_sites) {
        Py_XSETREF(r->site_code, st->pending_code);
        st->pending_code = NULL;
        r->site_line = st->pending_line;
    }

    bucket = hist_index(dur);
    for (i = 0; i < st->n_active; i++) {
        agg_add(&st->active[i]->slot[slot], dur, collected, uncollectable,
                bucket);
    }
}

/* Opt-in trigger attribution: remember the innermost Python frame's code
 * and line in the collecting thread.  On 3.11+ PyEval_GetFrame() may create
 * the frame object, so this path allocates; that is why it is opt-in.
 * Failures are cleared and leave no site. */
static void
capture_site(gcp_state *st)
{
    PyFrameObject *f = PyEval_GetFrame();                /* borrowed */
    Py_CLEAR(st->pending_code);
    if (f == NULL) {
        PyErr_Clear();
        return;
    }
    st->pending_code = (PyObject *)PyFrame_GetCode(f);   /* new reference */
    st->ring_sites = 1;
    st->pending_line = PyFrame_GetLineNumber(f);
    if (st->pending_code == NULL) {
        PyErr_Clear();
    }
}

/* O(1): is the list laid out as [self] or [self, ..., partner]? */
static int
placement_ok(gcp_state *st, PyObject *self)
{
    PyObject *cbs = st->callbacks;
    Py_ssize_t n = PyList_GET_SIZE(cbs);
    if (n == 0 || PyList_GET_ITEM(cbs, 0) != self) {
        return 0;
    }
    if (n == 1) {
        return 1;
    }
    return n > 2 && PyList_GET_ITEM(cbs, n - 1) != self
           && is_ours(st, PyList_GET_ITEM(cbs, n - 1));
}

/* Restore the layout from the stop phase, called by the hook `self` that
 * recorded this stop, i.e. the first of ours the GC's loop reached.  The
 * GC's loop re-reads the list by index, so every callback not yet called in
 * this phase must stay at an index after self's: we only rotate the prefix
 * up to self (moving self to 0), delete our own entries after self, and
 * append.  Appended hooks see the same stop dict and do nothing.  May
 * allocate (list growth); a failure is counted, never raised. */
static void
placement_repair(gcp_state *st, PyObject *self)
{
    PyObject *cbs = st->callbacks;
    PyObject *partner = st->hooks[0] == self ? st->hooks[1] : st->hooks[0];
    Py_ssize_t n = PyList_GET_SIZE(cbs), j, ours = 0, pos = -1;

    for (j = 0; j < n; j++) {
        PyObject *o = PyList_GET_ITEM(cbs, j);
        if (o == self && pos < 0) {
            pos = j;
        }
        else if (is_ours(st, o)) {
            if (pos < 0) {
                return;  /* one of ours before self: list changed mid-phase */
            }
        }
        ours += is_ours(st, o);
    }
    if (pos < 0) {
        return;          /* self was removed by an earlier callback */
    }
    /* Delete our other entries after self, last first. */
    for (j = n - 1; j > pos; j--) {
        if (is_ours(st, PyList_GET_ITEM(cbs, j))) {
            if (PyList_SetSlice(cbs, j, j + 1, NULL) < 0) {
                goto fail;
            }
        }
    }
    if (ours == n) {
        /* Nothing foreign: keep only self ([H]); nothing after it runs. */
        if (pos > 0 && PyList_SetSlice(cbs, 0, pos, NULL) < 0) {
            goto fail;
        }
    }
    else {
        if (pos > 0) {
            /* Rotate self to the front.  The list still holds self while we
             * delete it because the GC's loop holds a reference to it. */
            if (PyList_SetSlice(cbs, pos, pos + 1, NULL) < 0
                || PyList_Insert(cbs, 0, self) < 0) {
                goto fail;
            }
        }
        if (PyList_Append(cbs, partner) < 0) {
            goto fail;
        }
    }
    st->repairs++;
    return;
fail:
    PyErr_Clear();
    st->anom[GCP_ANOM_REPAIR_FAILED]++;
}

/* The stop phase found the list not laid out as placement_ok() wants:
 * repair it, unless something keeps undoing our layout (e.g. a second
 * recorder that wants the same places): after GCP_REPAIR_STREAK
 * back-to-back repairs, wait 2, 4, 8, ... collections between attempts. */
static GCP_COLD void
placement_check(gcp_state *st, PyObject *self)
{
    uint64_t seq = st->next_seq;
    if (seq < st->repair_allowed_seq) {
        return;
    }
    if (seq - st->last_repair_seq <= st->repair_backoff + 1) {
        st->repair_streak++;
    }
    else {
        st->repair_streak = 1;
    }
    st->repair_backoff =
        st->repair_streak <= GCP_REPAIR_STREAK ? 1
        : st->repair_streak - GCP_REPAIR_STREAK >= 10
            ? GCP_REPAIR_BACKOFF_MAX
            : (uint64_t)1 << (st->repair_streak - GCP_REPAIR_STREAK);
    st->last_repair_seq = seq;
    st->repair_allowed_seq = seq + st->repair_backoff;
    placement_repair(st, self);
}

/* A start phase that does anything but stamp the time. */
static GCP_COLD void
start_unusual(gcp_state *st, PyObject *info)
{
    if (st->pending && (const void *)info != st->start_info) {
        st->anom[GCP_ANOM_UNPAIRED_START]++;
    }
    if (st->sites_explicit || st->sites_windows) {
        capture_site(st);
    }
}

/* The stop phase of hook_vectorcall(), out of line so that the start
 * phase needs no stack frame; t_stop was read first thing in the phase. */
static GCP_NOINLINE PyObject *
hook_stop(gcp_state *st, PyObject *info, int which, uint64_t t_stop)
{
    PyObject *self = st->hooks[which];
    if (!st->pending) {
        if ((const void *)info != st->stop_info) {
            st->anom[GCP_ANOM_UNPAIRED_STOP]++;
        }
        Py_RETURN_NONE;
    }
    st->pending = 0;
    st->stop_info = info;
    record_stop(st, info, t_stop);
    if (!placement_ok(st, self)) {
        placement_check(st, self);
    }
    Py_RETURN_NONE;
}

/* The callables placed in gc.callbacks: a small type whose instances are
 * called through vectorcall, straight into hook_vectorcall with the state
 * pointer they carry (no argument parsing, no module-state lookup). */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *module;            /* owned: keeps `st` alive */
    gcp_state *st;               /* borrowed from `module`; NULL if unbound */
    int which;                   /* 0 or 1: index in st->hooks */
} HookObject;

/* Called by the GC through gc.callbacks as hook(phase, info), twice per
 * collection, with the GIL held and no exception set.  `phase` is a new str
 * each call ("start" or "stop"); `info` is one dict per phase shared by all
 * callbacks.  Never raises, never returns NULL. */
static PyObject *
hook_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                PyObject *kwnames)
{
    HookObject *h = (HookObject *)callable;
    gcp_state *st = h->st;
    PyObject *info;

    if (st == NULL || !st->installed) {
        Py_RETURN_NONE;
    }
    if (PyVectorcall_NARGS(nargsf) != 2
        || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)
        || !PyUnicode_Check(args[0]) || !PyDict_Check(args[1])) {
        st->anom[GCP_ANOM_BAD_INFO]++;
        Py_RETURN_NONE;
    }
    info = args[1];

    if (PyUnicode_GET_LENGTH(args[0]) == 5) {            /* "start" */
        /* In the [H, ..., P] layout both take the start time and P, last,
         * overwrites H's: cheaper than finding out which one we are. */
        if (st->pending | st->sites_explicit | (st->sites_windows != 0)) {
            start_unusual(st, info);
        }
        st->pending = 1;
        st->start_info = info;
        st->stop_info = NULL;
        st->t_start = tc_now(&st->clk);                   /* last */
        Py_RETURN_NONE;
    }
    return hook_stop(st, info, h->which, tc_now(&st->clk));   /* "stop" */
}

static int
hook_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(((HookObject *)self)->module);
    return 0;
}

static int
hook_clear(PyObject *self)
{
    HookObject *h = (HookObject *)self;
    h->st = NULL;
    Py_CLEAR(h->module);
    return 0;
}

static void
hook_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    (void)hook_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
hook_repr(PyObject *self)
{
    return PyUnicode_FromFormat("<gcpause GC callback %c>",
                                ((HookObject *)self)->which ? 'b' : 'a');
}

static PyMemberDef hook_members[] = {
#if PY_VERSION_HEX >= 0x030C0000
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(HookObject, vectorcall),
     Py_READONLY, NULL},
#else
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(HookObject, vectorcall),
     READONLY, NULL},
#endif
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot hook_type_slots[] = {
    {Py_tp_call, (void *)PyVectorcall_Call},
    {Py_tp_traverse, (void *)hook_traverse},
    {Py_tp_clear, (void *)hook_clear},
    {Py_tp_dealloc, (void *)hook_dealloc},
    {Py_tp_repr, (void *)hook_repr},
    {Py_tp_members, (void *)hook_members},
    {Py_tp_doc, (void *)"gcpause GC callback (installed in gc.callbacks)."},
    {0, NULL},
};

static PyType_Spec hook_type_spec = {
    "gcpause._core.Hook",
    sizeof(HookObject),
    0,
#ifdef Py_TPFLAGS_DISALLOW_INSTANTIATION
    Py_TPFLAGS_DISALLOW_INSTANTIATION |
#endif
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    hook_type_slots,
};

static PyObject *
hook_new(PyObject *module, PyTypeObject *tp, gcp_state *st, int which)
{
    HookObject *h = PyObject_GC_New(HookObject, tp);
    if (h == NULL) {
        return NULL;
    }
    h->vectorcall = hook_vectorcall;
    Py_INCREF(module);
    h->module = module;
    h->st = st;
    h->which = which;
    PyObject_GC_Track(h);
    return (PyObject *)h;
}

/* ------------------------------------------------------------------ */
/* Install / uninstall                                                  */
/* ------------------------------------------------------------------ */

/* Drop the site references the ring holds.  Cannot fail. */
static void
ring_clear(gcp_state *st)
{
    Py_ssize_t i;
    for (i = 0; st->ring != NULL && i < st->ring_size; i++) {
        Py_CLEAR(st->ring[i].site_code);
    }
}

static int
ring_alloc(gcp_state *st, Py_ssize_t size)
{
    /* One spare line to align the records to cache lines. */
    void *mem = PyMem_Calloc((size_t)size * sizeof(gcp_record_t) + 63, 1);
    gcp_record_t *ring;
    if (mem == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    ring = (gcp_record_t *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    if (st->ring != NULL) {
        /* Keep the newest records that fit (seq -> seq % size). */
        uint64_t lo = st->next_seq > (uint64_t)st->ring_size
                          ? st->next_seq - (uint64_t)st->ring_size : 0;
        uint64_t s;
        if (st->next_seq - lo > (uint64_t)size) {
            lo = st->next_seq - (uint64_t)size;
        }
        for (s = lo; s < st->next_seq; s++) {
            gcp_record_t *old = &st->ring[s % (uint64_t)st->ring_size];
            ring[s % (uint64_t)size] = *old;
            old->site_code = NULL;                  /* moved */
        }
        ring_clear(st);
        PyMem_Free(st->ring_mem);
    }
    st->ring_mem = mem;
    st->ring = ring;
    st->ring_size = size;
    st->ring_pos = (Py_ssize_t)(st->next_seq % (uint64_t)size);
    return 0;
}

static int
install(gcp_state *st)
{
    Py_ssize_t n;
    if (st->installed) {
        return 0;
    }
    n = PyList_GET_SIZE(st->callbacks);
    if (n == 0) {
        if (PyList_Append(st->callbacks, st->hooks[0]) < 0) {
            return -1;
        }
    }
    else {
        if (PyList_Insert(st->callbacks, 0, st->hooks[0]) < 0) {
            return -1;
        }
        if (PyList_Append(st->callbacks, st->hooks[1]) < 0) {
            (void)PySequence_DelItem(st->callbacks, 0);
            return -1;
        }
    }
    st->pending = 0;
    st->start_info = st->stop_info = NULL;
    st->repair_backoff = 0;
    st->repair_streak = 0;
    st->repair_allowed_seq = 0;
    st->last_repair_seq = 0;
    st->installed = 1;
    return 0;
}

/* Remove every entry of ours.  Returns -1 with an exception set only if the
 * list could not be edited (never in practice: deletion does not allocate). */
static int
uninstall(gcp_state *st)
{
    Py_ssize_t j;
    if (!st->installed) {
        return 0;
    }
    st->installed = 0;
    st->pending = 0;
    Py_CLEAR(st->pending_code);
    if (st->callbacks == NULL) {
        return 0;
    }
    for (j = PyList_GET_SIZE(st->callbacks) - 1; j >= 0; j--) {
        if (is_ours(st, PyList_GET_ITEM(st->callbacks, j))) {
            if (PyList_SetSlice(st->callbacks, j, j + 1, NULL) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int
check_interpreter(void)
{
#if PY_VERSION_HEX < 0x030A0000
    /* On 3.9 the gc module is single-phase: a sub-interpreter's
     * gc.callbacks is the main interpreter's list, so hooks installed there
     * would run in the main interpreter's collections. */
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "gcpause cannot record in a sub-interpreter on "
                        "Python 3.9 (its gc.callbacks is the main "
                        "interpreter's list); use Python 3.10 or newer");
        return -1;
    }
#endif
    return 0;
}

/* Parse ring_size: TypeError for non-int (and bool), ValueError outside
 * 1..GCP_RING_MAX.  Returns -1 with an exception set. */
static int
parse_ring_size(PyObject *arg, Py_ssize_t *out)
{
    Py_ssize_t v;
    int overflow = 0;
    long long x;
    if (!PyLong_Check(arg) || PyBool_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "ring_size must be an int, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return -1;
    }
    x = PyLong_AsLongLongAndOverflow(arg, &overflow);
    if (x == -1 && PyErr_Occurred()) {
        return -1;
    }
    /* The message shows the parsed number, not repr(arg): an int subclass's
     * __repr__ may raise, and on 3.10 PyErr_Format then leaves an empty
     * ValueError. */
    if (overflow) {
        PyErr_Format(PyExc_ValueError,
                     "ring_size must be between 1 and %d, got %s", GCP_RING_MAX,
                     overflow > 0 ? "a larger number" : "a smaller number");
        return -1;
    }
    if (x < 1 || x > GCP_RING_MAX) {
        PyErr_Format(PyExc_ValueError,
                     "ring_size must be between 1 and %d, got %lld",
                     GCP_RING_MAX, x);
        return -1;
    }
    v = (Py_ssize_t)x;
    *out = v;
    return 0;
}

/* sites must be a bool.  Returns 0/1, or -1 with TypeError set. */
static int
parse_sites(PyObject *arg)
{
    if (arg == NULL) {
        return 0;
    }
    if (!PyBool_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "sites must be a bool, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return -1;
    }
    return arg == Py_True;
}

/* Make sure hooks and ring exist for a new user (explicit or a window). */
static int
acquire(gcp_state *st, Py_ssize_t ring_size, int explicit_start)
{
    int had_ring = st->ring != NULL;
    if (check_interpreter() < 0) {
        return -1;
    }
    if (!had_ring) {
        if (ring_alloc(st, ring_size) < 0) {
            return -1;
        }
    }
    else if (explicit_start && st->ring_size != ring_size) {
        if (st->explicit_on) {
            PyErr_Format(PyExc_ValueError,
                         "already recording with ring_size=%zd; stop() "
                         "first to use ring_size=%zd",
                         st->ring_size, ring_size);
            return -1;
        }
        if (ring_alloc(st, ring_size) < 0) {
            return -1;
        }
    }
    if (install(st) < 0) {
        return -1;
    }
    return 0;
}

static void
release_if_unused(gcp_state *st)
{
    if (!st->explicit_on && st->implicit_users == 0) {
        if (uninstall(st) < 0) {
            PyErr_WriteUnraisable(NULL);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Snapshots                                                            */
/* ------------------------------------------------------------------ */

static PyObject *
agg_to_tuple(const gcp_agg_t *a)
{
    PyObject *hist = PyList_New(0), *res;
    int b;
    if (hist == NULL) {
        return NULL;
    }
    for (b = 0; b < GCP_HIST_BUCKETS; b++) {
        if (a->hist[b]) {
            PyObject *pair = Py_BuildValue("(iK)", b,
                                           (unsigned long long)a->hist[b]);
            if (pair == NULL || PyList_Append(hist, pair) < 0) {
                Py_XDECREF(pair);
                Py_DECREF(hist);
                return NULL;
            }
            Py_DECREF(pair);
        }
    }
    res = Py_BuildValue("(LLLLLN)", (long long)a->count,
                        (long long)a->total_ns, (long long)a->max_ns,
                        (long long)a->collected, (long long)a->uncollectable,
                        hist);
    return res;
}

/* *out = the sum of n aggregates (out->hist must not be one of theirs). */
static void
agg_sum(gcp_agg_t *out, const gcp_agg_t *in, int n)
{
    int i, b;
    uint64_t *hist = out->hist;
    memset(out, 0, sizeof(*out));
    out->hist = hist;
    memset(hist, 0, sizeof(uint64_t) * GCP_HIST_BUCKETS);
    for (i = 0; i < n; i++) {
        out->count += in[i].count;
        out->total_ns += in[i].total_ns;
        if (in[i].max_ns > out->max_ns) {
            out->max_ns = in[i].max_ns;
        }
        out->collected += in[i].collected;
        out->uncollectable += in[i].uncollectable;
        for (b = 0; b < GCP_HIST_BUCKETS; b++) {
            hist[b] += in[i].hist[b];
        }
    }
}

/* Oldest sequence number still in the ring. */
static uint64_t
ring_oldest(gcp_state *st)
{
    if (st->ring == NULL) {
        return st->next_seq;
    }
    return st->next_seq > (uint64_t)st->ring_size
               ? st->next_seq - (uint64_t)st->ring_size : 0;
}

static uint64_t
window_end_seq(gcp_state *st, const gcp_window_t *w)
{
    return w->end_seq == UINT64_MAX ? st->next_seq : w->end_seq;
}

/* (origin_ns, end_ns, now_ns, first_seq, end_seq, overwritten,
 *  (slot0, slot1, slot2, all), (anomalies...), repairs)
 * end_ns is 0 and end_seq is the current sequence while the window is open. */
static PyObject *
window_snapshot(gcp_state *st, const gcp_window_t *w)
{
    PyObject *slots = NULL, *anom = NULL;
    gcp_window_t copy = *w;
    uint64_t *hist;
    int64_t now = gcp_clock_ns();
    uint64_t end_seq = window_end_seq(st, w), oldest = ring_oldest(st);
    uint64_t overwritten = 0;
    int64_t anom_now[GCP_ANOM_COUNT];
    int64_t repairs_now = w->end_ns ? w->repairs_end : st->repairs;
    int i;

    /* Copy everything first: building the result allocates GC objects, and
     * on 3.9-3.11 that can run a collection (and our callback) right here.
     * The copy's last slot is "all": the sum of every slot. */
    hist = PyMem_Malloc(sizeof(uint64_t) * GCP_SLOTS * GCP_HIST_BUCKETS);
    if (hist == NULL) {
        return PyErr_NoMemory();
    }
    for (i = 0; i < GCP_SLOTS; i++) {
        copy.slot[i].hist = hist + (size_t)i * GCP_HIST_BUCKETS;
        if (i != GCP_SLOT_OTHER) {
            memcpy(copy.slot[i].hist, w->slot[i].hist,
                   sizeof(uint64_t) * GCP_HIST_BUCKETS);
        }
    }
    agg_sum(&copy.slot[GCP_SLOT_OTHER], w->slot, GCP_SLOTS);
    memcpy(anom_now, w->end_ns ? w->anom_end : st->anom, sizeof(anom_now));
    if (oldest > w->first_seq) {
        overwritten = (oldest < end_seq ? oldest : end_seq) - w->first_seq;
    }

    slots = PyTuple_New(GCP_SLOTS);
    anom = PyTuple_New(GCP_ANOM_COUNT);
    if (slots == NULL || anom == NULL) {
        goto error;
    }
    for (i = 0; i < GCP_SLOTS; i++) {
        PyObject *t = agg_to_tuple(&copy.slot[i]);
        if (t == NULL) {
            goto error;
        }
        PyTuple_SET_ITEM(slots, i, t);
    }
    for (i = 0; i < GCP_ANOM_COUNT; i++) {
        PyObject *v = PyLong_FromLongLong(anom_now[i] - copy.anom_base[i]);
        if (v == NULL) {
            goto error;
        }
        PyTuple_SET_ITEM(anom, i, v);
    }
    PyMem_Free(hist);
    return Py_BuildValue("(LLLKKKNNL)", (long long)copy.origin_ns,
                         (long long)copy.end_ns, (long long)now,
                         (unsigned long long)copy.first_seq,
                         (unsigned long long)end_seq,
                         (unsigned long long)overwritten, slots, anom,
                         (long long)(repairs_now - copy.repairs_base));
error:
    PyMem_Free(hist);
    Py_XDECREF(slots);
    Py_XDECREF(anom);
    return NULL;
}

/* (co_filename, line, co_qualname or co_name) of a site; new reference. */
static PyObject *
site_tuple(PyObject *code, int line)
{
    PyObject *file, *name, *res;
    file = PyObject_GetAttrString(code, "co_filename");
    if (file == NULL) {
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030B0000
    name = PyObject_GetAttrString(code, "co_qualname");
#else
    name = PyObject_GetAttrString(code, "co_name");
#endif
    if (name == NULL) {
        Py_DECREF(file);
        return NULL;
    }
    res = Py_BuildValue("(NiN)", file, line, name);
    return res;
}

/* Records with first_seq <= seq < end_seq still in the ring, oldest first,
 * as (generation, start_ns, duration_ns, collected, uncollectable,
 * thread_id, cpython_duration_ns or None, site or None). */
static PyObject *
ring_records(gcp_state *st, uint64_t first_seq, uint64_t end_seq)
{
    PyObject *list = PyList_New(0);
    uint64_t s, lo = ring_oldest(st);
    if (list == NULL) {
        return NULL;
    }
    if (st->ring == NULL) {
        return list;
    }
    if (first_seq > lo) {
        lo = first_seq;
    }
    if (end_seq > st->next_seq) {
        end_seq = st->next_seq;
    }
    for (s = lo; s < end_seq; s++) {
        if (s < ring_oldest(st)) {
            continue;            /* overwritten since we started */
        }
        /* Copied: building the tuple may run a collection that overwrites
         * this slot (3.9-3.11 collect inside allocations). */
        gcp_record_t r_copy = st->ring[s % (uint64_t)st->ring_size];
        const gcp_record_t *r = &r_copy;
        PyObject *cpy, *t, *site;
        if (r->site_code != NULL) {
            PyObject *code = r->site_code;
            Py_INCREF(code);      /* the slot may be overwritten meanwhile */
            site = site_tuple(code, r->site_line);
            Py_DECREF(code);
            if (site == NULL) {
                goto error;
            }
        }
        else {
            Py_INCREF(Py_None);
            site = Py_None;
        }
        if (r->cpython_duration_ns >= 0) {
            cpy = PyLong_FromLongLong(r->cpython_duration_ns);
            if (cpy == NULL) {
                Py_DECREF(site);
                goto error;
            }
        }
        else {
            Py_INCREF(Py_None);
            cpy = Py_None;
        }
        t = Py_BuildValue("(iLLLLkNN)", r->generation, (long long)r->start_ns,
                          (long long)r->duration_ns, (long long)r->collected,
                          (long long)r->uncollectable, r->thread_id, cpy, site);
        if (t == NULL || PyList_Append(list, t) < 0) {
            Py_XDECREF(t);
            goto error;
        }
        Py_DECREF(t);
    }
    return list;
error:
    Py_DECREF(list);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Module functions                                                     */
/* ------------------------------------------------------------------ */

static PyObject *
core_start(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"ring_size", "sites", NULL};
    gcp_state *st = get_state(module);
    PyObject *arg, *sites_arg = NULL;
    Py_ssize_t size;
    int sites;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:start", kwlist, &arg,
                                     &sites_arg)) {
        return NULL;
    }
    if (parse_ring_size(arg, &size) < 0) {
        return NULL;
    }
    if ((sites = parse_sites(sites_arg)) < 0) {
        return NULL;
    }
    if (st->explicit_on) {
        if (sites) {
            st->sites_explicit = 1;
        }
        if (size != st->ring_size) {
            PyErr_Format(PyExc_ValueError,
                         "already recording with ring_size=%zd; stop() first "
                         "to use ring_size=%zd", st->ring_size, size);
            return NULL;
        }
        Py_RETURN_NONE;
    }
    if (st->global_w == NULL) {
        st->global_w = window_new(st, 0);
        if (st->global_w == NULL) {
            return NULL;
        }
    }
    if (active_add(st, st->global_w) < 0) {
        return NULL;
    }
    if (acquire(st, size, 1) < 0) {
        active_remove(st, st->global_w);
        return NULL;
    }
    window_restart(st, st->global_w);
    st->explicit_on = 1;
    st->sites_explicit = sites;
    Py_RETURN_NONE;
}

static PyObject *
core_stop(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    gcp_state *st = get_state(module);
    if (st->explicit_on) {
        st->explicit_on = 0;
        st->sites_explicit = 0;
        window_close(st, st->global_w);
        active_remove(st, st->global_w);
        release_if_unused(st);
    }
    Py_RETURN_NONE;
}

static PyObject *
core_is_recording(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(get_state(module)->explicit_on);
}

static PyObject *
core_reset(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    gcp_state *st = get_state(module);
    if (st->global_w != NULL) {
        window_restart(st, st->global_w);
        if (!st->explicit_on) {
            /* Stopped: an empty window that is already over. */
            window_close(st, st->global_w);
            st->global_w->end_ns = st->global_w->origin_ns;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
core_total_pause_ns(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    gcp_state *st = get_state(module);
    int64_t total = 0;
    int i;
    for (i = 0; st->global_w != NULL && i < GCP_SLOTS; i++) {
        total += st->global_w->slot[i].total_ns;
    }
    return PyLong_FromLongLong(total);
}

/* clock_info() -> dict: the callback's clock (tickclock.h). */
static PyObject *
core_clock_info(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    gcp_state *st = get_state(module);
    const gcp_tickclock_t *tc = &st->clk;
    return Py_BuildValue(
        "{sssOsdsLsL}", "source", tc->usable ? GCP_TICKS_NAME : "clock_gettime",
        "calibrated", tc->ticking ? Py_True : Py_False,
        "ns_per_tick", tc->ticking ? tc->ns_per_tick : 1.0,
        "anchors", (long long)tc->refreshes,
        "recalibrations", (long long)tc->recalibrations);
}

/* clock_error_ns() -> int | None: (mapped counter - clock_gettime) now, in
 * ns, with anchors maintained as a stop phase would; None while the clock
 * is not ticking (it may finish calibrating here) or a collection is in
 * progress (its two stamps must come from one source). */
static PyObject *
core_clock_error_ns(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    gcp_state *st = get_state(module);
    gcp_tickclock_t *tc = &st->clk;
    uint64_t t;
    int64_t ns;
    if (st->pending) {
        Py_RETURN_NONE;
    }
    if (!tc->ticking) {
        tc_after_stop(tc, 0, (uint64_t)gcp_clock_ns());
        Py_RETURN_NONE;
    }
    if (tc_maybe_refresh(tc, gcp_ticks_raw())) {
        tc_after_stop(tc, 1, 0);
        Py_RETURN_NONE;
    }
    tc_pair(&t, &ns);        /* the same back-to-back read as an anchor */
    return PyLong_FromLongLong(tc_to_ns(tc, t) - ns);
}

/* info_reads() -> dict: how the callback read the stop dicts (infolayout.h). */
static PyObject *
core_info_reads(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    gcp_state *st = get_state(module);
    return Py_BuildValue("{sOsLsL}", "layout_learned",
                         st->layout.ok ? Py_True : Py_False,
                         "fast", (long long)st->info_fast,
                         "slow", (long long)st->info_slow);
}

/* recalibrate(): map the counter to CLOCK_MONOTONIC afresh, e.g. after a
 * VM snapshot was restored.  Deferred to the end of the collection in
 * progress if called from inside one. */
static PyObject *
core_recalibrate(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    gcp_state *st = get_state(module);
    if (st->pending) {
        tc_request_recalibration(&st->clk);
    }
    else {
        st->clk.recalibrations++;
        tc_begin(&st->clk);
    }
    Py_RETURN_NONE;
}

static PyObject *
empty_snapshot(gcp_state *st)
{
    /* Never started: an all-zero window, built on the fly. */
    gcp_window_t *w = window_new(st, 0);
    PyObject *res;
    if (w == NULL) {
        return NULL;
    }
    w->first_seq = w->end_seq = st->next_seq;
    w->origin_ns = w->end_ns = gcp_clock_ns();
    res = window_snapshot(st, w);
    window_free(w);
    return res;
}

static PyObject *
core_snapshot(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    gcp_state *st = get_state(module);
    if (st->global_w == NULL) {
        return empty_snapshot(st);
    }
    return window_snapshot(st, st->global_w);
}

static PyObject *
core_records(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    gcp_state *st = get_state(module);
    if (st->global_w == NULL) {
        return PyList_New(0);
    }
    return ring_records(st, st->global_w->first_seq,
                        window_end_seq(st, st->global_w));
}

static PyObject *
core_open_window(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"ring_size", "sites", NULL};
    gcp_state *st = get_state(module);
    PyObject *arg, *sites_arg = NULL;
    Py_ssize_t size;
    gcp_window_t *w;
    int sites;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:open_window", kwlist,
                                     &arg, &sites_arg)) {
        return NULL;
    }
    if (parse_ring_size(arg, &size) < 0) {
        return NULL;
    }
    if ((sites = parse_sites(sites_arg)) < 0) {
        return NULL;
    }
    w = window_new(st, ++st->next_window_id);
    if (w == NULL) {
        return NULL;
    }
    if (active_add(st, w) < 0) {
        window_free(w);
        return NULL;
    }
    if (acquire(st, size, 0) < 0) {
        active_remove(st, w);
        window_free(w);
        return NULL;
    }
    st->implicit_users++;
    w->sites = sites;
    st->sites_windows += sites;
    window_restart(st, w);
    return PyLong_FromLongLong(w->id);
}

static gcp_window_t *
window_arg(gcp_state *st, PyObject *arg)
{
    long long id;
    gcp_window_t *w;
    if (!PyLong_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "window id must be an int");
        return NULL;
    }
    id = PyLong_AsLongLong(arg);
    if (id == -1 && PyErr_Occurred()) {
        return NULL;
    }
    w = active_find(st, (int64_t)id);
    if (w == NULL) {
        PyErr_Format(PyExc_ValueError, "no open window %lld", id);
    }
    return w;
}

static PyObject *
core_window_snapshot(PyObject *module, PyObject *arg)
{
    gcp_state *st = get_state(module);
    gcp_window_t *w = window_arg(st, arg);
    return w ? window_snapshot(st, w) : NULL;
}

/* Close a window: returns (snapshot, records) and frees it. */
static PyObject *
core_close_window(PyObject *module, PyObject *arg)
{
    gcp_state *st = get_state(module);
    gcp_window_t *w = window_arg(st, arg);
    PyObject *snap, *recs;
    if (w == NULL) {
        return NULL;
    }
    window_close(st, w);
    active_remove(st, w);
    st->implicit_users--;
    st->sites_windows -= w->sites;
    release_if_unused(st);
    snap = window_snapshot(st, w);
    recs = snap ? ring_records(st, w->first_seq, w->end_seq) : NULL;
    window_free(w);
    if (recs == NULL) {
        Py_XDECREF(snap);
        return NULL;
    }
    return Py_BuildValue("(NN)", snap, recs);
}

/* os.register_at_fork(after_in_child=...): every window starts empty and no
 * collection is pending in the child. */
static PyObject *
core_after_fork_child(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    gcp_state *st = get_state(module);
    Py_ssize_t i;
    st->pending = 0;
    for (i = 0; i < st->n_active; i++) {
        window_restart(st, st->active[i]);
    }
    if (st->global_w != NULL && !st->explicit_on) {
        window_restart(st, st->global_w);
        window_close(st, st->global_w);
        st->global_w->end_ns = st->global_w->origin_ns;
    }
    Py_RETURN_NONE;
}

static PyObject *
core_hooks(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    gcp_state *st = get_state(module);
    return PyTuple_Pack(2, st->hooks[0], st->hooks[1]);
}

static PyObject *
core_hist_index(PyObject *Py_UNUSED(module), PyObject *arg)
{
    long long v;
    if (!PyLong_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "ns must be an int, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    v = PyLong_AsLongLong(arg);
    if (v == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return PyLong_FromLong(hist_index((int64_t)v));
}

static PyObject *
core_clock_ns(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLongLong(gcp_clock_ns());
}

static PyMethodDef core_methods[] = {
    {"start", (PyCFunction)(void (*)(void))core_start,
     METH_VARARGS | METH_KEYWORDS, "start(ring_size, sites=False) -> None"},
    {"stop", core_stop, METH_NOARGS, "stop() -> None"},
    {"is_recording", core_is_recording, METH_NOARGS, "is_recording() -> bool"},
    {"reset", core_reset, METH_NOARGS, "reset() -> None"},
    {"total_pause_ns", core_total_pause_ns, METH_NOARGS,
     "total_pause_ns() -> int"},
    {"clock_info", core_clock_info, METH_NOARGS, "clock_info() -> dict"},
    {"recalibrate", core_recalibrate, METH_NOARGS, "recalibrate() -> None"},
    {"info_reads", core_info_reads, METH_NOARGS, "info_reads() -> dict"},
    {"clock_error_ns", core_clock_error_ns, METH_NOARGS,
     "clock_error_ns() -> int | None"},
    {"snapshot", core_snapshot, METH_NOARGS, "snapshot() -> raw tuple"},
    {"records", core_records, METH_NOARGS, "records() -> list of raw tuples"},
    {"open_window", (PyCFunction)(void (*)(void))core_open_window,
     METH_VARARGS | METH_KEYWORDS, "open_window(ring_size, sites=False) -> int"},
    {"window_snapshot", core_window_snapshot, METH_O,
     "window_snapshot(id, /) -> raw tuple"},
    {"close_window", core_close_window, METH_O,
     "close_window(id, /) -> (raw tuple, records)"},
    {"after_fork_child", core_after_fork_child, METH_NOARGS,
     "after_fork_child() -> None"},
    {"hooks", core_hooks, METH_NOARGS, "hooks() -> (hook_a, hook_b)"},
    {"hist_index", core_hist_index, METH_O, "hist_index(ns, /) -> int"},
    {"clock_ns", core_clock_ns, METH_NOARGS, "clock_ns() -> int"},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------ */
/* Module definition                                                    */
/* ------------------------------------------------------------------ */

/* os.register_at_fork(after_in_child=module.after_fork_child), on POSIX:
 * a forked child starts with empty windows.  The os module keeps the bound
 * function (and so this module) for the interpreter's lifetime. */
static int
register_at_fork(PyObject *module)
{
    PyObject *os = NULL, *reg = NULL, *func = NULL, *args = NULL, *kw = NULL;
    PyObject *res = NULL;
    int rc = -1;
    os = PyImport_ImportModule("os");
    if (os == NULL) {
        return -1;
    }
    reg = PyObject_GetAttrString(os, "register_at_fork");
    if (reg == NULL) {
        PyErr_Clear();               /* not POSIX: nothing to do */
        rc = 0;
        goto done;
    }
    func = PyObject_GetAttrString(module, "after_fork_child");
    args = PyTuple_New(0);
    kw = func ? Py_BuildValue("{sO}", "after_in_child", func) : NULL;
    if (args != NULL && kw != NULL) {
        res = PyObject_Call(reg, args, kw);
        rc = res ? 0 : -1;
    }
done:
    Py_XDECREF(res);
    Py_XDECREF(kw);
    Py_XDECREF(args);
    Py_XDECREF(func);
    Py_XDECREF(reg);
    Py_DECREF(os);
    return rc;
}

static int
core_exec(PyObject *module)
{
    gcp_state *st = get_state(module);
    PyObject *gc = NULL;
    int i;

    gc = PyImport_ImportModule("gc");
    if (gc == NULL) {
        goto fail;
    }
    st->callbacks = PyObject_GetAttrString(gc, "callbacks");
    if (st->callbacks == NULL) {
        goto fail;
    }
    if (!PyList_CheckExact(st->callbacks)) {
        PyErr_SetString(PyExc_ImportError, "gc.callbacks is not a list");
        goto fail;
    }
    st->hook_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &hook_type_spec, NULL);
    if (st->hook_type == NULL) {
        goto fail;
    }
    for (i = 0; i < 2; i++) {
        st->hooks[i] = hook_new(module, st->hook_type, st, i);
        if (st->hooks[i] == NULL) {
            goto fail;
        }
    }
#define GCP_KEY(field, text)                                  \
    st->field = PyUnicode_InternFromString(text);             \
    if (st->field == NULL) {                                  \
        goto fail;                                            \
    }
    GCP_KEY(key_generation, "generation")
    GCP_KEY(key_collected, "collected")
    GCP_KEY(key_uncollectable, "uncollectable")
    GCP_KEY(key_duration, "duration")
#undef GCP_KEY
    if ((st->hash_generation = PyObject_Hash(st->key_generation)) == -1
        || (st->hash_collected = PyObject_Hash(st->key_collected)) == -1
        || (st->hash_uncollectable = PyObject_Hash(st->key_uncollectable)) == -1
        || (st->hash_duration = PyObject_Hash(st->key_duration)) == -1) {
        goto fail;
    }
    gcp_tid_init(&st->tid);
    if (PyModule_AddIntConstant(module, "HIST_SUB_BITS", GCP_HIST_SUB_BITS) < 0
        || PyModule_AddIntConstant(module, "HIST_MAX_BITS", GCP_HIST_MAX_BITS) < 0
        || PyModule_AddIntConstant(module, "HIST_BUCKETS", GCP_HIST_BUCKETS) < 0
        || PyModule_AddIntConstant(module, "RING_MAX", GCP_RING_MAX) < 0) {
        goto fail;
    }
    if (register_at_fork(module) < 0) {
        goto fail;
    }
    {
        /* GCPAUSE_CLOCK=monotonic: clock_gettime for every read. */
        const char *e = getenv("GCPAUSE_CLOCK");
        int usable = gcp_ticks_usable();
        if (e != NULL && strcmp(e, "monotonic") == 0) {
            usable = 0;
        }
        else if (e != NULL && *e && strcmp(e, "auto") != 0) {
            PyErr_Format(PyExc_ValueError,
                         "GCPAUSE_CLOCK must be 'auto' or 'monotonic', "
                         "not '%.100s'", e);
            goto fail;
        }
        tc_init(&st->clk, usable);
    }
    il_learn(&st->layout);
    Py_DECREF(gc);
    return 0;
fail:
    Py_XDECREF(gc);
    return -1;
}

static int
core_traverse(PyObject *module, visitproc visit, void *arg)
{
    gcp_state *st = get_state(module);
    Py_VISIT(st->callbacks);
    Py_VISIT(st->hooks[0]);
    Py_VISIT(st->hooks[1]);
    Py_VISIT(st->hook_type);
    return 0;
}

static int
core_clear(PyObject *module)
{
    gcp_state *st = get_state(module);
    /* Take our hooks out before dropping the list so nothing can call
     * into a cleared state. */
    if (uninstall(st) < 0) {
        PyErr_Clear();
    }
    Py_CLEAR(st->callbacks);
    Py_CLEAR(st->hooks[0]);
    Py_CLEAR(st->hooks[1]);
    Py_CLEAR(st->hook_type);
    Py_CLEAR(st->key_generation);
    Py_CLEAR(st->key_collected);
    Py_CLEAR(st->key_uncollectable);
    Py_CLEAR(st->key_duration);
    return 0;
}

static void
core_free(void *module)
{
    gcp_state *st = get_state((PyObject *)module);
    Py_ssize_t i;
    (void)core_clear((PyObject *)module);
    for (i = 0; i < st->n_active; i++) {
        if (st->active[i] != st->global_w) {
            window_free(st->active[i]);
        }
    }
    PyMem_Free(st->active);
    st->active = NULL;
    st->n_active = st->cap_active = 0;
    window_free(st->global_w);
    st->global_w = NULL;
    ring_clear(st);
    PyMem_Free(st->ring_mem);
    st->ring_mem = NULL;
    st->ring = NULL;
}

static PyModuleDef_Slot core_slots[] = {
    {Py_mod_exec, (void *)core_exec},
#if PY_VERSION_HEX >= 0x030C0000
    /* All state is per module object; no process-global C state. */
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    /* No Py_mod_gil: the callback state is not yet safe without the GIL. */
    {0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    "gcpause._core",
    "C recorder of cyclic-GC pauses (see the gcpause package).",
    sizeof(gcp_state),
    core_methods,
    core_slots,
    core_traverse,
    core_clear,
    core_free,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&core_module);
}
