// Entry point of merge/action.yml, bundled to dist/merge.js.
import { runMerge } from './run-merge.js';
import { runAction } from './runtime.js';

await runAction(() => runMerge(process.env));
