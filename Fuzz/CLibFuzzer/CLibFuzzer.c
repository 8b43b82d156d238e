// Declarations only (libFuzzer provides the definitions); SwiftPM needs one source file per C target.
#include "CLibFuzzer.h"
