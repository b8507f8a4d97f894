import { ensembleJsonSchema } from '../src/ensemble/json-schema';
import { writeFileSync } from 'node:fs';
writeFileSync('tmp-review/schema-now.json', JSON.stringify(ensembleJsonSchema(), null, 2) + '\n');
