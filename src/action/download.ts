// Entry point of download/action.yml, bundled to dist/download.js.
import { runDownload } from './run-download.js';
import { runAction } from './runtime.js';

await runAction(() => runDownload(process.env));
