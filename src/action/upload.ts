// Entry point of action.yml (upload), bundled to dist/upload.js.
import { runUpload } from './run-upload.js';
import { runAction } from './runtime.js';

await runAction(() => runUpload(process.env));
