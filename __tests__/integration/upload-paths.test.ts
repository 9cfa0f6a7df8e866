/**
 * uploadArtifact takes paths as @actions/artifact does: relative files and root resolve against
 * the working directory, the root decides the paths inside the artifact, files outside it are
 * refused. Checked against the official client's own zip specification for the same inputs.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { downloadArtifact, uploadArtifact, type FerryError } from '../../src/index.js';

/** The repository: tests run with the working directory changed to a temporary one. */
const startDir = process.cwd();

interface ZipSpecEntry {
  sourcePath: string | null;
  destinationPath: string;
}

/** The official client's mapping of files to zip paths (internal module, loaded by file path). */
async function officialSpecification(files: string[], root: string): Promise<ZipSpecEntry[]> {
  const file = path.join(
    startDir,
    'node_modules/actions-artifact-current/lib/internal/upload/upload-zip-specification.js',
  );
  const mod = (await import(file)) as {
    getUploadZipSpecification(files: string[], root: string): ZipSpecEntry[];
  };
  return mod.getUploadZipSpecification(files, root);
}

let work: string;
let store: string;

beforeEach(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-upload-paths-'));
  store = path.join(work, '.store');
  await mkdir(path.join(work, 'dist', 'css'), { recursive: true });
  await writeFile(path.join(work, 'dist', 'app.js'), 'console.log(1);\n');
  await writeFile(path.join(work, 'dist', 'css', 'app.css'), 'body{}\n');
  await writeFile(path.join(work, 'app.js'), 'not in dist\n');
  process.chdir(work);
});

afterEach(async () => {
  process.chdir(startDir);
  await rm(work, { recursive: true, force: true });
});

async function filesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

test('relative files and a relative root resolve against the working directory, as in the official client', async () => {
  const files = ['dist/app.js', 'dist/css/app.css'];
  const official = await officialSpecification(files, 'dist');
  expect(official.map((e) => e.destinationPath)).toEqual(['/app.js', '/css/app.css']);

  const result = await uploadArtifact('build', files, 'dist', { localStore: store });
  expect(result.fileCount).toBe(2);
  await downloadArtifact('build', { localStore: store, path: 'out' });
  // The same paths inside the artifact as the official client's zip (without its leading '/').
  expect(await filesIn(path.join(work, 'out'))).toEqual(official.map((e) => e.destinationPath.slice(1)));
});

test('absolute files under a relative root, and relative files under an absolute root', async () => {
  await uploadArtifact('abs-files', [path.join(work, 'dist', 'app.js')], 'dist', { localStore: store });
  await uploadArtifact('abs-root', ['dist/css/app.css'], path.join(work, 'dist'), { localStore: store });
  await downloadArtifact('abs-files', { localStore: store, path: 'one' });
  await downloadArtifact('abs-root', { localStore: store, path: 'two' });
  expect(await filesIn(path.join(work, 'one'))).toEqual(['app.js']);
  expect(await filesIn(path.join(work, 'two'))).toEqual(['css/app.css']);
});

test('a relative file is never looked up under the root: app.js is ./app.js, outside dist, and refused', async () => {
  await expect(officialSpecification(['app.js'], 'dist')).rejects.toThrow(/is not a parent directory/);
  const error = (await uploadArtifact('outside', ['app.js'], 'dist', { localStore: store }).catch(
    (e: unknown) => e,
  )) as FerryError;
  expect(error.code).toBe('ERR_FERRY_INVALID_PATH');
  expect(error.message).toContain("File 'app.js' is not inside the root directory");
  expect(error.message).toContain(path.join(work, 'dist'));
  expect(error.context).toMatchObject({ artifactName: 'outside', file: 'app.js' });
  // Refused before anything was stored.
  await expect(downloadArtifact('outside', { localStore: store, path: 'never' })).rejects.toMatchObject({
    code: 'ERR_FERRY_NOT_FOUND',
  });
});

test('a missing relative file is named as given', async () => {
  const error = (await uploadArtifact('missing', ['dist/nope.js'], 'dist', { localStore: store }).catch(
    (e: unknown) => e,
  )) as FerryError;
  expect(error.code).toBe('ERR_FERRY_INVALID_PATH');
  expect(error.message).toContain("File 'dist/nope.js' does not exist");
});
