// Prints one closing line for the whole test run ("tests: N passed, N failed"), from the JSON reports that
// the unit and end-to-end Vitest runs write to test-results/. Exits non-zero if any test failed or a report is missing.
import { existsSync, readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
let missing = [];
for (const name of ['unit', 'e2e']) {
  const file = `test-results/${name}.json`;
  if (!existsSync(file)) {
    missing.push(file);
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + (report.numTodoTests ?? 0);
  console.log(`${name}: ${report.numPassedTests} passed, ${report.numFailedTests} failed`);
}
if (missing.length) console.error(`missing test reports: ${missing.join(', ')}`);
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || missing.length > 0 || passed === 0 ? 1 : 0);
