// Preloaded (`node --import ./bench/process-report.mjs ...`) into a process the bench starts but
// does not run itself, such as the `ferry` CLI: when the process exits it writes one JSON line to
// the file named by FERRY_BENCH_REPORT with its own peak RSS (VmHWM, the kernel's figure) and its
// CPU time (user and system, every thread). Nothing else changes in the process.
import { writeFileSync } from 'node:fs';
import { vmHwmKiB } from './vmhwm.mjs';

const reportFile = process.env.FERRY_BENCH_REPORT;
if (reportFile) {
  process.on('exit', () => {
    const kib = vmHwmKiB();
    const cpu = process.cpuUsage();
    writeFileSync(
      reportFile,
      `${JSON.stringify({
        vmHwmMiB: kib === undefined ? null : Math.round((kib / 1024) * 10) / 10,
        cpuUserSeconds: cpu.user / 1e6,
        cpuSystemSeconds: cpu.system / 1e6,
      })}\n`,
    );
  });
}
