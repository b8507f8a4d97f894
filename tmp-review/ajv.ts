import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { liftExpressions, restoreValue } from '../src/ensemble/lift';
const schema = JSON.parse(readFileSync('docs/ensemble.schema.json', 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
addFormats(ajv);
const validate = ajv.compile(schema);
for (const f of process.argv.slice(2)) {
  const src = readFileSync(f, 'utf8');
  let data: unknown;
  const plain = !process.env.LIFT;
  if (plain) data = parse(src); else { const l = liftExpressions(src); data = restoreValue(parse(l.text), l.restore); }
  const ok = validate(data);
  console.log(ok ? 'VALID  ' : 'INVALID', f);
  if (!ok) for (const e of validate.errors!.slice(0, 12)) console.log('   ', e.instancePath, e.keyword, e.message, JSON.stringify(e.params));
}
