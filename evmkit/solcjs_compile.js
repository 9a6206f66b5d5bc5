// A solc-js compile server. argv[2] is the solc npm package folder.
// Reads one standard-JSON input per line on stdin and writes solc's standard-JSON output as one
// line on stdout, in order (unlike `solcjs --standard-json`, which prints a banner line first).
// Loading the WebAssembly compiler takes ~0.3 s, so one process serves many compilations.
'use strict';
const path = require('path');
const readline = require('readline');
const solc = require(path.resolve(process.argv[2]));

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (!line.trim()) return;
  let output;
  try {
    output = solc.compile(line);
  } catch (err) {
    output = JSON.stringify({ errors: [{ severity: 'error', formattedMessage: String(err) }] });
  }
  process.stdout.write(output.replace(/\n/g, ' ') + '\n');
});
