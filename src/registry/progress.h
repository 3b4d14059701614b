/* progress.h - per-blob transfer progress on stderr.
 *
 * On a terminal: one status line redrawn in place (each active blob with bytes and
 * rate), and a line per finished blob. Otherwise: only the line per finished blob.
 * Quiet: nothing. Safe to call from several threads. */
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
/* Prints one line (ends the status line first) unless quiet. */
void progress_note(struct progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
