// Loaded into the product's node process with --import: at exit, writes that process's own CPU
// time and peak RSS (not its children's) to $BENCH_NODE_USAGE_FILE, so the bench can split the
// tree's CPU between node and mysqldump.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_NODE_USAGE_FILE;
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    const cpuSeconds = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
    writeFileSync(file, JSON.stringify({ cpuSeconds, maxRssKiB: usage.maxRSS }));
  });
}
