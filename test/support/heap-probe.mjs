// Loaded into the daemon under test with NODE_OPTIONS=--import=<this file>; the soak's window on
// memory. On SIGUSR2 it collects garbage fully and writes what is still alive, and what is
// resident, to $MBS_HEAP_PROBE_FILE as JSON. Resident memory alone cannot tell a leak from V8
// warming up: the JIT keeps compiling for hundreds of runs, and the young generation's pages
// become resident only as they are used (20 -> 28 MiB of its 32 over runs 50 to 400), while a
// leak is what survives a full collection.
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
    const spaces = v8.getHeapSpaceStatistics();
    const codeBytes = spaces.find((space) => space.space_name === 'code_space')?.space_used_size ?? 0;
    const youngResidentBytes = spaces.find((space) => space.space_name === 'new_space')?.physical_space_size ?? 0;
    const { heapUsed, external, rss } = process.memoryUsage();
    // Compiled code is the JIT's, and grows as it warms up; everything else, including the memory
    // behind Buffers (external), is the program's data.
    const retainedBytes = heapUsed - codeBytes + external;
    // Written whole, then renamed: the reader never sees half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify({ retainedBytes, codeBytes, rssBytes: rss, youngResidentBytes }));
    renameSync(`${file}.tmp`, file);
  });
}
