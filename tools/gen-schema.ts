// Writes docs/ensemble.schema.json from the zod schema (test/node/schema-sync.test.ts keeps it in sync).
import { writeFileSync } from 'node:fs';
import { ensembleJsonSchema } from '../src/ensemble/json-schema';

writeFileSync(new URL('../docs/ensemble.schema.json', import.meta.url), JSON.stringify(ensembleJsonSchema(), null, 2) + '\n');
console.log('wrote docs/ensemble.schema.json');
