import type { ArtifactInfo } from './backend.js';

/** Keeps the newest (highest id) artifact of each name: re-runs leave several of one name. */
export function latestPerName(artifacts: ArtifactInfo[]): ArtifactInfo[] {
  const byName = new Map<string, ArtifactInfo>();
  for (const a of artifacts) {
    const current = byName.get(a.name);
    if (!current || (a.id ?? 0) > (current.id ?? 0)) byName.set(a.name, a);
  }
  return [...byName.values()];
}
