// Loaded into the daemon under test with NODE_OPTIONS=--import=<this file>; the soak's window on
// memory. On SIGUSR2 it collects garbage fully and writes what is still alive to
// $MBS_HEAP_PROBE_FILE as JSON. Resident memory alone cannot tell a leak from V8 warming up: the
// JIT keeps compiling for hundreds of runs and the young generation's pages become resident only
// as they are used, while a leak is what survives a full collection.
import { renameSync, writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';

const file = process.env.MBS_HEAP_PROBE_FILE;
if (file) {
  // V8 reads the flag when it makes a context, so a new one has gc() though node started without it.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  process.on('SIGUSR2', () => {
    // Twice: the first collection's finalizers can free more on the second.
    gc();
    gc();
    const codeBytes = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'code_space')?.space_used_size ?? 0;
    const { heapUsed, external } = process.memoryUsage();
    // Compiled code is the JIT's, and grows as it warms up; everything else, including the memory
    // behind Buffers (external), is the program's data.
    const retainedBytes = heapUsed - codeBytes + external;
    // Written whole, then renamed: the reader never sees half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify({ retainedBytes, codeBytes }));
    renameSync(`${file}.tmp`, file);
  });
}
