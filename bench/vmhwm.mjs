// The kernel's figure for this process's peak RSS: VmHWM from /proc/self/status, in KiB
// (undefined where there is no /proc). Not resourceUsage().maxRSS: that is inherited across
// vfork+exec from the parent's address space, the bench process that may host the server.
import { readFileSync } from 'node:fs';

export function vmHwmKiB() {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
