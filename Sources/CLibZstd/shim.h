#ifndef CLIBZSTD_SHIM_H
#define CLIBZSTD_SHIM_H
#include <zstd.h>
#endif
