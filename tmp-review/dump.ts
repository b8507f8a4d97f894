import { readFileSync } from 'node:fs';
import { parseDocument, LineCounter } from 'yaml';
import { liftExpressions } from '../src/ensemble/lift';
const src = readFileSync(process.argv[2]!, 'utf8');
const l = liftExpressions(src);
const lc = new LineCounter();
const doc = parseDocument(l.text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
for (const e of doc.errors) console.log(e.code, JSON.stringify(lc.linePos(e.pos[0])), e.message.split('\n')[0]);
console.log(JSON.stringify(doc.toJS(), null, 1).slice(0, 1500));
