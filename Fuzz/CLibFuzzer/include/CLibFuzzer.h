#ifndef CLIBFUZZER_H
#define CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver: runs the fuzzing loop with `callback` as the target. It exists only in binaries linked with
/// `-sanitize=fuzzer`, so only code compiled with `FUZZING` may call it.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
