/* mem.h — the one allocator: counts calls so tests can check hot loops allocate nothing.
 *
 *   float *x = mem_alloc(n * sizeof(float));   // 64-byte aligned, zeroed; aborts on OOM
 *   float *y = mem_try_alloc(bytes_from_a_file); // NULL instead of aborting
 *   mem_free(x);                               // NULL ok
 *   MEM_FREE_ALL(a, b, c);                     // several at once
 *   uint64_t before = mem_alloc_count();
 */
#ifndef FLOQ_MEM_H
#define FLOQ_MEM_H

#include <stddef.h>
#include <stdint.h>

/* zeroed, 64-byte aligned block of n bytes (n == 0 gives a valid 64-byte block); on failure
 * prints the size and aborts (an allocation failure is not recoverable in floq) */
void *mem_alloc(size_t n);
/* the same, but NULL when n bytes cannot be had (or n exceeds PTRDIFF_MAX): for sizes a
 * file declares, so the loader can say so in one line */
void *mem_try_alloc(size_t n);
/* frees a block from mem_alloc; NULL is ignored */
void mem_free(void *p);
/* frees n blocks from mem_alloc; NULL entries are ignored */
void mem_free_n(void *const *blocks, size_t n);
/* MEM_FREE_ALL(a, b, c) frees every listed block (a struct's buffers in one line) */
#define MEM_FREE_ALL(...)                                                                          \
    mem_free_n((void *const[]){__VA_ARGS__}, sizeof((void *const[]){__VA_ARGS__}) / sizeof(void *))
/* number of mem_alloc calls so far in this process */
uint64_t mem_alloc_count(void);
/* strdup through mem_alloc */
char *mem_strdup(const char *s);

#endif
