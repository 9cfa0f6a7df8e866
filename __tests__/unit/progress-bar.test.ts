import { ProgressBar, formatDuration } from '../../src/cli/output.js';

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
