/* capi_loop.c with every ring call going into the library (no inline calls).
 * SPDX-License-Identifier: GPL-3.0-or-later */
#define DP_BUFFER_NO_INLINE
#define CAPI_THREADS capi_threads_library
#include "capi_loop.c"
