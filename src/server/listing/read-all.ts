/**
 * Maps `items` through `read` with at most `concurrency` calls at once, keeping the defined
 * results: a rebuild reads thousands of small record files without opening them all at once.
 */
export async function readAll<I, O>(
  items: readonly I[],
  read: (item: I) => Promise<O | undefined>,
  concurrency = 32,
): Promise<O[]> {
  const out: O[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as I;
      const value = await read(item);
      if (value !== undefined) out.push(value);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
