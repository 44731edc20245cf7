/* Reading the GC's stop-info dict without PyDict_Next.
 *
 * CPython builds that dict the same way for every collection:
 * Py_BuildValue("{sisnsn}", "generation", ..., "collected", ...,
 * "uncollectable", ...), plus "candidates" and "duration" on 3.15.  Three to
 * five PyDict_Next calls cost 45 instructions each (callgrind, 3.13), more
 * than the rest of the stop phase.  So at import we build a probe dict the
 * same way and learn where its keys object keeps each (key, value) pair;
 * in the callback, a dict whose keys object has the probe's table sizes,
 * key kind and entry count has its entries at the same offsets, and we
 * read them there.
 *
 * Which header fields are compared (Include/internal/pycore_dict.h;
 * Objects/dictobject.c on 3.9/3.10):
 *   - 3.11+: dk_log2_size, dk_log2_index_bytes and dk_kind (they fix where
 *     the entries start and how big each is; kind "unicode" means every key
 *     is an exact str and the table is combined), and dk_nentries.
 *   - 3.9/3.10: dk_size (fixes the index width and the entries' start),
 *     dk_lookup (the kind: lookdict_unicode_nodummy means exact str keys
 *     and no deleted entry), and dk_nentries.
 *   - dk_nentries == ma_used == the probe's count means no entry was
 *     deleted, so entry i is the i-th key inserted.
 *   - Not compared: dk_refcnt, dk_usable, the hash index, and on 3.11+ the
 *     byte after dk_kind (padding, uninitialised, so it differs between
 *     dicts, seen on 3.12; the keys lock in free-threaded builds) and
 *     dk_version: they vary between equal dicts and do not move entries.
 *
 * Invariants:
 *   - Learning reads only inside the probe's keys object: the scan is
 *     bounded by its size from dict.__sizeof__ (object size + keys size).
 *   - The hot path reads the compared header words of info's keys object
 *     only when info is an exact dict with the probe's item count and a
 *     combined table (a keys object always has its header), and entries
 *     only after those words matched, i.e. for an identical layout.
 *   - Anything unexpected (a different dict implementation, a dict another
 *     callback changed) fails a check and the caller falls back to
 *     PyDict_Next; the keys read are still checked by hash and length, and
 *     the values by type, like the slow path's.
 */
#ifndef GCP_INFOLAYOUT_H
#define GCP_INFOLAYOUT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include "compiler.h"

#if PY_VERSION_HEX >= 0x030F0000
#  define GCP_INFO_ITEMS 5
#else
#  define GCP_INFO_ITEMS 3
#endif
#define GCP_PREFIX_MAX 32     /* header words; 3.9-3.15 have 5 to 7 */
#define GCP_CMP_WORDS 3       /* header words compared (see above) */

