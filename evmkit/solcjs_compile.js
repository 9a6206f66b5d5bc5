// Compile Solidity standard-JSON read from stdin with the solc-js package named in argv[2];
// print the standard-JSON output on stdout (nothing else, unlike `solcjs --standard-json`).
'use strict';
const path = require('path');
const solc = require(path.resolve(process.argv[2]));
const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  const input = Buffer.concat(chunks).toString('utf8');
  process.stdout.write(solc.compile(input));
});
