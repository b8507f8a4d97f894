import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { parseDocument } from 'yaml';
mkdirSync('tmp-review/blocks', { recursive: true });
let n = 0;
for (const f of ['README.md', ...['ensembles.md','hitl.md','approvals.md','deploy.md'].map((x) => 'docs/' + x)]) {
  const md = readFileSync(f, 'utf8');
  const re = /^```(\S*)([^\n]*)\n([\s\S]*?)^```/gm;
  let m;
  while ((m = re.exec(md))) {
    const lang = m[1], rest = m[2].trim(), body = m[3];
    if (!/^ya?ml$/.test(lang)) { if (/ya?ml/i.test(lang+rest)) console.log('ODD FENCE', f, lang, rest); continue; }
    if (rest === 'broken') continue;
    n++;
    const line = md.slice(0, m.index).split('\n').length;
    const first = body.split('\n')[0];
    const doc = parseDocument(body);
    const errs = doc.errors.map((e) => e.message.split('\n')[0]);
    const name = `tmp-review/blocks/b${n}.yaml`;
    writeFileSync(name, body);
    console.log(name, f + ':' + line, rest ? `[${rest}]` : '', first.startsWith('# yaml-language-server: $schema=../docs/ensemble.schema.json') ? 'hdr-ok' : 'NO-HEADER: ' + first, errs.length ? 'YAML-ERR ' + errs.join('; ') : '');
  }
}
