/* mem.h — the one allocator: counts calls so tests can check hot loops allocate nothing.
 *
 *   float *x = mem_alloc(n * sizeof(float));   // 64-byte aligned, zeroed; aborts on OOM
 *   mem_free(x);                               // NULL ok
 *   uint64_t before = mem_alloc_count();
 */
#ifndef FLOQ_MEM_H
#define FLOQ_MEM_H

#include <stddef.h>
#include <stdint.h>

/* zeroed, 64-byte aligned block of n bytes (n == 0 gives a valid 64-byte block); on failure
 * prints the size and aborts (an allocation failure is not recoverable in floq) */
void *mem_alloc(size_t n);
/* frees a block from mem_alloc; NULL is ignored */
void mem_free(void *p);
/* number of mem_alloc calls so far in this process */
uint64_t mem_alloc_count(void);
/* strdup through mem_alloc */
char *mem_strdup(const char *s);

#endif
