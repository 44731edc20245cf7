/* Reading the GC's stop-info dict without PyDict_Next.
 *
 * CPython builds that dict the same way for every collection:
 * Py_BuildValue("{sisnsn}", "generation", ..., "collected", ...,
 * "uncollectable", ...), plus "candidates" and "duration" on 3.15.  Three to
 * five PyDict_Next calls cost 45 instructions each (callgrind, 3.13), more
 * than the rest of the stop phase.  So at import we build a probe dict the
 * same way and learn where its keys object keeps each (key, value) pair;
 * in the callback, a dict whose keys object starts with the probe's bytes
 * (header, hash index and, on 3.9/3.10, the first hash) has its entries at
 * the same offsets, and we read them there.  One header byte is not
 * compared: on 3.11+ the byte after dk_kind is padding (uninitialised, so
 * it differs between dicts; seen on 3.12) or, in free-threaded builds, the
 * keys object's lock (Include/internal/pycore_dict.h, 3.11-3.15).
 *
 * Invariants:
 *   - Learning reads only inside the probe's keys object: the scan is
 *     bounded by its size from dict.__sizeof__ (object size + keys size).
 *   - The hot path reads prefix_words words of info's keys object only when
 *     info is an exact dict with the probe's item count and a combined
 *     table; such a keys object has a header and at least the minimum
 *     8-slot index, which is all the prefix covers.  Entries are read only
 *     after the whole prefix matched, i.e. for an identical layout.
 *   - Anything unexpected (a different dict implementation, a free-threaded
 *     build's lock bits, a dict another callback changed) fails a check and
 *     the caller falls back to PyDict_Next; the values read are still
 *     checked by key_is()/value_int() like the slow path's.
 */
#ifndef GCP_INFOLAYOUT_H
#define GCP_INFOLAYOUT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#if PY_VERSION_HEX >= 0x030F0000
#  define GCP_INFO_ITEMS 5
#else
#  define GCP_INFO_ITEMS 3
#endif
#define GCP_PREFIX_MAX 32     /* words; a 3.9-3.15 prefix is 6 or 7 */

typedef struct {
    int ok;                            /* learned and verified */
    Py_ssize_t prefix_words;
    uintptr_t prefix[GCP_PREFIX_MAX];  /* the probe keys object's first words */
    uintptr_t mask[GCP_PREFIX_MAX];    /* the bits of them that are compared */
    Py_ssize_t off_key[GCP_INFO_ITEMS];
    Py_ssize_t off_val[GCP_INFO_ITEMS];
} gcp_infolayout_t;

/* A dict built exactly like CPython's stop info; `base` varies the values
 * so that two probes can be told apart.  New reference or NULL. */
static PyObject *
il_probe(int base)
{
#if PY_VERSION_HEX >= 0x030F0000
    return Py_BuildValue("{sisnsnsnsd}", "generation", base,
                         "collected", (Py_ssize_t)base + 1,
                         "uncollectable", (Py_ssize_t)base + 2,
                         "candidates", (Py_ssize_t)base + 3,
                         "duration", (double)base + 0.5);
#else
    return Py_BuildValue("{sisnsn}", "generation", base,
                         "collected", (Py_ssize_t)base + 1,
                         "uncollectable", (Py_ssize_t)base + 2);
#endif
}

/* Combined-table dict with n items?  (What the hot path checks first.) */
static inline int
il_shape_ok(PyObject *d)
{
    const PyDictObject *mp = (const PyDictObject *)d;
    return PyDict_CheckExact(d) && mp->ma_used == GCP_INFO_ITEMS
           && mp->ma_values == NULL;
}

