import { jest } from '@jest/globals';
import { ProgressBar, createOutput, formatDuration } from '../../src/cli/output.js';

describe('ProgressBar', () => {
  it('renders phase, bytes, percent, rate, ETA and files, redrawing in place', () => {
    let now = 0;
    const writes: string[] = [];
    const bar = new ProgressBar(
      (t) => writes.push(t),
      () => now,
    );
    const event = {
      operation: 'upload' as const,
      artifactName: 'a',
      phase: 'transfer' as const,
      bytesTotal: 4 * 1024 * 1024,
      filesTotal: 4,
    };
    bar.update({ ...event, bytesDone: 0, filesDone: 0 });
    now = 2000;
    bar.update({ ...event, bytesDone: 1024 * 1024, filesDone: 1 });
    const line = writes.at(-1) as string;
    expect(line.startsWith('\r')).toBe(true);
    expect(line).toContain('25%');
    expect(line).toContain('1.0 MiB/4.0 MiB');
    expect(line).toContain('512.0 KiB/s');
    expect(line).toContain('ETA 6s');
    expect(line).toContain('1/4 files');
    bar.finish();
    expect(writes.at(-1)).toBe('\n');
  });

  it('throttles redraws to ten a second', () => {
    let now = 0;
    const writes: string[] = [];
    const bar = new ProgressBar(
      (t) => writes.push(t),
      () => now,
    );
    const base = {
      operation: 'download' as const,
      artifactName: 'a',
      phase: 'transfer' as const,
      bytesTotal: 100,
      filesTotal: undefined,
      filesDone: 0,
    };
    for (let i = 0; i < 50; i++) {
      now += 10;
      bar.update({ ...base, bytesDone: i });
    }
    expect(writes.length).toBeLessThanOrEqual(6);
  });

  it.each([
    [5, '5s'],
    [65, '1m05s'],
    [3725, '1h02m'],
    [Number.NaN, '?'],
  ])('formats %s seconds as %s', (s, text) => {
    expect(formatDuration(s)).toBe(text);
  });
});

describe('plain progress lines (stderr is not a terminal)', () => {
  it('show percent, rate and ETA per artifact, measured from that artifact’s own start, and say "1 file"', () => {
    let now = 10_000;
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
    const lines: string[] = [];
    const write = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const out = createOutput({ json: false, verbose: false, quiet: false, tty: false });
      const base = { operation: 'download' as const, phase: 'transfer' as const, filesDone: 0 };
      out.progress({ ...base, artifactName: 'a', bytesDone: 0, bytesTotal: 1000, filesTotal: 1 });
      now += 5_000;
      // 'b' starts late: its rate must not be measured from 'a's start.
      out.progress({ ...base, artifactName: 'b', bytesDone: 0, bytesTotal: 100, filesTotal: 2 });
      now += 2_000;
      out.progress({ ...base, artifactName: 'a', bytesDone: 700, bytesTotal: 1000, filesTotal: 1 });
      now += 2_000;
      out.progress({ ...base, artifactName: 'b', bytesDone: 50, bytesTotal: 100, filesTotal: 2 });
    } finally {
      write.mockRestore();
      clock.mockRestore();
    }
    // a: 700 B in 7 s = 100 B/s, 300 B to go = 3 s.
    expect(lines[2]).toBe('download a: transfer 70% 0/1 file 700 B 100 B/s ETA 3s\n');
    // b: 50 B in 4 s = 12.5 B/s, 50 B to go = 4 s.
    expect(lines[3]).toBe('download b: transfer 50% 0/2 files 50 B 13 B/s ETA 4s\n');
  });
});
