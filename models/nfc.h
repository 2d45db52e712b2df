/* Unicode NFC (canonical decomposition, canonical ordering, canonical composition) on code points:
 * ftfy.fix_text's last step. Data: models/text_tables.c (Python's unicodedata). */
#ifndef LAVR_MODELS_NFC_H
#define LAVR_MODELS_NFC_H

#include "core/status.h"
#include "models/codepoints.h"

/* In place; the result equals Python's unicodedata.normalize("NFC", text) for its Unicode version. */
lavr_status lavr_nfc(lavr_cpbuf *text);

#endif
