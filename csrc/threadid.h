/* The collecting thread's id, as threading.get_ident() reports it.
 *
 * On pthreads builds that is pthread_self(), a call into libc (through
 * the PLT) on every collection.  On Linux x86-64 and arm64, pthread_self()
 * is the thread pointer plus a constant that is the same for every thread
 * of the process:
 *   - x86-64 (glibc, musl): the thread pointer is the address of the
 *     thread's control block, whose first word holds that address (the
 *     psABI's TLS rule), and pthread_t is that address: offset 0.
 *   - arm64 (glibc, musl): tpidr_el0 points just past struct pthread, so
 *     pthread_t is tpidr_el0 minus its size.
 * gcp_tid_init() measures the offset once and keeps the register read only
 * if it reproduces pthread_self(); tests compare record thread ids with
 * threading.get_ident() from several threads.  Elsewhere pthread_self()
 * (PyThread_get_thread_ident() on Windows) is called.
 *
 * Invariants: cannot fail, touches no Python state.
 */
#ifndef GCP_THREADID_H
#define GCP_THREADID_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#ifndef _WIN32
#  include <pthread.h>
#endif

#include "compiler.h"

typedef struct {
    int fast;                /* read the thread pointer */
    uintptr_t offset;        /* pthread_self() - thread pointer */
} gcp_threadid_t;

#if defined(__linux__) && (defined(__GNUC__) || defined(__clang__)) \
    && (defined(__x86_64__) || defined(__aarch64__))
#  define GCP_TID_REGISTER 1
static GCP_INLINE uintptr_t
gcp_thread_pointer(void)
{
    uintptr_t tp;
#  if defined(__x86_64__)
    __asm__("mov %%fs:0, %0" : "=r"(tp));
#  else
    __asm__("mrs %0, tpidr_el0" : "=r"(tp));
#  endif
    return tp;
}
#else
#  define GCP_TID_REGISTER 0
#endif

static inline void
gcp_tid_init(gcp_threadid_t *t)
{
    t->fast = 0;
    t->offset = 0;
#if GCP_TID_REGISTER
    t->offset = (uintptr_t)pthread_self() - gcp_thread_pointer();
    t->fast = gcp_thread_pointer() + t->offset == (uintptr_t)pthread_self();
#endif
}

static GCP_INLINE unsigned long
gcp_tid(const gcp_threadid_t *t)
{
#if GCP_TID_REGISTER
    if (GCP_LIKELY(t->fast)) {
        return (unsigned long)(gcp_thread_pointer() + t->offset);
    }
#else
    (void)t;
#endif
#ifdef _WIN32
    return PyThread_get_thread_ident();
#else
    return (unsigned long)pthread_self();
#endif
}

#endif /* GCP_THREADID_H */
