// The reference side of tests/core/text/bpe/gpt2_npm_test.cpp: encodes texts with the npm
// package gpt-3-encoder's own encoder (a port of openai/gpt-2's encoder.py).
//   node gpt2_encode.js PACKAGE_DIR TEXTS.json IDS.json
// TEXTS.json: an array of strings. IDS.json: {"ids": [[...], ...], "ms": encoding time}.
'use strict';
const fs = require('fs');
const [packageDir, input, output] = process.argv.slice(2);
const { encode } = require(packageDir);
const texts = JSON.parse(fs.readFileSync(input, 'utf8'));
const start = process.hrtime.bigint();
const ids = texts.map((text) => encode(text));
const ms = Number(process.hrtime.bigint() - start) / 1e6;
fs.writeFileSync(output, JSON.stringify({ ids, ms }));