/* Size of d's keys object in bytes, from dict.__sizeof__; -1 if unknown. */
static Py_ssize_t
il_keys_size(PyObject *d)
{
    PyObject *r = PyObject_CallMethod(d, "__sizeof__", NULL);
    Py_ssize_t n;
    if (r == NULL) {
        PyErr_Clear();
        return -1;
    }
    n = PyLong_AsSsize_t(r);
    Py_DECREF(r);
    if (n == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    n -= (Py_ssize_t)PyDict_Type.tp_basicsize;
    return n > 0 ? n : -1;
}

/* Does the keys object start like the probe's (masked)? */
static inline int
il_prefix_ok(const gcp_infolayout_t *L, const char *keys)
{
    Py_ssize_t i;
    for (i = 0; i < L->prefix_words; i++) {
        if ((((const uintptr_t *)(const void *)keys)[i] ^ L->prefix[i]) & L->mask[i]) {
            return 0;
        }
    }
    return 1;
}

/* Do d's entries sit at L's offsets, with the keys and values PyDict_Next
 * reports?  Reads only offsets learned inside a same-sized keys object. */
static int
il_matches(const gcp_infolayout_t *L, PyObject *d)
{
    const char *keys = (const char *)((PyDictObject *)d)->ma_keys;
    Py_ssize_t pos = 0, i;
    PyObject *k, *v;
    if (!il_prefix_ok(L, keys)) {
        return 0;
    }
    for (i = 0; i < GCP_INFO_ITEMS; i++) {
        if (!PyDict_Next(d, &pos, &k, &v)
            || *(PyObject *const *)(const void *)(keys + L->off_key[i]) != k
            || *(PyObject *const *)(const void *)(keys + L->off_val[i]) != v) {
            return 0;
        }
    }
    return 1;
}

/* Learn the layout from one probe and verify it on a second.  Never fails:
 * L->ok stays 0 when anything is off, and no exception is left set. */
static void
il_learn(gcp_infolayout_t *L)
{
    PyObject *p1 = il_probe(1), *p2 = il_probe(100);
    PyObject *want[2 * GCP_INFO_ITEMS];
    const char *keys;
    Py_ssize_t size, pos = 0, off, found = 0, i;
    PyObject *k, *v;

    memset(L, 0, sizeof(*L));
    if (p1 == NULL || p2 == NULL) {
        PyErr_Clear();
        goto done;
    }
    if (!il_shape_ok(p1) || !il_shape_ok(p2) || (size = il_keys_size(p1)) < 0
        || il_keys_size(p2) != size) {
        goto done;
    }
    for (i = 0; i < GCP_INFO_ITEMS; i++) {
        if (!PyDict_Next(p1, &pos, &k, &v)) {
            goto done;
        }
        want[2 * i] = k;
        want[2 * i + 1] = v;
    }
    /* Entries store key before value, in insertion order: find the pointers
     * in that order, word by word, never past the keys object's end. */
    keys = (const char *)((PyDictObject *)p1)->ma_keys;
    for (off = 0; found < 2 * GCP_INFO_ITEMS
                  && off + (Py_ssize_t)sizeof(void *) <= size;
         off += (Py_ssize_t)sizeof(void *)) {
        if (*(PyObject *const *)(const void *)(keys + off) == want[found]) {
            if (found % 2 == 0) {
                L->off_key[found / 2] = off;
            }
            else {
                L->off_val[found / 2] = off;
            }
            found++;
        }
    }
    if (found != 2 * GCP_INFO_ITEMS) {
        goto done;
    }
    L->prefix_words = L->off_key[0] / (Py_ssize_t)sizeof(uintptr_t);
    if (L->prefix_words < 1 || L->prefix_words > GCP_PREFIX_MAX) {
        goto done;
    }
    memcpy(L->prefix, keys, (size_t)L->prefix_words * sizeof(uintptr_t));
    {
        unsigned char m[GCP_PREFIX_MAX * sizeof(uintptr_t)];
        memset(m, 0xff, sizeof(m));
#if PY_VERSION_HEX >= 0x030B0000
        m[sizeof(Py_ssize_t) + 3] = 0;   /* after dk_refcnt, 3 uint8_t fields */
#endif
        memcpy(L->mask, m, sizeof(L->mask));
    }
    /* Same construction, other values: same prefix, same offsets. */
    L->ok = il_matches(L, p1) && il_matches(L, p2);
done:
    if (!L->ok) {
        memset(L, 0, sizeof(*L));
    }
    Py_XDECREF(p1);
    Py_XDECREF(p2);
}

/* Hot path: the keys and values of CPython's stop dict, in order, or 0 if
 * this dict does not have the learned layout.  No calls, no allocation. */
static inline int
il_read(const gcp_infolayout_t *L, PyObject *info, PyObject **k, PyObject **v)
{
    const char *keys;
    Py_ssize_t i;
    if (!L->ok || !il_shape_ok(info)) {
        return 0;
    }
    keys = (const char *)((PyDictObject *)info)->ma_keys;
    if (!il_prefix_ok(L, keys)) {
        return 0;
    }
    for (i = 0; i < GCP_INFO_ITEMS; i++) {
        k[i] = *(PyObject *const *)(const void *)(keys + L->off_key[i]);
        v[i] = *(PyObject *const *)(const void *)(keys + L->off_val[i]);
    }
    return 1;
}

#endif /* GCP_INFOLAYOUT_H */
