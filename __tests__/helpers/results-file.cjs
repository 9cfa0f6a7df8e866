// jest testResultsProcessor: when FERRY_TEST_RESULTS names a file, writes the run's results
// there in exactly the format of `jest --json` (what scripts/reliability-report.mjs reads).
// .ci/run sets it so the README's own `npm test`, run as written, is also the run CI reports on.
const { writeFileSync } = require('node:fs');
const { formatTestResults } = require('@jest/test-result');

module.exports = function writeResultsFile(results) {
  const file = process.env.FERRY_TEST_RESULTS;
  if (file) writeFileSync(file, JSON.stringify(formatTestResults(results)));
  return results;
};
