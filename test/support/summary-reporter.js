/**
 * Prints one plain closing line, `N passed, N failed` (and `, N skipped` when any),
 * as the very last line of a jest run (written at process exit, after jest's own
 * summary), so CI logs state the count in a form any tool reads.
 */
const { writeSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `${results.numPassedTests} passed, ${results.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : '');
    process.once('exit', () => writeSync(2, `\n${line}\n`));
  }
}
module.exports = SummaryReporter;
