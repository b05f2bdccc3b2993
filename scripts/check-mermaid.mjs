// Parses every ```mermaid block of a Markdown file (a job summary) with the real Mermaid
// parser, and prints each gantt's tasks as Mermaid reads them (label, crit/done/active, start,
// end). Exits 1 on a parse error. Not part of `cargo test` (it needs Node and npm):
//
//   mkdir -p /tmp/mm && (cd /tmp/mm && npm install mermaid jsdom)
//   MERMAID_DIR=/tmp/mm node scripts/check-mermaid.mjs summary.md
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const dir = process.env.MERMAID_DIR;
if (!dir || !process.argv[2]) {
  console.error('usage: MERMAID_DIR=<dir with node_modules> node check-mermaid.mjs <file.md>');
  process.exit(2);
}
const require = createRequire(pathToFileURL(`${dir}/package.json`));
const { JSDOM } = await import(pathToFileURL(require.resolve('jsdom')));
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import(pathToFileURL(require.resolve('mermaid')));
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });

const md = readFileSync(process.argv[2], 'utf8');
const blocks = [...md.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
let failed = false;
for (const text of blocks) {
  try {
    await mermaid.parse(text);
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    for (const t of diagram.db.getTasks()) {
      console.log(JSON.stringify([t.task, { crit: !!t.crit, done: !!t.done, active: !!t.active }, +t.startTime, +t.endTime]));
    }
  } catch (e) {
    failed = true;
    console.error(`parse error: ${e.message}\n${text}`);
  }
}
console.log(`${blocks.length} mermaid block(s)${failed ? ', with errors' : ', all parsed'}`);
process.exit(failed ? 1 : 0);
