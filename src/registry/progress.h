/* progress.h - per-blob transfer progress on stderr.
 *
 * On a terminal: one status line per active blob (short digest, bytes, percent, rate),
 * each cut to the terminal's width (read at every redraw, so a resize is followed) and
 * redrawn in place, and a line per finished blob with the short digest. Otherwise: only
 * the line per finished blob, with the whole digest (logs keep it). Quiet: nothing.
 * Safe to call from several threads. */
#ifndef LM_PROGRESS_H
#define LM_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

enum progress_mode { PROGRESS_QUIET, PROGRESS_LINES, PROGRESS_TTY };

struct progress;

/* f is borrowed (usually stderr); verb ("pull", "push") starts each line. */
struct progress *progress_new(FILE *f, enum progress_mode mode, const char *verb);
/* Clears the status line and frees. NULL-safe. */
void progress_free(struct progress *p);
/* Starts tracking a blob (digest borrowed for the life of p); returns its slot. */
int progress_start(struct progress *p, const char *digest, int64_t total);
/* Sets the bytes done so far (may go back to 0 after a restart). */
void progress_update(struct progress *p, int slot, uint64_t done);
/* Finishes a blob with a word ("done", "exists", "mounted", "cached"). */
void progress_end(struct progress *p, int slot, const char *what);
/* At most this many status lines; more active blobs are counted on the last one. */
#define PROGRESS_MAX_LINES 6

/* One status line into buf (cap bytes): "VERB: sha256:0123456789ab 1.2 MiB/20.4 MiB  6%
 * 3.1 MiB/s", at most width - 1 columns (the last column would wrap on some terminals),
 * never less than 20. total < 0: unknown. Returns the length. Pure. */
size_t progress_format(char *buf, size_t cap, int width, const char *verb, const char *digest, uint64_t done,
		       int64_t total, double rate);

/* Prints one line (ends the status line first) unless quiet. */
void progress_note(struct progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
