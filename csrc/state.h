/* Per-interpreter state of gcpause._core.
 *
 * Everything the recorder knows lives here, in the module state of one
 * module object (multi-phase init), so each interpreter has its own.  All
 * fields are read and written with the GIL held (the GC runs callbacks with
 * it held), so no field needs atomics in GIL builds; the module does not
 * declare Py_mod_gil, so a free-threaded build re-enables the GIL on import.
 */
#ifndef GCP_STATE_H
#define GCP_STATE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include "compiler.h"
#include "hist.h"
#include "infolayout.h"
#include "threadid.h"
#include "tickclock.h"

/* Slots of an aggregate: generations 0..2 as CPython reports them, then
 * records whose generation could not be read.  The callback updates one
 * slot per record; "all" is their sum, formed when a snapshot is taken. */
#define GCP_SLOTS 4
#define GCP_SLOT_OTHER 3

/* Anomaly counters, in the order snapshot() reports them. */
enum {
    GCP_ANOM_UNPAIRED_START = 0, /* a start phase while a start was pending */
    GCP_ANOM_UNPAIRED_STOP,      /* a stop phase with no start seen */
    GCP_ANOM_BAD_INFO,           /* callback arguments or info dict malformed */
    GCP_ANOM_REPAIR_FAILED,      /* reordering gc.callbacks raised (memory) */
    GCP_ANOM_COUNT
};

typedef struct {
    int64_t count;
    int64_t total_ns;
    int64_t max_ns;
    int64_t collected;
    int64_t uncollectable;
    uint64_t *hist;              /* GCP_HIST_BUCKETS counters; owned by the window */
} gcp_agg_t;

/* A window aggregates the collections that finish while it is active: the
 * global one (start()..stop(), reset by reset()) and one per open Recorder. */
typedef struct {
    int64_t id;                  /* 0 = global; Recorders count up from 1 */
    int64_t origin_ns;           /* clock at open/start/reset */
    int64_t end_ns;              /* clock at close/stop; 0 while active */
    uint64_t first_seq;          /* first record sequence number inside */
    uint64_t end_seq;            /* one past the last; UINT64_MAX while active */
    int64_t anom_base[GCP_ANOM_COUNT]; /* state->anom at open/reset */
    int64_t anom_end[GCP_ANOM_COUNT];  /* state->anom at close/stop */
    int64_t repairs_base;
    int64_t repairs_end;
    int sites;                   /* this window asked for trigger sites */
    gcp_agg_t slot[GCP_SLOTS];
} gcp_window_t;

/* One collection.  64 bytes on 64-bit builds and the ring is aligned to
 * 64, so each record fills one cache line.  A record's sequence number is
 * not stored: record s lives in slot s % ring_size (see ring_oldest()). */
typedef struct {
    int64_t start_ns;
    int64_t duration_ns;
    int64_t collected;
    int64_t uncollectable;
    int64_t cpython_duration_ns; /* -1 when the info dict has no "duration" */
    unsigned long thread_id;
    int generation;
    int site_line;
    PyObject *site_code;         /* owned code object, or NULL (sites off) */
} gcp_record_t;

typedef struct {
    /* Owned references. */
    PyObject *callbacks;         /* the gc.callbacks list object itself */
    PyObject *hooks[2];          /* our two callables (Hook objects) */
    PyTypeObject *hook_type;     /* the Hook heap type */
    PyObject *key_generation;    /* interned info-dict keys: a lookup with */
    PyObject *key_collected;     /* them allocates nothing, unlike */
    PyObject *key_uncollectable; /* PyDict_GetItemString */
    PyObject *key_duration;
    Py_hash_t hash_generation;   /* their hashes, for key_is() */
    Py_hash_t hash_collected;
    Py_hash_t hash_uncollectable;
    Py_hash_t hash_duration;

    /* Installation: hooks are in gc.callbacks iff installed. */
    int installed;
    int explicit_on;             /* start() called and not stopped */
    Py_ssize_t implicit_users;   /* open Recorder windows */

    /* Collection in progress (between a start and a stop phase). */
    int pending;
    uint64_t t_start;            /* clk's hot-path reading (ticks or ns) */
    PyObject *pending_code;      /* owned; site of the pending start */
    int pending_line;

    /* Trigger attribution (opt-in, costs a frame lookup per collection). */
    int sites_explicit;
    Py_ssize_t sites_windows;
    /* Borrowed, compared by identity only, never dereferenced: the info dict
     * of the current start / last stop phase.  CPython passes one dict to all
     * callbacks of a phase, so a second hook of ours seeing the same dict
     * knows it is in the same phase. */
    const void *start_info;
    const void *stop_info;

    /* Placement repair back-off (when other code keeps reordering). */
    uint64_t repair_allowed_seq;
    uint64_t last_repair_seq;
    uint64_t repair_backoff;
    uint64_t repair_streak;
    int64_t repairs;

    int64_t anom[GCP_ANOM_COUNT];

    gcp_tickclock_t clk;         /* the callback's clock (tickclock.h) */
    gcp_threadid_t tid;          /* how to read the thread id (threadid.h) */
    gcp_infolayout_t layout;     /* CPython's stop dict (infolayout.h) */
    int64_t info_fast;           /* stop dicts read through `layout` */
    int64_t info_slow;           /* ... and through PyDict_Next / lookups */

    /* Record ring: one writer (the callback); seq counts every record. */
    gcp_record_t *ring;          /* in ring_mem, aligned to 64; NULL until */
    void *ring_mem;              /* first install; owned, PyMem */
    Py_ssize_t ring_size;
    Py_ssize_t ring_pos;         /* slot of the next record */
    uint64_t next_seq;
    int ring_sites;              /* sites were captured: records may hold */
                                 /* site references (never reset) */

    /* Windows.  global_w is owned; active[] holds borrowed pointers to the
     * windows the callback updates (global_w while explicit_on, and every
     * open Recorder window, which active[] owns). */
    gcp_window_t *global_w;
    gcp_window_t **active;
    Py_ssize_t n_active;
    Py_ssize_t cap_active;
    int64_t next_window_id;
} gcp_state;

static inline gcp_state *
get_state(PyObject *module)
{
    void *st = PyModule_GetState(module);
    assert(st != NULL);
    return (gcp_state *)st;
}

#endif /* GCP_STATE_H */
