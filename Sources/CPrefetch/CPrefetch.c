// The shim is header-only (`switchboard_prefetch` is inline); a C target needs one source file.
#include "CPrefetch.h"
