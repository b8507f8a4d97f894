// Writes docs/ensemble.schema.json from the zod schema (test/node/tooling.test.ts checks it is current).
import { writeFileSync } from 'node:fs';
import { ensembleJsonSchema } from '../src/ensemble/json-schema';
import { stepKinds } from '../src/kinds';

writeFileSync(new URL('../docs/ensemble.schema.json', import.meta.url), JSON.stringify(ensembleJsonSchema(stepKinds), null, 2) + '\n');
console.log('wrote docs/ensemble.schema.json');