typedef struct {
    int ok;                            /* learned and verified */
    Py_ssize_t used;                   /* GCP_INFO_ITEMS if ok, else -1 */
    /* The header words compared, the probe's values and the bits that
     * count; unused entries compare word 0 under mask 0. */
    Py_ssize_t cmp_word[GCP_CMP_WORDS];
    uintptr_t cmp_val[GCP_CMP_WORDS];
    uintptr_t cmp_mask[GCP_CMP_WORDS];
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
il_shape_ok(PyObject *d, Py_ssize_t n)
{
    const PyDictObject *mp = (const PyDictObject *)d;
    return PyDict_CheckExact(d) && mp->ma_used == n && mp->ma_values == NULL;
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

/* Does the keys object's header match the probe's in the compared bits? */
static GCP_INLINE int
il_prefix_ok(const gcp_infolayout_t *L, const char *keys)
{
    const uintptr_t *w = (const uintptr_t *)(const void *)keys;
#if GCP_CMP_WORDS != 3
#  error "il_prefix_ok compares exactly GCP_CMP_WORDS words"
#endif
    return (((w[L->cmp_word[0]] ^ L->cmp_val[0]) & L->cmp_mask[0])
            | ((w[L->cmp_word[1]] ^ L->cmp_val[1]) & L->cmp_mask[1])
            | ((w[L->cmp_word[2]] ^ L->cmp_val[2]) & L->cmp_mask[2])) == 0;
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
    if (!il_shape_ok(p1, GCP_INFO_ITEMS) || !il_shape_ok(p2, GCP_INFO_ITEMS)
        || (size = il_keys_size(p1)) < 0
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
    {
        /* The compared fields (see the top of this file), as a byte mask
         * over the header words before the first entry. */
        unsigned char m[GCP_PREFIX_MAX * sizeof(uintptr_t)];
        uintptr_t mask[GCP_PREFIX_MAX], word;
        const size_t S = sizeof(Py_ssize_t);
        Py_ssize_t w, n = 0;
        Py_ssize_t header_words = L->off_key[0] / (Py_ssize_t)sizeof(uintptr_t);
        if (header_words < 1 || header_words > GCP_PREFIX_MAX) {
            goto done;
        }
        memset(m, 0, sizeof(m));
#if PY_VERSION_HEX >= 0x030B0000
        /* dk_refcnt; uint8 dk_log2_size, dk_log2_index_bytes, dk_kind; a
         * byte; uint32 dk_version; dk_usable; dk_nentries */
        memset(m + S, 0xff, 3);
        memset(m + 2 * S + 8, 0xff, S);
#else
        /* dk_refcnt; dk_size; dk_lookup; dk_usable; dk_nentries */
        memset(m + S, 0xff, S + sizeof(void *));
        memset(m + 3 * S + sizeof(void *), 0xff, S);
#endif
        memcpy(mask, m, sizeof(mask));
        for (w = 0; w < GCP_PREFIX_MAX; w++) {
            if (mask[w] == 0) {
                continue;
            }
            if (w >= header_words || n == GCP_CMP_WORDS) {
                goto done;   /* a header that does not fit what we know */
            }
            memcpy(&word, keys + w * (Py_ssize_t)sizeof(uintptr_t), sizeof(word));
            L->cmp_word[n] = w;
            L->cmp_val[n] = word;
            L->cmp_mask[n] = mask[w];
            n++;
        }
    }
    /* Same construction, other values: same header, same offsets. */
    L->ok = il_matches(L, p1) && il_matches(L, p2);
done:
    if (!L->ok) {
        memset(L, 0, sizeof(*L));
    }
    L->used = L->ok ? GCP_INFO_ITEMS : -1;
    Py_XDECREF(p1);
    Py_XDECREF(p2);
}

/* Hot path: the keys and values of CPython's stop dict, in order, or 0 if
 * this dict does not have the learned layout (or none was learned: then
 * L->used is -1).  No calls, no allocation.  The keys are exact str. */
static GCP_INLINE int
il_read(const gcp_infolayout_t *L, PyObject *info, PyObject **k, PyObject **v)
{
    const char *keys;
    if (!il_shape_ok(info, L->used)) {
        return 0;
    }
    keys = (const char *)((PyDictObject *)info)->ma_keys;
    if (!il_prefix_ok(L, keys)) {
        return 0;
    }
#define GCP_IL_ENTRY(i)                                                    \
    k[i] = *(PyObject *const *)(const void *)(keys + L->off_key[i]);      \
    v[i] = *(PyObject *const *)(const void *)(keys + L->off_val[i])
    GCP_IL_ENTRY(0);
    GCP_IL_ENTRY(1);
    GCP_IL_ENTRY(2);
#if GCP_INFO_ITEMS == 5
    GCP_IL_ENTRY(3);
    GCP_IL_ENTRY(4);
#elif GCP_INFO_ITEMS != 3
#  error "il_read reads 3 or 5 entries"
#endif
#undef GCP_IL_ENTRY
    return 1;
}

#endif /* GCP_INFOLAYOUT_H */
