/* tool_pngcheck — checks that a file is a well-formed PNG of a given size, independently of
 * gnuplot and of floq plot.
 *   tool_pngcheck FILE.png WIDTH HEIGHT
 * Checks the 8-byte signature, that the first chunk is IHDR (13 bytes) with that width and
 * height, and every chunk's CRC-32 (computed here from the PNG spec's polynomial), up to an
 * IEND chunk that ends the file. Prints "ok WxH, N chunks" or the first problem; exit 0 or 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CRC-32 of the PNG spec (ISO 3309 / ITU-T V.42): reflected polynomial 0xEDB88320 */
static uint32_t crc32_png(const unsigned char *p, size_t n) {
    static uint32_t table[256];
    if (!table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) {
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
            table[i] = c;
        }
    }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    }
    return c ^ 0xFFFFFFFFu;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int fail(const char *path, const char *what) {
    printf("tool_pngcheck: %s: %s\n", path, what);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: tool_pngcheck FILE.png WIDTH HEIGHT\n");
        return 2;
    }
    const char *path = argv[1];
    long want_w = atol(argv[2]), want_h = atol(argv[3]);
    FILE *f = fopen(path, "rb");
    if (!f) {
        return fail(path, "cannot open");
    }
    static unsigned char buf[64 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n < 8 || memcmp(buf, sig, 8) != 0) {
        return fail(path, "no PNG signature");
    }
    if (n < 8 + 25 || be32(buf + 8) != 13 || memcmp(buf + 12, "IHDR", 4) != 0) {
        return fail(path, "first chunk is not a 13-byte IHDR");
    }
    long w = (long)be32(buf + 16), h = (long)be32(buf + 20);
    if (w != want_w || h != want_h) {
        char msg[128];
        snprintf(msg, sizeof msg, "IHDR says %ldx%ld, expected %ldx%ld", w, h, want_w, want_h);
        return fail(path, msg);
    }
    size_t pos = 8;
    int chunks = 0, iend = 0;
    while (pos + 12 <= n && !iend) {
        uint32_t len = be32(buf + pos);
        if (len > n - pos - 12) {
            return fail(path, "a chunk runs past the end of the file");
        }
        uint32_t crc = crc32_png(buf + pos + 4, (size_t)len + 4);
        if (crc != be32(buf + pos + 8 + len)) {
            char msg[128];
            snprintf(msg, sizeof msg, "bad CRC-32 in chunk %d (%.4s)", chunks, buf + pos + 4);
            return fail(path, msg);
        }
        iend = memcmp(buf + pos + 4, "IEND", 4) == 0;
        pos += 12 + (size_t)len;
        chunks++;
    }
    if (!iend || pos != n) {
        return fail(path, iend ? "bytes after IEND" : "no IEND chunk (truncated)");
    }
    printf("tool_pngcheck: %s: ok %ldx%ld, %d chunks\n", path, w, h, chunks);
    return 0;
}
