/* Wan's prompt cleaning before the tokenizer (spec §4, HuggingfaceTokenizer(clean='whitespace')):
 * the deterministic part of ftfy.fix_text, html.unescape twice, whitespace runs to one space, stripped. */
#ifndef LAVR_MODELS_PROMPT_CLEAN_H
#define LAVR_MODELS_PROMPT_CLEAN_H

#include "core/status.h"

/* On UTF-8 text (invalid UTF-8 is a LAVR_E_ARG error); *out is malloc'd (caller frees). What of ftfy is
 * reproduced and what is not: models/prompt_clean.c. */
lavr_status lavr_text_clean(const char *text, char **out);
/* The ftfy part alone (ftfy.fix_text with its defaults, less what prompt_clean.c lists), for tests. */
lavr_status lavr_text_ftfy(const char *text, char **out);

#endif
